"""Idempotency keys belong to the principal that sent them, for every create in every
dialect: a retry returns the first result, the same key with another request is 409 and
writes nothing, and another client's identical key is another create."""
import boto3
import pytest
from urllib3 import encode_multipart_formdata

from chalicelib.config import settings
from chalicelib.errors import Conflict


def api_key(admin, name):
    created = admin.post("/api/v1/security/api-keys", {"name": name})
    assert created.status_code == 201, created.json
    return created.json["key"]


def clients(api, admin):
    return api.bearer(api_key(admin, "alice")), api.bearer(api_key(admin, "bob"))


def keyed(key):
    return {"Idempotency-Key": key}


def test_task_keys_are_per_principal(api, admin):
    alice, bob = clients(api, admin)
    mine = alice.post("/api/v1/tasks", {"title": "alice's"}, headers=keyed("order-1"))
    theirs = bob.post("/api/v1/tasks", {"title": "bob's"}, headers=keyed("order-1"))
    assert mine.status_code == theirs.status_code == 201, "a colliding key blocks nobody"
    assert mine.json["id"] != theirs.json["id"] and theirs.json["title"] == "bob's"

    again = bob.post("/api/v1/tasks", {"title": "bob's"}, headers=keyed("order-1"))
    assert again.status_code == 200 and again.json["id"] == theirs.json["id"]
    other = alice.post("/api/v1/tasks", {"title": "something else"}, headers=keyed("order-1"))
    assert other.status_code == 409
    sky = api.as_(**{"X-Matrix-Secret": "test-shared-secret"})
    via_sky = sky.post("/api/v1/task/create", {"title": "alice's", "description": "d",
                                              "idempotency_key": "order-1"})
    assert via_sky.json["task_id"] not in (mine.json["id"], theirs.json["id"]), \
        "the shared secret is a principal of its own"
    assert sorted(t["title"] for t in admin.get("/api/v1/tasks").json) == [
        "alice's", "alice's", "bob's"]


def test_message_keys_are_per_principal(api, admin):
    alice, bob = clients(api, admin)

    def send(client, body, key="m-1"):
        return client.post("/api/v1/messages/send", {"sender_agent_id": "a",
                                                     "recipient_agent_id": "b", "body": body},
                           headers=keyed(key))
    first, second = send(alice, "from alice"), send(bob, "from bob")
    assert first.status_code == second.status_code == 201
    assert first.json["id"] != second.json["id"] and second.json["body"] == "from bob"
    retried = send(alice, "from alice")
    assert retried.status_code == 200 and retried.json["id"] == first.json["id"]
    assert send(alice, "changed my mind").status_code == 409
    inbox = admin.get("/api/v1/messages?agent_id=b").json
    assert sorted(m["body"] for m in inbox) == ["from alice", "from bob"]


def test_broadcast_keys_are_per_principal_in_skycetus_and_hub2d(api, admin, settings_env):
    settings_env(SWITCHBOARD_OPEN_DIALECTS="hub2d")
    alice, bob = clients(api, admin)
    for node_id in ("a", "b", "c"):
        admin.post("/api/v1/node/register", {"node_id": node_id, "name": node_id})

    def broadcast(client, content, key="b-1"):
        return client.post("/api/v1/message/broadcast", {"from_node": "a", "content": content},
                           headers=keyed(key))
    first, second = broadcast(alice, "from alice"), broadcast(bob, "from bob")
    assert first.status_code == second.status_code == 200
    assert first.json["event_id"] != second.json["event_id"], "another client's key is its own"
    retried = broadcast(alice, "from alice")
    assert retried.json == first.json and retried.json["receivers"] == ["b", "c"]
    assert broadcast(alice, "changed my mind").status_code == 409

    def room(content, key="room-1"):
        return api.post("/v1/send", {"from": "a", "content": content}, headers=keyed(key))
    sent = room("to the room")
    assert room("to the room").json == sent.json, "a retried Hub2d broadcast is the first one"
    assert room("something else").status_code == 409
    assert room("something else", key="room-2").status_code == 200

    received = admin.post("/api/v1/message/receive", {"node_id": "b", "count": 10}).json
    assert sorted(m["content"] for m in received["messages"]) == [
        "from alice", "from bob", "something else", "to the room"], "each broadcast once"


def test_commhub_agents_keys_are_per_principal_for_messages_and_tasks(api, admin):
    from chalicelib.api.commhub import mcp_tools
    from chalicelib.auth.principal import Principal
    alice, bob = (Principal(network_id="net_default", kind="api_key", account_id=f"acct-{who}")
                  for who in ("alice", "bob"))

    def message(principal, content, key="c-1"):
        return mcp_tools.send_message(principal, mcp_tools.NewMessage(
            alias="a", to="b", content=content, idempotency_key=key))["message_id"]

    def task(principal, content, key="t-1"):
        return mcp_tools.send_task(principal, mcp_tools.NewTask(
            alias="a", to="b", content=content, idempotency_key=key))["task_id"]
    for create in (message, task):
        first, other = create(alice, "from alice"), create(bob, "from bob")
        assert first != other and create(alice, "from alice") == first
        with pytest.raises(Conflict):
            create(alice, "changed my mind")
    inbox = [m["content"] for m in admin.get("/api/messages?alias=b").json["messages"]]
    assert sorted(inbox) == ["from alice", "from bob"]


def test_upload_keys_are_per_principal_and_a_refused_retry_stores_nothing(api, admin):
    alice, bob = clients(api, admin)

    def upload(client, data, key="f-1"):
        body, content_type = encode_multipart_formdata({"file": ("a.txt", data, "text/plain")})
        return client.post("/api/v1/files/upload", raw=body,
                           headers={"Content-Type": content_type, **keyed(key)})
    first, second = upload(alice, b"alice"), upload(bob, b"bob")
    assert first.status_code == second.status_code == 201
    assert first.json["id"] != second.json["id"]
    assert upload(alice, b"alice").json["id"] == first.json["id"]
    assert upload(alice, b"other bytes").status_code == 409
    objects = boto3.client("s3").list_objects_v2(Bucket=settings().files_bucket)
    assert len(objects.get("Contents", [])) == 2, "retries and refusals left no bytes behind"

    started = alice.post("/api/v1/files/upload-url", {"filename": "big.bin", "size": 10},
                         headers=keyed("big-1"))
    retried = alice.post("/api/v1/files/upload-url", {"filename": "big.bin", "size": 10},
                         headers=keyed("big-1"))
    assert started.status_code == retried.status_code == 201
    assert retried.json["file_id"] == started.json["file_id"], "the same pending upload"
