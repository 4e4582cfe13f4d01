"""The typed request layer: what each route accepts, the coercions we document, and how a
refusal looks. (The hostile sweep is tests/test_input_sweep.py.)"""
import pytest
from jsonschema import Draft202012Validator

from chalicelib.api.inputs import json_schema
from chalicelib.api.routing import ROUTES
from chalicelib.clock import parse_time


def test_a_missing_field_gets_the_platforms_envelope_and_fastapis_in_one_body(api):
    refused = api.post("/api/v1/auth/login", {"email": "someone@example.test"})
    assert refused.status_code == 422
    assert refused.json == {
        "error_code": "VAL_001", "error_name": "VALIDATION_ERROR",
        "message": "Request validation failed",
        "details": {"errors": [{"field": "body -> password", "message": "Field required",
                                "type": "missing"}]},
        "detail": [{"loc": ["body", "password"], "msg": "Field required", "type": "missing"}]}
    gemmanet = api.bearer("ntok_x").post("/api/v1/request", {"content": "hi"})
    assert gemmanet.status_code == 401, "credentials are checked before the body"
    not_an_object = api.post("/api/v1/auth/login", [1, 2])
    assert not_an_object.status_code == 422
    assert [(d["loc"], d["type"]) for d in not_an_object.json["detail"]] == [(["body"], "dict_type")]


def test_numbers_and_booleans_may_come_as_strings_and_fields_in_body_or_query(sky, admin):
    assert sky.post("/api/v1/node/register", {"node_id": "n1", "name": "one",
                                              "max_concurrent": "3"}).json["success"] is True
    received = sky.post("/api/v1/message/receive", {"node_id": "n1", "count": "5",
                                                    "blocking": "false"})
    assert received.status_code == 200 and received.json["count"] == 0
    assert sky.post("/api/v1/message/receive?node_id=n1&count=2").status_code == 200, \
        "a POST's fields may come in the query string"
    body_wins = sky.post("/api/v1/message/receive?count=500", {"node_id": "n1", "count": 2})
    assert body_wins.status_code == 200
    assert admin.get("/api/v1/tasks?limit=2&offset=").status_code == 200, "empty means absent"
    refused = admin.get("/api/v1/tasks?limit=0")
    assert refused.status_code == 422 and refused.json["detail"][0]["loc"] == ["query", "limit"]
    assert refused.json["detail"][0]["type"] == "greater_than_equal"
    never_text = sky.post("/api/v1/node/register", {"node_id": 7, "name": "seven"})
    assert never_text.status_code == 400
    assert never_text.json == {"success": False, "error": "'node_id': Input should be a valid string"}
    ignored = sky.post("/api/v1/node/register", {"node_id": "n2", "name": "two", "colour": "red"})
    assert ignored.json["success"] is True, "unknown fields are ignored"


def test_timestamps_are_iso_or_epoch_within_1970_to_9999(admin):
    for deadline in ("2030-01-02T03:04:05Z", "2030-01-02 03:04:05", 1893553445, 1893553445000,
                     "1893553445"):
        created = admin.post("/api/v1/tasks", {"title": "dated", "deadline": deadline})
        assert created.status_code == 201, (deadline, created.json)
        assert created.json["deadline"] == "2030-01-02T03:04:05Z", deadline
    for deadline in ("1969-12-31T23:59:59Z", -1, 10 ** 22, "10000-01-01", "soon", True):
        refused = admin.post("/api/v1/tasks", {"title": "dated", "deadline": deadline})
        assert refused.status_code == 422, deadline
        assert refused.json["detail"][0]["loc"] == ["body", "deadline"]
    assert parse_time("9999-12-31T23:59:59.999Z") == 253402300799999
    for unreadable in (float("inf"), float("nan"), 10 ** 400, "0001-01-01"):
        with pytest.raises(ValueError):
            parse_time(unreadable)


def test_enums_name_their_values_and_single_message_dialects_name_the_field(api, settings_env):
    settings_env(SWITCHBOARD_OPEN_DIALECTS="hub2d")
    refused = api.post("/v1/replies", {"event_id": "1-a", "text": "t", "status": "maybe"})
    assert refused.status_code == 400
    assert refused.json == {"error": "'status': Input should be an allowed value: one of 'error', "
                                     "'ok' (got 'maybe')"}
    missing = api.post("/api/auth/login", {"password": "x"})
    assert missing.json == {"error": "validation_error", "message": "'username' is required"}


