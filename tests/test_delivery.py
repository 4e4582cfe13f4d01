"""Delivery: every task reaches a node exactly once — by the node's pull or by a push on its
WebSocket — oldest first within a priority, and a pull never fails because others pull too.
Over real HTTP with fifty claimers: tests/e2e/test_tasks_e2e.py."""
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from chalicelib import ws
from chalicelib.auth.principal import anonymous
from chalicelib.push import sockets
from chalicelib.services import connections, tasks
from chalicelib.store.nodes import NodeRecord


def register(sky, node_id, capabilities=(), **extra):
    response = sky.post("/api/v1/node/register", {"node_id": node_id, "name": node_id,
                                                 "capabilities": list(capabilities), **extra})
    assert response.status_code == 200, response.json
    return response.json


def create(sky, title, **extra):
    response = sky.post("/api/v1/task/create", {"title": title, "description": "d", **extra})
    assert response.status_code == 200, response.json
    return response.json


def pull(sky, node_id):
    response = sky.post("/api/v1/task/pull", {"node_id": node_id})
    assert response.status_code == 200, response.json
    task = response.json["task"]
    return task and task["title"]


class Sockets:
    """Stands in for API Gateway's Management API: records what is pushed to which
    connection; connections in `gone` answer 410."""

    def __init__(self):
        self.frames, self.gone = [], set()

    def send(self, connection_id, payload):
        if connection_id in self.gone:
            return False
        self.frames.append((connection_id, json.loads(payload) if isinstance(payload, str)
                            else payload))
        return True

    def assigned(self, connection_id):
        return [f["payload"]["task_id"] for c, f in self.frames
                if c == connection_id and f["msg_type"] == "task_assign"]


@pytest.fixture
def pushed(monkeypatch):
    recorder = Sockets()
    monkeypatch.setattr(sockets, "send", recorder.send)
    return recorder


def connect_node(connection_id, node_id, capabilities, **extra):
    """A GemmaNet node connecting on /ws/node and registering (the open default network)."""
    connections.open_connection(connection_id, "node", anonymous("net_default"))
    frame = {"msg_type": "node_register", "payload": {"node_id": node_id, "name": node_id,
                                                      "capabilities": capabilities, **extra}}
    ws.message(SimpleNamespace(connection_id=connection_id, body=json.dumps(frame)))


def report(connection_id, task_id, status):
    frame = {"msg_type": "task_result", "payload": {"task_id": task_id, "status": status,
                                                    "result": "done"}}
    ws.message(SimpleNamespace(connection_id=connection_id, body=json.dumps(frame)))


def test_tasks_routed_at_creation_come_back_through_pull_before_the_queue(sky):
    register(sky, "a")
    register(sky, "b")
    created = [create(sky, f"t{i}") for i in range(6)]
    routed_to = [c["assigned_node"] for c in created]
    assert sorted(routed_to[:2]) == ["a", "b"] and routed_to[2:] == [None] * 4
    second = routed_to[1]  # the node that got t1
    first = routed_to[0]

    assert (pull(sky, second), pull(sky, second)) == ("t1", "t2"), \
        "its own assigned task first, then the queue's oldest"
    assert pull(sky, first) == "t0"
    rest = [pull(sky, node) for node in (first, second, first, second, first)]
    assert rest == ["t3", "t4", "t5", None, None], "every task handed out exactly once"


def test_a_lone_worker_takes_the_most_urgent_first_then_the_oldest(sky):
    for title, priority in (("L1", "low"), ("M1", "medium"), ("M2", "medium"), ("H1", "high"),
                            ("M3", "medium"), ("H2", "high"), ("M4", "medium")):
        create(sky, title, priority=priority)
    register(sky, "solo")
    assert [pull(sky, "solo") for _ in range(8)] == ["H1", "H2", "M1", "M2", "M3", "M4", "L1",
                                                     None]


