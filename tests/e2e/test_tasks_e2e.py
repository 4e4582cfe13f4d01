"""Nodes and tasks on the real local stack: curl, concurrency, a node that goes silent."""
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.localstack import RunningStack
from tests.waiting import eventually


def sky(creds):
    session = requests.Session()
    session.headers["X-Matrix-Secret"] = creds["shared_secret"]
    return session


def test_the_skycetus_curl_examples_work_verbatim(stack, creds):
    status = subprocess.run(["curl", "-s", "-H", f"X-Matrix-Secret: {creds['shared_secret']}",
                             stack.url("/api/v1/status")], capture_output=True, text=True, check=True)
    body = json.loads(status.stdout)
    assert body["status"] == "ok" and {"version", "uptime", "nodes_count", "tasks_count"} <= set(body)

    def curl(path, payload):
        out = subprocess.run(["curl", "-s", "-X", "POST", "-H",
                              f"X-Matrix-Secret: {creds['shared_secret']}", "-d",
                              json.dumps(payload), stack.url(path)],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    assert curl("/api/v1/node/register", {"node_id": "curl-node", "name": "Curl",
                                          "capabilities": ["text"]})["success"] is True
    created = curl("/api/v1/task/create", {"title": "via curl", "description": "d",
                                           "lux_reward": 5, "assigned_node": "curl-node"})
    assert created["assigned_node"] == "curl-node"
    done = curl("/api/v1/task/complete", {"task_id": created["task_id"], "node_id": "curl-node",
                                          "result": {"problem": "a", "improvement": "b",
                                                     "lesson": "c"}})
    assert done == {"success": True, "status": "completed", "lux_paid": 5,
                    "task_id": created["task_id"]}
    admin = {"Authorization": f"Bearer {creds['admin_token']}"}
    platform = requests.get(stack.url(f"/api/v1/tasks/{created['task_id']}"), headers=admin).json()
    assert platform["status"] == "completed" and platform["worker_id"] == "curl-node"
    commhub = requests.get(stack.url(f"/api/task_events?task_id={created['task_id']}"),
                           headers=admin).json()
    assert [e["to_status"] for e in commhub["events"]] == ["delivered", "replied"]


def fresh_network(stack, creds) -> requests.Session:
    """A session holding the token of a network of its own (the shared stack's default
    network collects other tests' tasks)."""
    admin = {"Authorization": f"Bearer {creds['admin_token']}"}
    user = requests.post(stack.url("/api/auth/register"), headers=admin,
                         json={"username": f"u{time.time_ns()}", "password": "correct-horse-9"}).json()
    own = {"Authorization": f"Bearer {user['token']}"}
    network = requests.post(stack.url("/api/networks"), json={"name": "repro"},
                            headers=own).json()["network_id"]
    token = requests.post(stack.url("/api/tokens"), json={"name": "t", "network_id": network},
                          headers=own).json()["token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def test_the_issues_reproductions_are_fixed_over_http(stack, creds):
    """Issue 18 as reported: tasks routed at creation came back through pull as null, and
    a lone worker got same-priority tasks out of order."""
    client = fresh_network(stack, creds)

    def post(path, **body):
        response = client.post(stack.url(path), json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def pull(node_id):
        task = post("/api/v1/task/pull", node_id=node_id)["task"]
        return task and task["title"]
    for node_id in ("a", "b"):
        post("/api/v1/node/register", node_id=node_id, name=node_id)
    created = [post("/api/v1/task/create", title=f"t{i}", description="d") for i in range(6)]
    first, second = (c["assigned_node"] for c in created[:2])
    assert {first, second} == {"a", "b"} and {c["status"] for c in created[2:]} == {"pending"}
    assert [pull(second) for _ in range(4)] == ["t1", "t2", "t3", "t4"]
    assert [pull(first) for _ in range(3)] == ["t0", "t5", None]

    for title in ("t2", "t3", "t4", "t5"):
        post("/api/v1/task/create", title=f"fifo-{title}", description="d", priority="high")
    post("/api/v1/node/register", node_id="lone", name="lone")
    assert [pull("lone") for _ in range(5)] == ["fifo-t2", "fifo-t3", "fifo-t4", "fifo-t5", None]


def claim_everything(stack, creds, node_ids, still_creating=lambda: False):
    """Every node pulls until it gets nothing (and nothing more is being created); the
    task ids each was handed, and every answer's status code."""
    statuses = []

    def claimer(node_id):
        session, taken = sky(creds), []
        while True:
            response = session.post(stack.url("/api/v1/task/pull"), json={"node_id": node_id})
            statuses.append(response.status_code)
            assert response.status_code == 200, response.text
            task = response.json()["task"]
            if task is not None:
                assert task["assigned_node"] == node_id
                taken.append(task["task_id"])
            elif still_creating():
                time.sleep(0.05)
            else:
                return taken
    with ThreadPoolExecutor(len(node_ids)) as pool:
        return dict(zip(node_ids, pool.map(claimer, node_ids))), statuses


def test_fifty_claimers_are_each_handed_three_hundred_tasks_exactly_once(tmp_path, creds):
    """A hundred tasks wait in the queue before any node exists; fifty nodes register;
    fifty more tasks are created, each routed at once to a node; then the nodes pull while
    a hundred and fifty more are created. Every task is handed out once, to the node it
    was assigned to, and no pull fails."""
    # Claimers only pull (they never heartbeat): a long heartbeat window keeps the sweep from
    # rightly requeueing their tasks, so every delivery seen here is a first one.
    stack = RunningStack(tmp_path / "data", SWITCHBOARD_HEARTBEAT_WINDOW="3600").start()
    try:
        client = sky(creds)

        def create(titles, at_once=8):
            with ThreadPoolExecutor(at_once) as pool:
                return list(pool.map(lambda t: client.post(
                    stack.url("/api/v1/task/create"),
                    json={"title": t, "description": "d",
                          "priority": ["high", "medium", "low"][len(t) % 3]}).json(), titles))
        queued = create([f"early-{i}" for i in range(100)])
        assert {t["status"] for t in queued} == {"pending"}
        node_ids = [f"claimer-{n:02d}" for n in range(50)]
        for node_id in node_ids:
            client.post(stack.url("/api/v1/node/register"), json={"node_id": node_id,
                                                                  "name": node_id})
        routed = create([f"routed-{i}" for i in range(50)], at_once=1)
        assert sorted(t["assigned_node"] for t in routed) == node_ids, "one for each node"

        creating = ThreadPoolExecutor(1).submit(create, [f"late-{i}" for i in range(150)])
        started = time.monotonic()
        taken, statuses = claim_everything(stack, creds, node_ids,
                                           still_creating=lambda: not creating.done())
        elapsed = time.monotonic() - started
        late = creating.result()
        handed = [task_id for ids in taken.values() for task_id in ids]
        everything = {t["task_id"] for t in queued + routed + late}
        assert len(everything) == 300 and len(handed) == 300, f"{len(handed)} handed out"
        assert set(handed) == everything, "every task handed out, none twice"
        assert set(statuses) == {200}, "no pull answered anything but 200"
        for task in routed:
            assert task["task_id"] in taken[task["assigned_node"]], "routed tasks reach their node"
        stats = requests.get(stack.url("/api/v1/tasks/stats"),
                             headers={"Authorization": f"Bearer {creds['admin_token']}"}).json()
        assert stats["by_status"]["assigned"] == 300 and stats["by_status"]["pending"] == 0
        print(f"50 claimers were handed 300 tasks in {elapsed:.1f}s")
    finally:
        stack.stop()


@pytest.mark.soak
def test_fifty_claimers_take_a_thousand_queued_tasks_each_exactly_once(tmp_path, creds):
    stack = RunningStack(tmp_path / "data", SWITCHBOARD_HEARTBEAT_WINDOW="3600").start()
    try:
        client = sky(creds)
        with ThreadPoolExecutor(8) as pool:
            created = list(pool.map(lambda i: client.post(
                stack.url("/api/v1/task/create"),
                json={"title": f"claim-{i}", "description": "d",
                      "priority": ["high", "medium", "low"][i % 3]}).json()["task_id"],
                range(1000)))
        node_ids = [f"claimer-{n:02d}" for n in range(50)]
        for node_id in node_ids:
            client.post(stack.url("/api/v1/node/register"), json={"node_id": node_id,
                                                                  "name": node_id})
        taken, statuses = claim_everything(stack, creds, node_ids)
        everything = [task_id for ids in taken.values() for task_id in ids]
        assert len(everything) == 1000 and set(everything) == set(created)
        assert set(statuses) == {200}
        assert sum(1 for ids in taken.values() if ids) > 10, "the work was spread over the claimers"
    finally:
        stack.stop()


def test_a_node_that_stops_heartbeating_loses_its_task_then_it_is_dead_lettered(tmp_path, creds):
    stack = RunningStack(tmp_path / "data", SWITCHBOARD_HEARTBEAT_WINDOW="2",
                         SWITCHBOARD_LOCAL_SCHEDULE_SECONDS="1", SWITCHBOARD_MAX_ATTEMPTS="2").start()
    admin = {"Authorization": f"Bearer {creds['admin_token']}"}
    client = sky(creds)

    def task_state(task_id):
        return requests.get(stack.url(f"/api/v1/tasks/{task_id}"), headers=admin).json()

    try:
        client.post(stack.url("/api/v1/node/register"), json={"node_id": "first", "name": "First"})
        task_id = client.post(stack.url("/api/v1/task/create"),
                              json={"title": "survive", "description": "d"}).json()["task_id"]
        assert task_state(task_id)["worker_id"] == "first"

        # `first` says nothing more: offline within the window, its task back in the queue
        eventually(lambda: client.get(stack.url("/api/v1/node/list")).json()["nodes"][0]["status"]
                   == "offline", timeout_s=5)
        requeued = eventually(lambda: (lambda t: t if t["status"] == "pending" else None)(
            task_state(task_id)), timeout_s=15)
        assert requeued["attempts"] == 1

        client.post(stack.url("/api/v1/node/register"), json={"node_id": "second", "name": "Second"})
        taken = client.post(stack.url("/api/v1/task/pull"), json={"node_id": "second"}).json()["task"]
        assert taken is None or taken["task_id"] == task_id  # the scheduler may have assigned it
        eventually(lambda: task_state(task_id)["worker_id"] == "second"
                   or task_state(task_id)["status"] == "dead_lettered", timeout_s=15)
        # `second` goes silent too: that was the last attempt
        eventually(lambda: task_state(task_id)["status"] == "dead_lettered", timeout_s=15)
        letters = requests.get(stack.url("/api/v1/dead-letter"), headers=admin).json()
        assert [d["task_id"] for d in letters] == [task_id]
        assert letters[0]["reason"] == "node went offline"
    finally:
        stack.stop()
