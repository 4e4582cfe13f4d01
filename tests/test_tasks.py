"""Nodes and tasks: one state machine, routing, leases and dead letters, seen through every dialect."""

from chalicelib.services import ledger, tasks
from chalicelib.store.nodes import NodeRecord
from tests.conftest import SHARED_SECRET


def register(sky, node_id, capabilities=(), **extra):
    response = sky.post("/api/v1/node/register",
                        {"node_id": node_id, "name": node_id.title(),
                         "capabilities": list(capabilities), **extra})
    assert response.status_code == 200, response.json
    return response.json


def age_heartbeat(node_id, seconds, network_id="net_default"):
    node = NodeRecord.get(f"NET#{network_id}", f"NODE#{node_id}")
    node.update(actions=[NodeRecord.last_heartbeat.set(node.last_heartbeat - seconds * 1000)])


def test_a_lifecycle_is_the_same_task_in_every_dialect(sky, admin):
    register(sky, "kai-desktop-001", ["text", "code"])
    created = sky.post("/api/v1/task/create", {"title": "Fix login", "description": "it 500s",
                                              "priority": "high", "lux_reward": 50})
    assert created.status_code == 200 and created.json["success"] is True
    task_id = created.json["task_id"]
    assert created.json["status"] == "assigned", "an idle capable node takes it at once"
    assert created.json["assigned_node"] == "kai-desktop-001"

    platform = admin.get(f"/api/v1/tasks/{task_id}").json
    assert platform["status"] == "assigned" and platform["worker_id"] == "kai-desktop-001"
    commhub = admin.get("/api/tasks").json["tasks"]
    assert [(t["task_id"], t["status"], t["to_name"]) for t in commhub] == [
        (task_id, "delivered", "kai-desktop-001")]

    incomplete = sky.post("/api/v1/task/complete", {
        "task_id": task_id, "node_id": "kai-desktop-001",
        "result": {"problem": "p", "improvement": "i"}})
    assert incomplete.status_code == 400
    assert incomplete.json == {"success": False, "error": "'result.lesson' is required"}
    assert admin.get(f"/api/v1/tasks/{task_id}").json["status"] == "assigned", "nothing half-written"

    result = {"problem": "p", "improvement": "i", "lesson": "l"}
    done = sky.post("/api/v1/task/complete",
                    {"task_id": task_id, "node_id": "kai-desktop-001", "result": result})
    assert done.json == {"success": True, "status": "completed", "lux_paid": 50, "task_id": task_id}
    again = sky.post("/api/v1/task/complete",
                     {"task_id": task_id, "node_id": "kai-desktop-001", "result": result})
    assert again.json["lux_paid"] == 0, "a retried completion pays nothing twice"
    account = ledger.get_account("net_default", "node:kai-desktop-001")
    assert account.balance == 50 and account.total_earned == 50

    assert admin.get(f"/api/v1/tasks/{task_id}").json["result"] == result
    assert admin.get("/api/tasks?status=replied").json["tasks"][0]["task_id"] == task_id
    assert sky.get("/api/v1/task/list").json["tasks"][0]["status"] == "completed"
    completions = admin.get("/api/completions").json["completions"]
    assert [c["task_id"] for c in completions] == [task_id]
    history = admin.get(f"/api/task_events?task_id={task_id}").json["events"]
    assert [(e["from_status"], e["to_status"]) for e in history] == [
        (None, "delivered"), ("delivered", "replied")]
    stats = admin.get("/api/v1/tasks/stats").json
    assert stats["total"] == 1 and stats["by_status"]["completed"] == 1
    assert admin.get("/api/stats").json["tasks"]["replied"] == 1
    status = sky.get("/api/v1/status").json
    assert status["status"] == "ok" and status["tasks_count"] == 1 and status["nodes_count"] == 1


def test_illegal_transitions_are_refused_with_a_clear_error(sky, admin):
    task_id = admin.post("/api/v1/tasks", {"title": "t"}).json["id"]
    assert admin.post(f"/api/v1/tasks/{task_id}/cancel").json["status"] == "cancelled"
    refused = admin.patch(f"/api/v1/tasks/{task_id}", {"status": "running"})
    assert refused.status_code == 409
    again = admin.post(f"/api/v1/tasks/{task_id}/cancel")
    assert again.status_code == 409 and again.json == {
        "detail": "a cancelled task cannot become cancelled"}
    register(sky, "n1")
    late = sky.post("/api/v1/task/complete", {"task_id": task_id, "node_id": "n1",
                                             "result": {"problem": "a", "improvement": "b",
                                                        "lesson": "c"}})
    assert late.status_code == 409 and "cancelled" in late.json["error"]
    bogus = admin.patch(f"/api/v1/tasks/{task_id}", {"status": "sleeping"})
    assert bogus.status_code == 422 and bogus.json["detail"][0]["loc"] == ["body", "status"]


