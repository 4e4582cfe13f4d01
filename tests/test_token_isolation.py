"""A network token acts only in the network it was issued for, whatever its creator can
reach: in CommHub's routes (even with `?network_id=`), in the platform's, and in event
streams. A user's own token keeps the user's memberships."""
import pytest

from tests.conftest import ADMIN_TOKEN, SHARED_SECRET

HOME = "net_default"


@pytest.fixture
def outpost(api):
    """Ursula belongs to the default network (A), founds network X and makes a network
    token for X. A holds a task and a message she could read with her own token."""
    admin = api.bearer(ADMIN_TOKEN)
    ursula = admin.post("/api/auth/register", {"username": "ursula", "password": "correct-horse-1"}).json
    user = api.bearer(ursula["token"])
    x = user.post("/api/networks", {"name": "outpost"}).json["network_id"]
    token = user.post("/api/tokens", {"name": "agent", "network_id": x}).json["token"]
    assert token.startswith("ntok_")
    for title in ("a1", "a2", "a3"):
        admin.post("/api/v1/tasks", {"title": f"A's task {title}"})
    sky = api.as_(**{"X-Matrix-Secret": SHARED_SECRET})
    sky.post("/api/v1/node/register", {"node_id": "scout", "name": "scout"})
    sky.post("/api/v1/message/send", {"from_node": "hq", "to_node": "scout",
                                      "content": "A's secret plan"})
    return {"x": x, "agent": api.bearer(token), "token": token, "user": user, "admin": admin}


def test_a_network_token_cannot_read_its_creators_other_network(api, outpost):
    agent, x = outpost["agent"], outpost["x"]
    for path in ("/api/tasks", "/api/status", "/api/nodes", "/api/stats", "/api/completions",
                 "/api/task_events", "/api/messages"):
        refused = agent.get(f"{path}?network_id={HOME}")
        assert refused.status_code == 403, (path, refused.body)
        assert refused.json["error"] == "forbidden"
        assert agent.get(f"{path}?network_id={x}").status_code == 200, path
    assert agent.get("/api/tasks").json["tasks"] == []
    assert agent.get("/api/v1/tasks").json == [], "the platform's routes see X only too"
    for path in (f"/api/networks/{HOME}", f"/api/networks/{HOME}/members"):
        assert agent.get(path).status_code == 403, path
    assert [n["network_id"] for n in agent.get("/api/networks").json["networks"]] == [x]

    # the creator's own token keeps her memberships
    mine = outpost["user"].get(f"/api/tasks?network_id={HOME}")
    assert mine.status_code == 200 and len(mine.json["tasks"]) == 3


def test_a_network_token_cannot_write_to_another_network_or_act_as_its_creator(api, outpost):
    agent, x, admin = outpost["agent"], outpost["x"], outpost["admin"]
    assert agent.put(f"/api/networks/{HOME}", {"network_name": "taken"}).status_code == 403
    assert agent.post(f"/api/networks/{HOME}/invite", {"role": "admin"}).status_code == 403
    assert agent.delete(f"/api/networks/{HOME}").status_code == 403
    assert agent.post("/api/tokens", {"network_id": HOME}).status_code == 403, \
        "no minting a token for a network it cannot reach"
    created = agent.post(f"/api/v1/tasks?network_id={HOME}", {"title": "planted"})
    assert created.status_code == 201
    assert [t["title"] for t in outpost["user"].get(f"/api/tasks?network_id={x}").json["tasks"]] \
        == ["planted"]
    assert "planted" not in [t["title"] for t in admin.get("/api/v1/tasks").json]
    # it acts for the network, not as the user who made it
    assert agent.put("/api/auth/me", {"display_name": "mallory"}).status_code == 403
    assert agent.post("/api/networks", {"name": "another"}).status_code == 403
    assert agent.get("/api/users").status_code == 403, "issued as a member, whatever its maker is"


def test_a_network_tokens_event_stream_carries_its_own_network_only(api, outpost, settings_env):
    settings_env(SWITCHBOARD_STREAM_WAIT="0", SWITCHBOARD_EVENT_SETTLE_MS="0")
    token = outpost["token"]
    for query in (f"?token={token}&last_event_id=0",
                  f"?token={token}&last_event_id=0&network_id={HOME}"):
        stream = api.get(f"/events/scout{query}")
        assert stream.status_code == 200
        assert b"secret plan" not in stream.body and b"new_message" not in stream.body
    own = api.as_(**{"X-Matrix-Secret": SHARED_SECRET}).get("/events/scout?last_event_id=0")
    assert b"A's secret plan" in own.body, "the stream of A does carry it: the test can fail"


def test_a_cursor_from_one_network_does_not_page_another(api, outpost):
    first = outpost["admin"].get("/api/v1/tasks?limit=1")
    cursor = first.headers["X-Next-Cursor"]
    assert outpost["admin"].get(f"/api/v1/tasks?limit=1&cursor={cursor}").status_code == 200
    replayed = outpost["agent"].get(f"/api/v1/tasks?limit=1&cursor={cursor}")
    assert replayed.status_code == 422 and replayed.json["detail"][0]["loc"] == ["body", "cursor"]
