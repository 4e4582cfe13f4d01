"""Messages: durable inboxes, acknowledgement and redelivery, replies — across dialects."""
import time

import pytest

from tests.conftest import ADMIN_TOKEN


@pytest.fixture
def fast_redelivery(settings_env):
    settings_env(SWITCHBOARD_VISIBILITY_TIMEOUT="0.3", SWITCHBOARD_EVENT_SETTLE_MS="0")


def receive(sky, node, **extra):
    response = sky.post("/api/v1/message/receive", {"node_id": node, **extra})
    assert response.status_code == 200, response.json
    return response.json["messages"]


def test_a_message_that_asks_for_an_ack_comes_back_until_acknowledged(sky, fast_redelivery):
    sent = sky.post("/api/v1/message/send", {"from_node": "lucas", "to_node": "kai",
                                             "content": "status?", "require_ack": True})
    assert sent.status_code == 200 and sent.json["transport"] == "dynamodb"
    message_id = sent.json["message_id"]

    first = receive(sky, "kai")
    assert [(m["id"], m["from_node"], m["content"], m["delivery_count"]) for m in first] == [
        (message_id, "lucas", "status?", 1)]
    assert receive(sky, "kai") == [], "invisible while the receiver may still ack"
    time.sleep(0.35)
    again = receive(sky, "kai")
    assert [(m["id"], m["delivery_count"]) for m in again] == [(message_id, 2)]

    assert sky.post("/api/v1/message/ack", {"node_id": "kai", "message_id": message_id}).json == {
        "success": True, "already_acked": False}
    assert sky.post("/api/v1/message/ack", {"node_id": "kai", "message_id": message_id}).json == {
        "success": True, "already_acked": True}, "acknowledging twice is fine"
    time.sleep(0.35)
    assert receive(sky, "kai") == []
    wrong = sky.post("/api/v1/message/ack", {"node_id": "ana", "message_id": message_id})
    assert wrong.status_code == 404 and wrong.json["success"] is False


def test_plain_messages_are_delivered_once_oldest_first_and_kept_in_history(sky):
    for i in range(5):
        sky.post("/api/v1/message/send", {"from_node": "a", "to_node": "b", "content": f"m{i}"})
    assert [m["content"] for m in receive(sky, "b", count=3)] == ["m0", "m1", "m2"]
    assert [m["content"] for m in receive(sky, "b", count=10)] == ["m3", "m4"]
    assert receive(sky, "b") == []
    history = sky.get("/api/v1/message/history?node_id=b&count=3").json
    assert [m["content"] for m in history["messages"]] == ["m4", "m3", "m2"]
    older = sky.get(f"/api/v1/message/history?node_id=b&count=3&cursor={history['next_cursor']}")
    assert [m["content"] for m in older.json["messages"]] == ["m1", "m0"]


def test_broadcast_reaches_every_node_once_and_names_them(sky):
    for node in ("n1", "n2", "n3"):
        sky.post("/api/v1/node/register", {"node_id": node, "name": node})
    sent = sky.post("/api/v1/message/broadcast", {"from_node": "n1", "content": "all hands"}).json
    assert sent["success"] is True and sent["receivers"] == ["n2", "n3"]
    for node in ("n2", "n3"):
        assert [m["content"] for m in receive(sky, node)] == ["all hands"]
        assert receive(sky, node) == []
    assert receive(sky, "n1") == [], "the sender does not hear itself"


