"""The store's last line of defence: a write DynamoDB would refuse is refused before it is
sent, with 413 (too large) or 422 (a key too long, text that is not text) naming the field,
and nothing is half-written."""
import json

import pytest

from chalicelib.errors import PayloadTooLarge, ValidationFailed
from chalicelib.store.base import transaction
from chalicelib.store.messages import MessageRecord as M
from chalicelib.store.tasks import TaskRecord as T

EMOJI = "\U0001F600"  # four bytes in UTF-8: 64 Ki of them pass a 65,536-character limit


def test_a_task_within_every_field_limit_but_over_400_kb_is_a_413_and_stores_nothing(admin):
    body = {"title": "big", "description": EMOJI * 65_536, "instructions": EMOJI * 65_536}
    response = admin.post("/api/v1/tasks", raw=json.dumps(body, ensure_ascii=False).encode(),
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.body[:300]
    assert "400 KB" in response.json["detail"] and "'payload'" in response.json["detail"]
    assert admin.get("/api/v1/tasks").json == []
    assert admin.get("/api/v1/tasks/stats").json["total"] == 0


def test_keys_over_dynamodbs_limits_are_refused_naming_the_key(aws):
    with pytest.raises(ValidationFailed) as sort_key:
        T("NET#a", "TASK#" + "k" * 1100, title="t").save()
    assert sort_key.value.field == "sk" and "1024 bytes" in sort_key.value.message
    with pytest.raises(ValidationFailed) as partition_key:
        T("NET#" + "n" * 2100, "TASK#1").delete()
    assert partition_key.value.field == "pk"
    with pytest.raises(ValidationFailed) as index_key:  # a GSI's keys have the same limits
        M("NET#a", "MSG#1", to_key="NET#a#" + "r" * 2100, msg_id="1").save()
    assert index_key.value.field == "to_key"


def test_transactions_and_updates_are_held_to_the_same_limits(aws):
    with pytest.raises(PayloadTooLarge) as too_large:
        with transaction() as tx:
            tx.save(T("NET#a", "TASK#1", title="t"))
            tx.save(T("NET#a", "TASK#2", title="t", description="d" * 410_000))
    assert too_large.value.details["field"] == "description"
    assert list(T.query("NET#a")) == [], "a refused transaction writes nothing"

    T("NET#a", "TASK#3", title="t", description="d" * 300_000).save()
    task = T.get("NET#a", "TASK#3")
    with pytest.raises(PayloadTooLarge):
        task.update(actions=[T.error.set("e" * 200_000)])
    task.update(actions=[T.description.set("short"), T.error.set("e" * 200_000)])
    assert T.get("NET#a", "TASK#3").description == "short"


def test_text_that_is_not_text_never_reaches_dynamodb(aws):
    with pytest.raises(ValidationFailed) as number:
        T("NET#a", "TASK#1", title=12345).save()
    assert number.value.field == "title"
    with pytest.raises(ValidationFailed) as surrogate:
        T("NET#a", "TASK#1", title="lone \ud800 surrogate").save()
    assert surrogate.value.field == "title" and "Unicode" in surrogate.value.message
