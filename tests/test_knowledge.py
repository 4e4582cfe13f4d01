"""Knowledge search reads an index kept on write, ranked, filtered and network-scoped."""
import pytest

from chalicelib.errors import NotFound, PayloadTooLarge, ValidationFailed
from chalicelib.services.orchestration import knowledge

NET = "net_a"


def add(title, content, category="general", tags=(), network=NET):
    return knowledge.create(network, {"title": title, "content": content, "category": category,
                                      "tags": list(tags)}, created_by="user:1")


def test_search_ranks_by_matched_words_and_reads_only_their_postings(aws):
    dynamo = add("DynamoDB single-table design", "Partition keys and sort keys.", "databases",
                 tags=["aws"])
    both = add("Keys", "DynamoDB partition keys spread load; hot partitions throttle.",
               "databases")
    lambda_ = add("Lambda cold starts", "Import less at module level.", "serverless",
                  tags=["aws"])
    add("Unrelated", "Gardening notes about tomatoes.", "garden")
    add("DynamoDB elsewhere", "partition", network="net_b")

    found = knowledge.search(NET, "dynamodb partition")
    assert [e.id for e in found.items][:2] == [dynamo.id, both.id]  # title weighs more
    assert found.total == 2
    assert found.items_read == 2 + 2 + 2  # two postings per word, then the two entries
    assert [e.id for e in knowledge.search(NET, "AWS", category="serverless").items] == \
        [lambda_.id]
    assert knowledge.search(NET, "the and of").total == 0  # stop words only

    knowledge.delete(NET, dynamo.id)
    assert [e.id for e in knowledge.search(NET, "dynamodb").items] == [both.id]
    with pytest.raises(NotFound):
        knowledge.get(NET, dynamo.id)
    assert knowledge.list_entries(NET, category="databases").total == 1
    with pytest.raises(PayloadTooLarge):
        add("big", "x" * (knowledge.MAX_CONTENT_BYTES + 1))
    with pytest.raises(ValidationFailed):
        add("", "no title")
