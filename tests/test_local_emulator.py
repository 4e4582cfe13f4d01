"""The local stack's DynamoDB answers as moto (and DynamoDB) would, only faster, and its
journal gives back exactly the acknowledged state.

- Queries through the sorted key indexes return the same items, in the same order, as
  moto's own Query, for any mix of writes, key conditions, directions, limits, start keys,
  filters and secondary indexes.
- A journal replayed into a fresh emulator reproduces the tables; a torn last record is
  ignored and counted.
"""
from __future__ import annotations

import json

import boto3
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from moto.dynamodb.models import dynamodb_backends

from infra.local import key_index
from infra.local.journal import Journal, encode, read_segment

TABLE = "emulator-check"
PARTITIONS = ["p0", "p1", "p2"]
SORT_KEYS = [f"k{n:02d}" for n in range(12)] + ["k1", "k10x", "l", "\u00e9t\u00e9"]
GROUPS = ["g0", "g1"]


def _create(client):
    client.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in
                              (("pk", "S"), ("sk", "S"), ("grp", "S"), ("rank", "N"))],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {"IndexName": "by_group", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "grp", "KeyType": "HASH"},
                           {"AttributeName": "rank", "KeyType": "RANGE"}]},
            {"IndexName": "group_only", "Projection": {"ProjectionType": "KEYS_ONLY"},
             "KeySchema": [{"AttributeName": "grp", "KeyType": "HASH"}]}])


writes = st.lists(st.tuples(
    st.sampled_from(["put", "update", "delete"]), st.sampled_from(PARTITIONS),
    st.sampled_from(SORT_KEYS), st.sampled_from(GROUPS + [None]), st.integers(-3, 3)),
    min_size=1, max_size=40)

queries = st.tuples(
    st.sampled_from(["table", "by_group", "group_only"]),
    st.sampled_from([None, "=", "<", "<=", ">", ">=", "between", "begins_with"]),
    st.sampled_from(SORT_KEYS + ["k", "k0"]), st.integers(-3, 3),
    st.booleans(), st.sampled_from([None, 1, 2, 3, 7]), st.booleans())


def _apply(client, operations):
    for kind, pk, sk, group, rank in operations:
        key = {"pk": {"S": pk}, "sk": {"S": sk}}
        if kind == "put":
            item = {**key, "n": {"N": str(rank)}}
            if group:
                item.update(grp={"S": group}, rank={"N": str(rank)})
            client.put_item(TableName=TABLE, Item=item)
        elif kind == "update":
            if group:
                client.update_item(TableName=TABLE, Key=key,
                                   UpdateExpression="SET grp = :g, #r = :r",
                                   ExpressionAttributeNames={"#r": "rank"},
                                   ExpressionAttributeValues={":g": {"S": group},
                                                              ":r": {"N": str(rank)}})
            else:
                client.update_item(TableName=TABLE, Key=key, UpdateExpression="REMOVE grp")
        else:
            client.delete_item(TableName=TABLE, Key=key)


def _request(query):
    index, comparison, sort_value, rank, forward, limit, filtered = query
    names, values = {"#h": "pk"}, {":h": {"S": PARTITIONS[rank % 3]}}
    request = {"TableName": TABLE, "ScanIndexForward": forward}
    if index != "table":
        request["IndexName"] = index
        names["#h"], values[":h"] = "grp", {"S": GROUPS[rank % 2]}
    condition = "#h = :h"
    if comparison and index != "group_only":
        if index == "by_group":
            names["#s"], low, high = "rank", {"N": str(rank)}, {"N": str(rank + 2)}
        else:
            names["#s"], low, high = "sk", {"S": sort_value}, {"S": sort_value + "z"}
        values[":a"] = low
        if comparison == "between":
            values[":b"] = high
            condition += " AND #s BETWEEN :a AND :b"
        elif comparison == "begins_with":
            if index == "by_group":  # begins_with is for strings and binary only
                comparison = "="
                condition += " AND #s = :a"
            else:
                condition += " AND begins_with(#s, :a)"
        else:
            condition += f" AND #s {comparison} :a"
    request.update(KeyConditionExpression=condition, ExpressionAttributeNames=names,
                   ExpressionAttributeValues=values)
    if limit:
        request["Limit"] = limit
    if filtered:
        request["FilterExpression"] = "attribute_exists(n)"
    return request


def _all_pages(client, request):
    items, start = [], None
    for _ in range(100):
        response = client.query(**request, **({"ExclusiveStartKey": start} if start else {}))
        items += response["Items"]
        start = response.get("LastEvaluatedKey")
        if not start:
            return items
    raise AssertionError("pagination did not end")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                         HealthCheck.function_scoped_fixture])