def test_a_message_entering_through_one_dialect_is_seen_through_the_others(api, sky, admin,
                                                                         settings_env):
    settings_env(SWITCHBOARD_OPEN_DIALECTS="hub2d")
    hub2d = api.post("/v1/send", {"room_id": "general", "from": "serina", "to": "roland",
                                  "content": "hello roland"})
    assert hub2d.status_code == 200 and hub2d.json["ok"] is True
    assert hub2d.json["event_id"].split("-")[0].isdigit() and hub2d.json["msg_id"]

    platform = admin.post("/api/v1/messages/send", {"sender_agent_id": "cortana",
                                                    "recipient_agent_id": "roland",
                                                    "channel": "ops", "body": "from the platform"})
    assert platform.status_code == 201

    assert [m["content"] for m in receive(sky, "roland")] == ["hello roland", "from the platform"]
    commhub = admin.get("/api/messages?alias=roland").json["messages"]
    assert [m["content"] for m in commhub] == ["from the platform", "hello roland"]
    listed = admin.get("/api/v1/messages?channel=ops").json
    assert [m["body"] for m in listed] == ["from the platform"]
    read = admin.patch(f"/api/v1/messages/{listed[0]['id']}/read").json
    assert read["is_read"] is True


def test_a_retried_send_is_not_a_second_message(sky):
    body = {"from_node": "a", "to_node": "b", "content": "once"}
    first = sky.post("/api/v1/message/send", body, headers={"Idempotency-Key": "send-1"}).json
    again = sky.post("/api/v1/message/send", body, headers={"Idempotency-Key": "send-1"}).json
    assert first["message_id"] == again["message_id"]
    assert len(receive(sky, "b")) == 1


def test_bad_messages_are_refused_in_each_dialects_shape(api, sky, settings_env):
    settings_env(SWITCHBOARD_OPEN_DIALECTS="hub2d")
    missing = sky.post("/api/v1/message/send", {"from_node": "a", "content": "x"})
    assert missing.status_code == 400 and missing.json == {"success": False,
                                                           "error": "'to_node' is required"}
    hub2d = api.post("/v1/send", {"from": "a", "to": "b"})
    assert hub2d.status_code == 400 and hub2d.json == {"error": "'content' is required"}
    bad_flag = sky.post("/api/v1/message/send", {"from_node": "a", "to_node": "b",
                                                 "content": "x", "require_ack": "maybe"})
    assert bad_flag.status_code == 400
    too_many = sky.post("/api/v1/message/receive", {"node_id": "b", "count": 1000})
    assert too_many.status_code == 400
    assert receive(sky, "b") == [], "nothing half-sent"


def test_replies_record_latency_status_and_truncation(api, settings_env):
    settings_env(SWITCHBOARD_OPEN_DIALECTS="hub2d")
    event_id = api.post("/v1/send", {"from": "serina", "to": "roland",
                                     "content": "long question"}).json["event_id"]
    time.sleep(0.05)
    posted = api.post("/v1/replies", {"event_id": event_id, "text": "short answer", "status": "ok",
                                      "truncated": True, "orig_len": 9000})
    assert posted.status_code == 200 and posted.json["ok"] is True
    api.post("/v1/replies", {"event_id": event_id, "text": "[ERROR] gateway_timeout (60s)",
                             "status": "error", "error": "gateway_timeout", "truncated": 0})
    replies = api.get(f"/v1/admin/replies?event_id={event_id}").json["replies"]
    assert [(r["status"], r["truncated"], r["orig_len"], r["error"]) for r in replies] == [
        ("ok", 1, 9000, None), ("error", 0, None, "gateway_timeout")]
    assert all(r["latency_ms"] >= 50 and r["event_id"] == event_id for r in replies)
    assert set(replies[0]) >= {"reply_id", "room_id", "text", "ts_ms", "created_at"}
    assert api.get("/v1/admin/replies?event_id=1771683702115-xh5vuj").json == {"replies": []}
    unknown = api.post("/v1/replies", {"event_id": "1771683534560-0", "text": "x", "status": "ok"})
    assert unknown.status_code == 404 and "error" in unknown.json
    wrong = api.post("/v1/replies", {"event_id": event_id, "text": "x", "status": "fine"})
    assert wrong.status_code == 400


def test_message_routes_need_credentials_unless_their_dialect_is_open(api):
    assert api.post("/v1/send", {"from": "a", "to": "b", "content": "x"}).status_code == 401
    assert api.get("/api/messages").status_code == 401
    assert api.bearer(ADMIN_TOKEN).get("/api/messages").status_code == 200