def test_a_retried_create_returns_the_first_task(admin, sky):
    first = admin.post("/api/v1/tasks", {"title": "once"}, headers={"Idempotency-Key": "k-1"})
    retry = admin.post("/api/v1/tasks", {"title": "once"}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and retry.status_code == 200
    assert retry.json["id"] == first.json["id"]
    other = admin.post("/api/v1/tasks", {"title": "different"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409
    via_body = sky.post("/api/v1/task/create", {"title": "x", "description": "y",
                                               "idempotency_key": "k-2"}).json["task_id"]
    assert sky.post("/api/v1/task/create", {"title": "x", "description": "y",
                                           "idempotency_key": "k-2"}).json["task_id"] == via_body
    assert len(admin.get("/api/v1/tasks").json) == 2


def test_routing_respects_capabilities_load_fairness_and_explicit_assignment(sky, admin):
    for node_id, caps in (("a", ["code"]), ("b", ["code"]), ("c", ["text"])):
        register(sky, node_id, caps, max_concurrent=2)
    placed = [admin.post("/api/v1/tasks", {"title": f"t{i}", "required_tools": ["code"]}).json
              for i in range(4)]
    first, second, third, fourth = [t["worker_id"] for t in placed]
    assert {first, second} == {"a", "b"}, "least loaded first (between fresh nodes, either)"
    assert (third, fourth) == (first, second), "then the one that waited longest"
    queued = admin.post("/api/v1/tasks", {"title": "t5", "required_tools": ["code"]}).json
    assert queued["status"] == "pending" and queued["worker_id"] is None, "a and b are full"

    explicit = sky.post("/api/v1/task/create", {"title": "for c", "description": "d",
                                               "assigned_node": "c"}).json
    assert explicit["assigned_node"] == "c", "honoured: c can take it"
    unable = sky.post("/api/v1/task/create", {"title": "for c too", "description": "d",
                                             "assigned_node": "c", "capabilities": ["code"]}).json
    assert unable["status"] == "pending", "c lacks the capability, a and b are full"

    worker = admin.post("/api/v1/workers/register", {"name": "gpu-1", "capabilities": ["code"]}).json
    assert worker["is_approved"] is True, "an administrator's registration is approved"
    batch = sky.post("/api/v1/task/batch-assign").json
    assert batch["assigned"] == 1 and batch["assignments"][0]["node_id"] == "gpu-1"


def test_self_registered_workers_wait_for_approval(api, admin):
    member = admin.post("/api/auth/register", {"username": "ops", "password": "correct-horse-7"}).json
    ops = api.bearer(member["network_token"])
    worker = ops.post("/api/v1/workers/register", {"name": "w1", "hostname": "h1"}).json
    assert worker["is_approved"] is False
    admin.post("/api/v1/tasks", {"title": "waits"})
    assert ops.get("/api/v1/workers/w1/tasks").json == []
    approved = admin.patch("/api/v1/admin/workers/w1/approve", {"is_approved": True, "group": "gpu"})
    assert approved.json["is_approved"] is True and approved.json["group"] == "gpu"
    assert api.as_(**{"X-Matrix-Secret": SHARED_SECRET}).post(
        "/api/v1/task/batch-assign").json["assigned"] == 1
    assert [t["title"] for t in ops.get("/api/v1/workers/w1/tasks").json] == ["waits"]
    overview = ops.get("/api/v1/workers/overview").json
    assert overview["total_workers"] == 1 and overview["active_tasks"] == 1


def test_pull_takes_the_most_urgent_task_once(sky, admin):
    for title, priority in (("later", "low"), ("now", "critical"), ("soon", "high")):
        sky.post("/api/v1/task/create", {"title": title, "description": "d", "priority": priority})
    register(sky, "puller")
    titles = [sky.post("/api/v1/task/pull", {"node_id": "puller"}).json["task"]["title"]
              for _ in range(3)]
    assert titles == ["now", "soon", "later"]
    assert sky.post("/api/v1/task/pull", {"node_id": "puller"}).json == {"success": True, "task": None}
    unknown = sky.post("/api/v1/task/pull", {"node_id": "ghost"})
    assert unknown.status_code == 404 and unknown.json["success"] is False


def test_lapsed_leases_requeue_until_the_dead_letter_queue_then_retry(sky, admin, settings_env):
    settings_env(SWITCHBOARD_LEASE_SECONDS="0", SWITCHBOARD_MAX_ATTEMPTS="2")
    task_id = admin.post("/api/v1/tasks", {"title": "flaky"}).json["id"]
    register(sky, "w")
    for attempt in (1, 2):
        claimed = sky.post("/api/v1/task/pull", {"node_id": "w"}).json["task"]
        assert claimed["task_id"] == task_id and claimed["attempts"] == attempt
        node = NodeRecord.get("NET#net_default", "NODE#w")
        released = tasks.release_expired("net_default", node, node_dead=False)
        assert [t.task_id for t in released] == [task_id]
    assert admin.get(f"/api/v1/tasks/{task_id}").json["status"] == "dead_lettered"
    assert sky.post("/api/v1/task/pull", {"node_id": "w"}).json["task"] is None
    assert [d["task_id"] for d in admin.get("/api/v1/dead-letter").json] == [task_id]
    assert admin.get("/api/v1/dead-letter/stats").json["total"] == 1

    retried = admin.post(f"/api/v1/dead-letter/{task_id}/retry").json
    assert retried["status"] == "pending" and retried["attempts"] == 0
    assert admin.get("/api/v1/dead-letter").json == []
    assert sky.post("/api/v1/task/pull", {"node_id": "w"}).json["task"]["task_id"] == task_id


def test_a_silent_node_is_offline_at_once_and_the_sweep_recovers_its_work(sky, admin):
    from chalicelib.jobs import fleet
    register(sky, "quiet")
    task_id = admin.post("/api/v1/tasks", {"title": "held"}).json["id"]
    assert admin.get(f"/api/v1/tasks/{task_id}").json["worker_id"] == "quiet"
    age_heartbeat("quiet", 91)
    listed = sky.get("/api/v1/node/list").json["nodes"]
    assert listed[0]["status"] == "offline", "computed on read, before any sweep"
    assert admin.get("/api/status").json["sessions"][0]["status"] == "offline"

    assert fleet.sweep() == {"offline": 1, "released": 1}
    task = admin.get(f"/api/v1/tasks/{task_id}").json
    assert task["status"] == "pending" and task["attempts"] == 1
    assert NodeRecord.get("NET#net_default", "NODE#quiet").status == "offline"
    beat = sky.post("/api/v1/node/heartbeat", {"node_id": "quiet"}).json
    assert beat["status"] == "online"
    assert fleet.assign()["assigned"] == 1


def test_lists_are_paginated_and_scoped_to_the_network(api, sky, admin):
    for i in range(7):
        sky.post("/api/v1/task/create", {"title": f"t{i}", "description": "d"})
    first = sky.get("/api/v1/task/list?limit=3").json
    second = sky.get(f"/api/v1/task/list?limit=3&cursor={first['next_cursor']}").json
    third = sky.get(f"/api/v1/task/list?limit=3&cursor={second['next_cursor']}").json
    titles = [t["title"] for page in (first, second, third) for t in page["tasks"]]
    assert titles == [f"t{i}" for i in reversed(range(7))] and third["next_cursor"] is None
    assert [t["title"] for t in admin.get("/api/v1/tasks?limit=2&offset=3").json] == ["t3", "t2"]

    outsider = admin.post("/api/auth/register", {"username": "eve", "password": "correct-horse-8"}).json
    eve = api.bearer(outsider["token"])
    network = eve.post("/api/networks", {"name": "eve's"}).json["network_id"]
    eve_token = eve.post("/api/tokens", {"name": "x", "network_id": network}).json["token"]
    stranger = api.bearer(eve_token)
    assert stranger.get("/api/v1/tasks").json == []
    some_task = first["tasks"][0]["task_id"]
    assert stranger.get(f"/api/v1/tasks/{some_task}").status_code == 404
    assert stranger.post(f"/api/v1/tasks/{some_task}/cancel").status_code == 404