def test_a_claimer_that_loses_races_still_gets_a_task_and_never_one_twice(sky, monkeypatch):
    for i in range(6):
        create(sky, f"t{i}")
    register(sky, "slow")
    register(sky, "fast")
    monkeypatch.setattr(tasks, "_contended_until", {})  # this process's hint, for this test only
    real_heads = tasks._queue_heads
    race = {"armed": True, "fast": []}

    def stale_heads(*args, **kwargs):
        heads = real_heads(*args, **kwargs)
        if race["armed"]:  # while `slow` holds this snapshot, `fast` takes its first entries
            race["armed"] = False
            race["fast"] = [tasks.claim("net_default", "fast").title for _ in range(3)]
        return heads
    monkeypatch.setattr(tasks, "_queue_heads", stale_heads)

    got = tasks.claim("net_default", "slow")
    assert race["fast"] == ["t0", "t1", "t2"]
    assert got is not None and got.title in ("t3", "t4", "t5"), "it lost the oldest, then won"
    assert got.assigned_node == "slow" and got.status == "assigned"
    assert tasks._contended_until.get("net_default"), "it knows others were claiming"
    rest = [pull(sky, "slow") for _ in range(3)]
    assert sorted(race["fast"] + [got.title] + rest[:2]) == [f"t{i}" for i in range(6)]
    assert rest[2] is None


def test_fifty_concurrent_claimers_are_handed_three_hundred_tasks_exactly_once(sky, monkeypatch):
    """The unit-level twin of the HTTP run (tests/e2e/test_tasks_e2e.py): a hundred tasks
    queued before any node exists, fifty routed at creation to the fifty nodes, a hundred
    and fifty created while they all pull at once. Every task reaches one node once, the
    routed ones their own node, and no pull raises."""
    queued = [create(sky, f"early-{i}", priority=("high", "medium", "low")[i % 3])["task_id"]
              for i in range(100)]
    node_ids = [f"claimer-{n:02d}" for n in range(50)]
    for node_id in node_ids:
        register(sky, node_id)
    routed = {}
    for i in range(50):
        task = create(sky, f"routed-{i}")
        routed[task["task_id"]] = task["assigned_node"]
    assert sorted(routed.values()) == node_ids, "one routed to each node"

    monkeypatch.setattr(tasks, "_contended_until", {})  # this process's hint: this test's only
    created = threading.Event()

    def claimer(node_id):
        taken = []
        while True:
            task = tasks.claim("net_default", node_id)
            if task is not None:
                assert task.assigned_node == node_id
                taken.append(task.task_id)
            elif not created.is_set():
                created.wait(0.25)
            else:
                return taken
    with ThreadPoolExecutor(len(node_ids)) as pool:
        claims = [pool.submit(claimer, node_id) for node_id in node_ids]
        late = [create(sky, f"late-{i}")["task_id"] for i in range(150)]
        created.set()
        taken = dict(zip(node_ids, (claim.result() for claim in claims)))

    handed = [task_id for ids in taken.values() for task_id in ids]
    assert len(handed) == 300 and set(handed) == {*queued, *routed, *late}, \
        "every task handed out, none twice"
    assert all(task_id in taken[node_id] for task_id, node_id in routed.items())


def test_a_pull_answers_none_when_nothing_queued_is_for_this_node(sky, admin, api):
    create(sky, "needs a gpu", capabilities=["gpu"])
    register(sky, "cpu-only", ["text"])
    assert pull(sky, "cpu-only") is None, "none, not an error"
    member = admin.post("/api/auth/register", {"username": "ops", "password": "correct-horse-7"}).json
    ops = api.bearer(member["network_token"])
    ops.post("/api/v1/workers/register", {"name": "unapproved", "capabilities": ["gpu"]})
    assert ops.get("/api/v1/workers/unapproved/tasks").json == [], "it waits for approval"


def test_platform_workers_get_what_waits_for_them_then_claims_up_to_their_room(admin, sky):
    worker = admin.post("/api/v1/workers/register", {"name": "w", "max_agents": 3}).json
    assert worker["is_approved"] is True
    routed = admin.post("/api/v1/tasks", {"title": "routed"}).json
    assert routed["worker_id"] == "w"
    for title in ("q1", "q2", "q3"):
        create(sky, title, capabilities=["later"])  # queued: w cannot do them yet
    admin.post("/api/v1/workers/register", {"name": "w", "capabilities": ["later"]})
    first = [t["title"] for t in admin.get("/api/v1/workers/w/tasks").json]
    assert first == ["routed", "q1", "q2"], "its assigned task, then claims while it has room"
    assert admin.get("/api/v1/workers/w/tasks").json == [], "full, and nothing waits for it"