def test_every_declared_input_model_is_a_valid_json_schema():
    described = 0
    for spec in ROUTES:
        for model in (spec.body, spec.query):
            if model is not None:
                Draft202012Validator.check_schema(json_schema(model))
                described += 1
    assert described > 50
    deadline = json_schema(next(s.body for s in ROUTES if s.path == "/api/v1/tasks"
                                and s.method == "POST"))["$defs"]["NewTask"]["properties"]["deadline"]
    assert {"type": "string", "format": "date-time"} in deadline["anyOf"][0]["anyOf"], deadline


def test_values_stored_before_inputs_were_typed_are_answered_in_their_documented_type(admin):
    from chalicelib.clock import now_ms
    from chalicelib.store.nodes import NodeRecord
    from chalicelib.store.tasks import TaskRecord
    stamp = now_ms()
    NodeRecord("NET#net_default", "NODE#old", node_id="old", network_id="net_default", name="old",
               kind="platform", last_heartbeat=stamp, registered_at=stamp,
               metadata={"cpu_cores": "NaN", "memory_total_mb": "2048", "hostname": 12345,
                         "cpu_usage_percent": "12.5", "os_info": {"a": 1}}).save()
    TaskRecord("NET#net_default", "TASK#task-old", task_id="task-old", title="old",
               status="pending", payload={"instructions": 12345}, created_at=stamp,
               deadline=10 ** 22).save()
    worker = next(w for w in admin.get("/api/v1/admin/workers").json if w["id"] == "old")
    assert (worker["cpu_cores"], worker["memory_total_mb"], worker["hostname"],
            worker["cpu_usage_percent"], worker["os_info"]) == (None, 2048, "12345", 12.5, None)
    task = admin.get("/api/v1/tasks/task-old").json
    assert task["instructions"] == "12345" and task["deadline"] is None


def test_a_webhook_triggers_free_form_payload_is_held_to_the_same_rules(admin, api):
    """The public trigger endpoint takes whatever object the sender posts: still well-formed
    Unicode, finite numbers, 16 levels and 64 KiB at most, or a 422 and nothing fired."""
    made = admin.post("/api/v1/triggers", {
        "name": "hook", "trigger_type": "webhook", "action_type": "send_message",
        "action_config": {"to": "w9", "content": "ping"}}).json
    fire = f"/api/v1/triggers/{made['id']}/fire"
    hook = {"X-Trigger-Token": made["webhook_token"]}
    for raw in (b'{"commit": "lone \\ud800 surrogate"}', b'{"ratio": NaN}',
                b'{"a": ' * 40 + b"1" + b"}" * 40, b'{"log": "' + b"x" * 70_000 + b'"}'):
        refused = api.call("POST", fire, raw=raw, headers=hook)
        assert refused.status_code == 422, (raw[:40], refused.json)
        assert refused.json["details"]["errors"][0]["field"].startswith("body")
    assert admin.get(f"/api/v1/triggers/{made['id']}/history").json["total"] == 0
    fired = api.call("POST", fire, raw=b'{"build": 7}', headers=hook)
    assert fired.status_code == 202 and fired.json["event_data"] == {"build": 7}


def test_a_refusal_listing_many_wrong_fields_stays_small(admin):
    """Each wrong field is named, up to a few kilobytes: the rest are counted, never echoed
    (hostile.REFUSAL_MAX_BYTES is what the sweep allows)."""
    from tests.hostile import REFUSAL_MAX_BYTES
    astral = "\U0001f600" * 60   # twelve bytes each once escaped in JSON
    many_rules = admin.put("/api/v1/security/ip-rules", {"deny": [f"{i}{astral}"
                                                                  for i in range(150)]})
    many_keys = admin.put("/api/v1/security", {"lockout": {f"{i}{astral}": 1 for i in range(150)}})
    for refused in (many_rules, many_keys):
        assert refused.status_code == 422
        assert len(refused.body) <= REFUSAL_MAX_BYTES, len(refused.body)
        errors = refused.json["details"]["errors"]
        assert errors[0]["field"].startswith("body -> ") and len(errors) < 150
        assert errors[-1]["type"] == "too_many_errors"
        assert errors[-1]["message"] == f"and {150 - len(errors) + 1} more errors"
        assert len(refused.json["detail"]) == len(errors)
