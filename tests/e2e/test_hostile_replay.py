"""Issue 17's numbered examples, replayed with their exact bodies over HTTP against the
local stack: each is refused in its dialect's own error shape, and nothing is stored."""
import json

import pytest
import requests

MEGABYTE = "x" * 1_000_000

# (example, method, path, credential, raw JSON body, status, dialect, field)
EXAMPLES = [
    # 1. wrong JSON types crashed handlers
    ("1 login", "POST", "/api/v1/auth/login", None, '{"email":12345,"password":"x"}',
     422, "platform", "body -> email"),
    ("1 register", "POST", "/api/auth/register", "admin",
     '{"username":true,"password":"correct-horse-123"}', 400, "commhub", "username"),
    ("1 refresh", "POST", "/api/v1/auth/refresh", None, '{"refresh_token":12345}',
     422, "platform", "body -> refresh_token"),
    ("1 change-password", "POST", "/api/v1/auth/change-password", "session",
     '{"current_password":12345,"new_password":"another-pass"}', 422, "platform",
     "body -> current_password"),
    ("1 /api/auth/password", "POST", "/api/auth/password", "user",
     '{"old_password":12345,"new_password":"another-pass"}', 400, "commhub", "old_password"),
    ("1 networks", "POST", "/api/networks", "user", '{"name":12345}', 400, "commhub", "name"),
    ("1 PUT me", "PUT", "/api/v1/auth/me", "session", '{"full_name":12345}', 422, "platform",
     "body -> full_name"),
    # 2. wrong types reached DynamoDB
    ("2 task description", "POST", "/api/v1/tasks/", "admin", '{"title":"t","description":12345}',
     422, "platform", "body -> description"),
    ("2 assigned_node", "POST", "/api/v1/task/create", "secret",
     '{"title":"t","description":"d","assigned_node":true}', 400, "skycetus", "assigned_node"),
    ("2 message type", "POST", "/api/v1/message/send", "secret",
     '{"from_node":"a","to_node":"b","content":"c","type":12345}', 400, "skycetus", "type"),
    ("2 room_id", "POST", "/v1/send", None, '{"from":"a","to":"b","content":"c","room_id":12345}',
     400, "hub2d", "room_id"),
    ("2 PATCH task", "PATCH", "/api/v1/tasks/task-x", "admin", '{"description":12345}',
     422, "platform", "body -> description"),
    ("2 messages/send", "POST", "/api/v1/messages/send", "admin",
     '{"sender_agent_id":"a","recipient_agent_id":"b","body":12345}', 422, "platform",
     "body -> body"),
    ("2 broadcast", "POST", "/api/v1/message/broadcast", "secret",
     '{"from_node":"a","content":"c","type":12345}', 400, "skycetus", "type"),
    ("2 node name", "POST", "/api/v1/node/register", "secret", '{"node_id":"n","name":12345}',
     400, "skycetus", "name"),
    ("2 API key name", "POST", "/api/v1/security/api-keys", "admin", '{"name":12345}',
     422, "platform", "body -> name"),
    ("2 token name", "POST", "/api/tokens", "admin", '{"name":12345}', 400, "commhub", "name"),
    # 3. a lone surrogate
    ("3 surrogate", "POST", "/api/v1/tasks/", "admin", '{"title":"lone \\ud800 surrogate"}',
     422, "platform", "body -> title"),
    # 4. a 1 MB string
    ("4 task", "POST", "/api/v1/tasks/", "admin", json.dumps({"title": MEGABYTE}),
     422, "platform", "body -> title"),
    ("4 network", "POST", "/api/networks", "user", json.dumps({"name": MEGABYTE}),
     400, "commhub", "name"),
    ("4 token", "POST", "/api/tokens", "admin", json.dumps({"name": MEGABYTE}),
     400, "commhub", "name"),
    ("4 API key", "POST", "/api/v1/security/api-keys", "admin", json.dumps({"name": MEGABYTE}),
     422, "platform", "body -> name"),
    ("4 /v1/send", "POST", "/v1/send", None,
     json.dumps({"from": "a", "to": "b", "content": MEGABYTE}), 400, "hub2d", "content"),
    ("4 profile", "PUT", "/api/v1/auth/me", "session", json.dumps({"full_name": MEGABYTE}),
     422, "platform", "body -> full_name"),
    # 5. a long key
    ("5 events", "GET", "/v1/events?to=" + "t" * 2000, None, None, 400, "hub2d", "to"),
    # 6. a huge number
    ("6 deadline", "POST", "/api/v1/tasks/", "admin",
     '{"title":"t","deadline":1180591620717411303424}', 422, "platform", "body -> deadline"),
    # 7. wrong types stored silently
    ("7 worker", "POST", "/api/v1/workers/register", "admin",
     '{"name":"w7","cpu_cores":"NaN","hostname":12345}', 422, "platform", None),
    ("7 instructions", "POST", "/api/v1/tasks/", "admin", '{"title":"t7","instructions":12345}',
     422, "platform", "body -> instructions"),
]


@pytest.fixture(scope="module")
def credentials(stack, creds):
    """Headers for each credential the examples use."""
    admin = {"Authorization": f"Bearer {creds['admin_token']}"}
    user = requests.post(stack.url("/api/auth/register"), headers=admin,
                         json={"username": "replayer", "password": "correct-horse-123"}).json()
    session = requests.post(stack.url("/api/v1/auth/login"),
                            json={"email": creds["admin_email"],
                                  "password": creds["admin_password"]}).json()
    return {None: {}, "admin": admin, "secret": {"X-Matrix-Secret": creds["shared_secret"]},
            "user": {"Authorization": f"Bearer {user['token']}"},
            "session": {"Authorization": f"Bearer {session['access_token']}"}}


def assert_dialect_error(dialect: str, body: dict, field: str | None):
    if dialect == "platform":
        assert body["error_code"] == "VAL_001" and body["error_name"] == "VALIDATION_ERROR"
        assert body["message"] == "Request validation failed"
        errors, detail = body["details"]["errors"], body["detail"]
        assert errors and len(errors) == len(detail)
        assert all(set(e) == {"field", "message", "type"} for e in errors)
        assert all(set(d) == {"loc", "msg", "type"} for d in detail)
        if field:
            assert errors[0]["field"] == field and " -> ".join(map(str, detail[0]["loc"])) == field
    elif dialect == "skycetus":
        assert set(body) == {"success", "error"} and body["success"] is False
        assert f"'{field}'" in body["error"]
    elif dialect == "hub2d":
        assert set(body) == {"error"} and f"'{field}'" in body["error"]
    else:
        assert set(body) == {"error", "message"} and body["error"] == "validation_error"
        assert f"'{field}'" in body["message"]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_each_example_of_the_issue_is_refused_in_its_dialects_shape(stack, credentials, example):
    _, method, path, credential, raw, status, dialect, field = example
    headers = dict(credentials[credential])
    if raw is not None:
        headers["Content-Type"] = "application/json"
    response = requests.request(method, stack.url(path), headers=headers,
                                data=raw.encode() if raw is not None else None, timeout=30)
    assert response.status_code == status, response.text[:500]
    assert_dialect_error(dialect, response.json(), field)


def test_refused_examples_left_nothing_behind(stack, credentials):
    admin = credentials["admin"]
    workers = requests.get(stack.url("/api/v1/admin/workers"), headers=admin).json()
    assert "w7" not in [w["id"] for w in workers]
    titles = [t["title"] for t in requests.get(stack.url("/api/v1/tasks"), headers=admin).json()]
    assert "t7" not in titles and "t" not in titles