def test_a_pushed_task_is_handed_once_and_a_reconnecting_node_catches_up(admin, sky, pushed):
    connect_node("conn-1", "gem", ["echo"])
    task = admin.post("/api/v1/tasks", {"title": "say hi", "required_tools": ["echo"]}).json
    assert task["worker_id"] == "gem"
    assert pushed.assigned("conn-1") == [task["id"]]
    assert pull(sky, "gem") is None, "pushed already: a pull does not hand it again"

    connect_node("conn-2", "gem", ["echo"])  # a new connection: the node may have lost it
    assert pushed.assigned("conn-2") == [task["id"]]
    assert pull(sky, "gem") is None

    pushed.gone.add("conn-2")  # the socket died without a word
    second = admin.post("/api/v1/tasks", {"title": "again", "required_tools": ["echo"]}).json
    assert second["worker_id"] == "gem" and pushed.assigned("conn-2") == [task["id"]]
    assert NodeRecord.get("NET#net_default", "NODE#gem").connection_id is None
    assert pull(sky, "gem") == "again", "the failed push gave it back: the pull hands it"
    assert pull(sky, "gem") is None


def test_a_task_that_leaves_its_node_before_being_handed_is_not_handed_later(sky, admin):
    register(sky, "n")
    task_id = create(sky, "cancel me")["task_id"]
    assert NodeRecord.get("NET#net_default", "NODE#n").handoff == {task_id}
    assert admin.post(f"/api/v1/tasks/{task_id}/cancel").json["status"] == "cancelled"
    node = NodeRecord.get("NET#net_default", "NODE#n")
    assert node.handoff is None and node.active_tasks == 0
    assert pull(sky, "n") is None


def test_a_connected_node_that_completes_a_task_is_pushed_the_next_one_at_once(admin, pushed):
    """The push path follows the pull's rule: a GemmaNet node has no pull, so when it
    reports a result and has room again, the oldest queued task it can do is pushed at
    once, not at the next batch assignment a minute later."""
    connect_node("conn-1", "gem", ["echo"], max_concurrent=1)
    titles = ["first", "second", "third"]
    created = [admin.post("/api/v1/tasks", {"title": t, "required_tools": ["echo"]}).json
               for t in titles]
    ids = [t["id"] for t in created]
    assert [t["status"] for t in created] == ["assigned", "pending", "pending"]
    assert pushed.assigned("conn-1") == ids[:1]

    report("conn-1", ids[0], "completed")
    assert pushed.assigned("conn-1") == ids[:2], "room again: the oldest queued task"
    assert admin.get(f"/api/v1/tasks/{ids[1]}").json["worker_id"] == "gem"

    report("conn-1", ids[1], "failed")
    assert pushed.assigned("conn-1") == ids[:2], "a failure does not pull the task back"
    assert admin.get(f"/api/v1/tasks/{ids[1]}").json["status"] == "pending"
    assert admin.get(f"/api/v1/tasks/{ids[2]}").json["status"] == "pending"


def test_a_task_failed_on_the_push_path_is_pushed_at_once_to_another_connected_node(
        admin, pushed):
    """A GemmaNet node that fails a task does not get it back, and another connected node
    that can do it gets it now, not at the next batch assignment a minute later."""
    connect_node("conn-a", "gem-a", ["echo"], max_concurrent=1)
    task = admin.post("/api/v1/tasks", {"title": "flaky", "required_tools": ["echo"]}).json
    assert pushed.assigned("conn-a") == [task["id"]]
    connect_node("conn-b", "gem-b", ["echo"], max_concurrent=1)
    connect_node("conn-c", "gem-c", ["other"], max_concurrent=1)  # cannot do it

    report("conn-a", task["id"], "failed")
    assert pushed.assigned("conn-b") == [task["id"]]
    assert pushed.assigned("conn-a") == [task["id"]] and pushed.assigned("conn-c") == []
    moved = admin.get(f"/api/v1/tasks/{task['id']}").json
    assert moved["status"] == "assigned" and moved["worker_id"] == "gem-b"

    report("conn-b", task["id"], "completed")
    assert admin.get(f"/api/v1/tasks/{task['id']}").json["status"] == "completed"
