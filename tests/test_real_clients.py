"""What real clients of Hub2d and CommHub tripped over (issue 11), in process.

- An idle event stream window carries its position without data, and a reader that takes
  positions only from its own messages (the nexus channel plugin; sseclient-py) neither
  re-reads other readers' events forever nor loses what arrives between windows.
- A Hub2d reply keeps the client's error code, detail and measured latency.
- CommHub reports one role per user, refuses duplicate network names, lists the caller's
  networks in /api/auth/me, and answers lists with `ok` and `count`.
"""
from __future__ import annotations

from tests.conftest import ADMIN_TOKEN


def _frames(body: str) -> list[dict]:
    """Blocks of an SSE body as field dicts (comments dropped)."""
    blocks = []
    for block in body.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line and not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = fields.get(name, "") + value
        if fields:
            blocks.append(fields)
    return blocks


def test_a_reader_that_learns_positions_only_from_its_messages_keeps_up(api, settings_env):
    settings_env(SWITCHBOARD_OPEN_DIALECTS="hub2d", SWITCHBOARD_STREAM_WAIT="0",
                 SWITCHBOARD_EVENT_SETTLE_MS="0")

    def send(to, content):
        return api.post("/v1/send", {"from": "cortana", "to": to, "content": content}).json["event_id"]

    def window(last=None):
        path = "/v1/events?to=serina" + (f"&last_event_id={last}" if last else "")
        return _frames(api.get(path).body.decode())

    idle = window()
    assert idle[-1] == {"retry": "500"} and all("data" not in f for f in idle), \
        "an idle window carries no data frame: readers that ignore `event:` see nothing"
    assert "id" in idle[0], "it names its position for spec-following readers"

    first = send("serina", "hello")
    got = window(idle[0]["id"])
    assert [f["id"] for f in got if "data" in f] == [first]

    for n in range(1100):  # more than one window reads: all for someone else
        send("roland", f"not for serina {n}")
    later = send("serina", "are you there?")
    # The plugin resumes from its last message every time, never from an idle window's id.
    seen = []
    for _ in range(3):
        seen += [f["id"] for f in window(first) if "data" in f]
        if seen:
            break
    assert seen == [later], "the reader jumps what it was shown to hold nothing for it"

    missed = send("serina", "between two windows")
    assert [f["id"] for f in window() if "data" in f] == [missed], \
        "a reader with no position continues where its last window ended"
    newcomer = _frames(api.get("/v1/events?to=someone-new").body.decode())
    assert all("data" not in f for f in newcomer), "a new reader starts from now"


def test_a_hub2d_reply_keeps_the_clients_error_and_latency(api, settings_env):
    settings_env(SWITCHBOARD_OPEN_DIALECTS="hub2d")
    event_id = api.post("/v1/send", {"from": "serina", "to": "roland",
                                     "content": "compute"}).json["event_id"]
    posted = api.post("/v1/replies", {"event_id": event_id, "status": "error",
                                      "text": "[ERROR] http_500: Gateway 500: boom",
                                      "error_code": "http_500", "error_detail": "Gateway 500: boom",
                                      "latency_ms": 1234, "room_id": "general"})
    assert posted.status_code == 200, posted.json
    api.post("/v1/replies", {"event_id": event_id, "status": "error", "text": "timed out",
                             "error": "gateway_timeout_60s", "latency_ms": 60001,
                             "truncated": False})
    replies = api.get(f"/v1/admin/replies?event_id={event_id}").json["replies"]
    assert [(r["error"], r["error_code"], r["error_detail"], r["client_latency_ms"])
            for r in replies] == [("http_500", "http_500", "Gateway 500: boom", 1234),
                                  ("gateway_timeout_60s", "gateway_timeout_60s", None, 60001)]
    assert all(isinstance(r["latency_ms"], int) and r["latency_ms"] >= 0 for r in replies)


def test_commhub_reports_one_role_per_user_and_refuses_duplicate_network_names(api):
    admin = api.bearer(ADMIN_TOKEN)
    first = admin.post("/api/auth/register", {"username": "vincent", "password": "correct-horse-99"}).json
    second = admin.post("/api/auth/register", {"username": "mia", "password": "correct-horse-99"}).json
    for registered, role in ((first, "admin"), (second, "member")):
        login = api.post("/api/auth/login", {"username": registered["user"]["username"],
                                             "password": "correct-horse-99"}).json
        me = api.bearer(login["token"]).get("/api/auth/me").json
        assert registered["user"]["role"] == login["user"]["role"] == me["user"]["role"] == role
    bootstrap = api.post("/api/auth/login", {"username": "admin", "password": "admin-password"}).json
    assert bootstrap["user"]["role"] == "admin"

    vincent = api.bearer(first["token"])
    created = vincent.post("/api/networks", {"name": "team-alpha"})
    assert created.status_code == 201
    again = vincent.post("/api/networks", {"name": "Team-Alpha "})
    assert again.status_code == 409 and again.json["error"] == "conflict"
    other = vincent.post("/api/networks", {"name": "team-beta"}).json["network_id"]
    clash = vincent.put(f"/api/networks/{other}", {"network_name": "TEAM-ALPHA"})
    assert clash.status_code == 409
    assert vincent.put(f"/api/networks/{other}", {"network_name": "team-gamma"}).status_code == 200
    assert vincent.post("/api/networks", {"name": "team-beta"}).status_code == 201, \
        "a renamed network's old name is free again"
    assert api.bearer(second["token"]).post("/api/networks", {"name": "team-alpha"}).status_code \
        == 201, "names are unique per owner, not across the hub"

    me = vincent.get("/api/auth/me").json
    names = sorted(n["network_name"] for n in me["networks"])
    assert me["ok"] is True and me["count"] == len(names) == 4
    assert names == sorted(["default", "team-alpha", "team-beta", "team-gamma"])
    listed = vincent.get("/api/networks").json
    assert listed["ok"] is True and listed["count"] == 4
    for path, key in (("/api/tokens", "tokens"), ("/api/nodes", "nodes"), ("/api/status", "sessions"),
                      ("/api/tasks", "tasks"), ("/api/completions", "completions")):
        answer = admin.get(path).json
        assert answer["ok"] is True and answer["count"] == len(answer[key]), path


def test_a_commhub_window_is_not_ended_by_events_it_does_not_show(api, settings_env):
    """A task for nobody in particular is in every reader's part of the log, but a CommHub
    stream shows an agent only its own work: such an event must not end an idle window
    empty (one more request per event on API Gateway, or a spurious keepalive)."""
    import threading
    import time

    from chalicelib.services import messaging
    settings_env(SWITCHBOARD_STREAM_WAIT="0", SWITCHBOARD_EVENT_SETTLE_MS="0")
    admin = api.bearer(ADMIN_TOKEN)
    start = _frames(admin.get("/events/alice").body.decode())[0]["id"]
    admin.post("/api/v1/tasks", {"title": "for whoever is free"})
    settings_env(SWITCHBOARD_STREAM_WAIT="3")

    def later():
        time.sleep(0.5)
        messaging.send("net_default", account_id="acct", sender="bob", recipient="alice",
                       content="for alice", source="test")
    threading.Thread(target=later).start()
    window = _frames(admin.get(f"/events/alice?last_event_id={start}").body.decode())
    assert [f.get("event") for f in window if "data" in f] == ["new_message"], window