@given(operations=writes, checks=st.lists(queries, min_size=1, max_size=6))
def test_indexed_queries_return_what_moto_returns(aws, operations, checks):
    client = boto3.client("dynamodb")
    if TABLE not in client.list_tables()["TableNames"]:
        _create(client)
    else:
        for item in client.scan(TableName=TABLE)["Items"]:
            client.delete_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]})
    _apply(client, operations)
    for query in checks:
        request = _request(query)
        indexed = _all_pages(client, request)
        key_index.Table.query = key_index._moto_query
        try:
            expected = _all_pages(client, request)
        finally:
            key_index.Table.query = key_index.indexed_query
        if request.get("IndexName") == "group_only":
            # Items sharing an index partition with no sort key come in no defined order.
            indexed, expected = (sorted(items, key=json.dumps) for items in (indexed, expected))
        assert indexed == expected, request


def test_a_query_reads_only_what_it_returns(aws):
    """Listing the newest page of a 5,000-item partition evaluates one page of items."""
    client = boto3.client("dynamodb")
    _create(client)
    for start in range(0, 5000, 25):
        client.batch_write_item(RequestItems={TABLE: [
            {"PutRequest": {"Item": {"pk": {"S": "big"}, "sk": {"S": f"{n:05d}"}}}}
            for n in range(start, start + 25)]})
    response = client.query(TableName=TABLE, KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "big"}},
                            ScanIndexForward=False, Limit=50)
    assert response["ScannedCount"] == 50
    assert [i["sk"]["S"] for i in response["Items"]][:2] == ["04999", "04998"]
    assert response["LastEvaluatedKey"] == {"pk": {"S": "big"}, "sk": {"S": "04950"}}


# --------------------------------------------------------------------------- journal


def test_a_journal_replays_into_the_same_tables(aws, tmp_path):
    """Every acknowledged write is a record of after-images; replaying them into an empty
    emulator gives back the same items."""
    from infra.local.dynamodb import LocalDynamoDB
    engine = LocalDynamoDB("us-east-1", journal=Journal(tmp_path, 1, "off"))
    client = boto3.client("dynamodb")
    _create(client)
    request = {"TableName": TABLE, "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}, "v": {"N": "1"}}}
    body = json.dumps(request)
    engine.execute("PutItem", request, body, engine.headers_for("PutItem"))
    update = {"TableName": TABLE, "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
              "UpdateExpression": "ADD v :one", "ExpressionAttributeValues": {":one": {"N": "4"}}}
    engine.execute("UpdateItem", update, json.dumps(update), engine.headers_for("UpdateItem"))
    failed = {**update, "ConditionExpression": "attribute_not_exists(pk)"}
    status, _, _ = engine.execute("UpdateItem", failed, json.dumps(failed),
                                  engine.headers_for("UpdateItem"))
    assert status == 400
    engine.journal.close()

    records, ignored, _ = read_segment(tmp_path / "00000001.log")
    assert ignored == 0 and len(records) == 2  # the refused write left no record
    backend = dynamodb_backends["123456789012"]["us-east-1"]
    backend.get_table(TABLE).items.clear()
    backend.get_table(TABLE)._switchboard_keys = None
    for record in records:
        engine.apply_items(record["d"])
    item = client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"S": "1"}})["Item"]
    assert item["v"] == {"N": "5"}


@pytest.mark.parametrize("tail", [b"0000002a 1234", b"garbage\n", encode({"d": []})[:-5]])
def test_a_torn_last_record_is_ignored_and_counted(tmp_path, tail):
    path = tmp_path / "00000001.log"
    path.write_bytes(encode({"d": [["t", {"pk": {"S": "1"}}, None]]}) + encode({"d": []}) + tail)
    records, ignored, valid = read_segment(path)
    assert len(records) == 2 and ignored == 1
    assert valid == len(encode({"d": [["t", {"pk": {"S": "1"}}, None]]}) + encode({"d": []}))


def test_concurrent_writers_share_flushes(tmp_path):
    """Group commit: every writer returns only once its record is in the file, and many
    writers share a write."""
    import threading
    journal = Journal(tmp_path, 1, "always")
    flushes = []
    original = journal._write
    journal._write = lambda batch: (flushes.append(len(batch)), original(batch))

    def writer(n):
        for i in range(50):
            journal.wait(journal.append({"d": [["t", {"n": n, "i": i}, None]]}))
            size = (tmp_path / "00000001.log").stat().st_size
            assert size > 0
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close()
    records, ignored, _ = read_segment(tmp_path / "00000001.log")
    assert len(records) == 400 and ignored == 0
    assert sum(flushes) == 400 and len(flushes) < 400
