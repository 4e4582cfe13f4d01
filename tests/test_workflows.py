"""Workflows run: a DAG of steps becomes tasks, driven by the tasks' ends."""
import pytest

from chalicelib.auth.principal import Principal
from chalicelib.errors import BadRequest, Conflict, Forbidden, ValidationFailed
from chalicelib.services import nodes, tasks
from chalicelib.services.orchestration import agents, approvals, workflows

NET = "net_a"


def worker(node_id, capacity=5):
    return nodes.register(Principal(NET, "admin_token", "admin", system_admin=True), node_id,
                          kind="platform", capabilities=[], max_concurrent=capacity)


def fan_in(created_by="user:1"):
    """fetch-a and fetch-b run side by side; merge needs both."""
    flow = workflows.create(NET, {"name": "digest"}, created_by=created_by)
    a = workflows.add_step(NET, flow.id, {"name": "fetch-a", "config": {"title": "Fetch A"}},
                           created_by=created_by)
    b = workflows.add_step(NET, flow.id, {"name": "fetch-b"}, created_by=created_by)
    workflows.add_step(NET, flow.id, {"name": "merge", "depends_on": [a.id, "fetch-b"],
                                      "order": 2}, created_by=created_by)
    return flow


def step_states(run):
    return {s.name: s.status for s in workflows.run_steps(NET, run.id)}


def test_a_fan_in_runs_as_tasks_and_passes_outputs_on(aws):
    worker("w1")
    flow = fan_in()
    run = workflows.start_run(NET, flow.id, input={"topic": "dynamo"}, started_by="user:1")
    states = {s.name: s for s in workflows.run_steps(NET, run.id)}
    assert states["fetch-a"].status == states["fetch-b"].status == "running"
    assert states["merge"].status == "pending"
    task_a = tasks.get(NET, states["fetch-a"].task_id)
    assert task_a.title == "Fetch A" and task_a.assigned_node == "w1"
    assert task_a.payload["input"] == {"topic": "dynamo"}

    tasks.complete(NET, task_a.task_id, node_id="w1", result={"text": "A"}, actor="node:w1")
    assert step_states(run) == {"fetch-a": "completed", "fetch-b": "running", "merge": "pending"}
    tasks.complete(NET, states["fetch-b"].task_id, node_id="w1", result={"text": "B"},
                   actor="node:w1")
    merge = {s.name: s for s in workflows.run_steps(NET, run.id)}["merge"]
    assert merge.status == "running"
    merge_task = tasks.get(NET, merge.task_id)
    assert merge_task.payload["dependencies"] == {"fetch-a": {"text": "A"},
                                                  "fetch-b": {"text": "B"}}
    tasks.complete(NET, merge.task_id, node_id="w1", result={"text": "A+B"}, actor="node:w1")
    finished = workflows.get_run(NET, flow.id, run.id)
    assert finished.status == "completed" and finished.output == {"merge": {"text": "A+B"}}
    assert workflows.get(NET, flow.id).status == "completed"
    # seen again (the durable path): nothing changes, nothing is created twice
    from chalicelib.services import reactions
    from chalicelib.services.events import read
    import time
    time.sleep(0.6)
    logged, _ = read(NET, None, limit=1000)
    reactions.dispatch(NET, logged, fast=False)
    assert len(tasks.list_tasks(NET)[0]) == 3
    assert workflows.runs(NET, flow.id).total == 1


def test_a_failed_step_fails_the_run_after_its_retries_and_cancels_the_rest(aws):
    worker("w1")
    flow = fan_in()
    run = workflows.start_run(NET, flow.id, started_by="user:1")
    states = {s.name: s for s in workflows.run_steps(NET, run.id)}
    failing = states["fetch-a"].task_id
    for attempt in range(3):  # the task's own retries first
        task = tasks.get(NET, failing)
        if task.status == "pending":
            tasks.assign_pending(NET)
        tasks.fail(NET, failing, node_id="w1", error="no network", actor="node:w1")
        if attempt < 2:
            assert workflows.get_run(NET, flow.id, run.id).status == "running"
    finished = workflows.get_run(NET, flow.id, run.id)
    assert finished.status == "failed" and "fetch-a" in finished.error
    assert step_states(run) == {"fetch-a": "failed", "fetch-b": "cancelled", "merge": "cancelled"}
    assert tasks.get(NET, states["fetch-b"].task_id).status == "cancelled"


def test_steps_are_checked_when_added(aws):
    flow = workflows.create(NET, {"name": "checked"}, created_by="user:1")
    first = workflows.add_step(NET, flow.id, {"name": "one"}, created_by="user:1")
    with pytest.raises(ValidationFailed):
        workflows.add_step(NET, flow.id, {"name": "two", "depends_on": ["nope"]},
                           created_by="user:1")
    with pytest.raises(ValidationFailed):
        workflows.add_step(NET, flow.id, {"name": "three", "step_type": "teleport"},
                           created_by="user:1")
    with pytest.raises(Conflict):
        workflows.add_step(NET, flow.id, {"name": "one"}, created_by="user:1")
    with pytest.raises(ValidationFailed) as cycle:
        workflows.check_acyclic({"a": ["b"], "b": ["c"], "c": ["a"]})
    assert "cycle" in cycle.value.message
    with pytest.raises(Conflict):
        workflows.start_run(NET, workflows.create(NET, {"name": "empty"},
                                                  created_by="user:1").id, started_by="user:1")
    assert [s.id for s in workflows.steps(NET, flow.id)] == [first.id]


def test_a_gated_step_waits_for_a_second_person(aws):
    worker("w1")
    agent = agents.create(NET, {"name": "Deployer", "worker_id": "w1"}, created_by="user:1")
    flow = workflows.create(NET, {"name": "deploy"}, created_by="user:1")
    build = workflows.add_step(NET, flow.id, {"name": "check", "step_type": "condition",
                                              "config": {"condition": {
                                                  "field": "input.env", "operator": "eq",
                                                  "value": "prod"}}}, created_by="user:1")
    workflows.add_step(NET, flow.id, {"name": "ship", "agent_id": agent.id,
                                      "depends_on": [build.id],
                                      "config": {"requires_approval": True}},
                       created_by="user:1")
    run = workflows.start_run(NET, flow.id, input={"env": "prod"}, started_by="user:1")
    ship = {s.name: s for s in workflows.run_steps(NET, run.id)}["ship"]
    assert ship.status == "awaiting_approval" and ship.task_id is None
    with pytest.raises(Forbidden):  # four eyes
        approvals.decide(NET, ship.approval_id, decided_by="user:1", approve=True)
    approvals.decide(NET, ship.approval_id, decided_by="user:2", approve=True, note="go")
    with pytest.raises(BadRequest):  # decided once
        approvals.decide(NET, ship.approval_id, decided_by="user:3", approve=False, reason="x")
    ship = {s.name: s for s in workflows.run_steps(NET, run.id)}["ship"]
    assert ship.status == "running" and tasks.get(NET, ship.task_id).assigned_node == "w1"

    second = workflows.start_run(NET, flow.id, input={"env": "prod"}, started_by="user:1")
    gate = {s.name: s for s in workflows.run_steps(NET, second.id)}["ship"].approval_id
    approvals.decide(NET, gate, decided_by="user:2", approve=False, reason="freeze")
    failed = workflows.get_run(NET, flow.id, second.id)
    assert failed.status == "failed" and "freeze" in failed.error


def test_the_event_log_sweep_finishes_what_the_fast_path_missed(aws, monkeypatch, settings_env):
    """As if the process that completed the tasks died before reacting: the durable path
    (the reaction sweep over the event log) moves the run on, once."""
    from chalicelib.services import reactions
    settings_env(SWITCHBOARD_EVENT_SETTLE_MS="0")
    worker("w1")
    flow = fan_in()
    run = workflows.start_run(NET, flow.id, started_by="user:1")
    first = {s.name: s.task_id for s in workflows.run_steps(NET, run.id)}
    with monkeypatch.context() as lost:
        lost.setattr(reactions, "followed", lambda network_id: False)  # no fast path
        for name in ("fetch-a", "fetch-b"):
            tasks.complete(NET, first[name], node_id="w1", result=name, actor="node:w1")
    assert step_states(run) == {"fetch-a": "running", "fetch-b": "running", "merge": "pending"}
    assert reactions.catch_up()["events"] > 0
    assert step_states(run) == {"fetch-a": "completed", "fetch-b": "completed",
                                "merge": "running"}
    reactions.catch_up()  # again: nothing new happens
    assert len(tasks.list_tasks(NET)[0]) == 3


def test_approvals_expire_at_their_deadline_and_fail_what_waited(aws, monkeypatch):
    """The due sweep expires a pending approval at its deadline (through the due-time
    index), which fails the task it held; a decision after the deadline is refused even
    before the sweep, and a gated step behind an expired approval fails its run."""
    from chalicelib import clock
    monkeypatch.setattr(clock, "_offset_ms", clock._offset_ms)  # undone after the test
    worker("w1")
    principal = Principal(NET, "user", "user:1")
    held, _ = tasks.create(principal, title="migrate", source="platform", requested_node="w1",
                           requires_approval=True, approval_timeout_s=60)
    held = tasks.get(NET, held.task_id)
    assert held.status == "awaiting_approval"
    approval = approvals.get(NET, held.approval_id)
    deadline = approval.deadline
    assert approvals.expire_due(deadline - 1) == 0  # not yet
    assert approvals.status_of(approvals.get(NET, approval.id)) == "pending"

    assert approvals.expire_due(deadline) == 1
    assert approvals.expire_due(deadline + 1000) == 0  # expired once
    expired = approvals.get(NET, approval.id)
    assert expired.status == "expired" and expired.rejection_reason == "approval expired"
    failed = tasks.get(NET, held.task_id)
    assert failed.status == "failed" and "expired" in failed.error
    with pytest.raises(BadRequest):  # too late to decide
        approvals.decide(NET, approval.id, decided_by="user:2", approve=True)

    # past the deadline, a decision arriving before the sweep expires it instead
    flow = workflows.create(NET, {"name": "gated"}, created_by="user:1")
    workflows.add_step(NET, flow.id, {"name": "ship", "config": {"requires_approval": True,
                                                                 "approval_timeout_s": 30}},
                       created_by="user:1")
    run = workflows.start_run(NET, flow.id, input={}, started_by="user:1")
    gate = workflows.run_steps(NET, run.id)[0].approval_id
    clock.advance(31_000)
    listed = approvals.list_approvals(NET, status="expired")
    assert gate in [a.id for a in listed.items]
    with pytest.raises(BadRequest):
        approvals.decide(NET, gate, decided_by="user:2", approve=True)
    assert approvals.get(NET, gate).status == "expired"
    assert approvals.expire_due() == 0  # nothing left for the sweep
    ended = workflows.get_run(NET, flow.id, run.id)
    assert ended.status == "failed" and "expired" in ended.error


def test_outputs_too_big_for_one_item_are_carried_as_references(aws):
    """Eight steps of 60 KB each: their fan-in's task and a run's output cannot hold them
    all in one 400 KB item, so the biggest go by reference and the run still completes."""
    worker("w1", capacity=20)
    wide = workflows.create(NET, {"name": "wide"}, created_by="user:1")
    parts = [workflows.add_step(NET, wide.id, {"name": f"part-{i}"}, created_by="user:1").id
             for i in range(8)]
    workflows.add_step(NET, wide.id, {"name": "merge", "depends_on": parts}, created_by="user:1")
    flat = workflows.create(NET, {"name": "flat"}, created_by="user:1")
    for i in range(8):
        workflows.add_step(NET, flat.id, {"name": f"part-{i}"}, created_by="user:1")
    for flow in (wide, flat):
        run = workflows.start_run(NET, flow.id, input={}, started_by="user:1")
        for i, step in enumerate(s for s in workflows.run_steps(NET, run.id) if s.task_id):
            tasks.complete(NET, step.task_id, node_id="w1", result={"text": f"{i}" * 60_000},
                           actor="node:w1")
        if flow is wide:
            merge = {s.name: s for s in workflows.run_steps(NET, run.id)}["merge"]
            assert merge.status == "running"
            carried = tasks.get(NET, merge.task_id).payload["dependencies"]
            omitted = {name for name, value in carried.items() if value.get("output_omitted")}
            assert 2 <= len(omitted) < 8 and set(carried) == {f"part-{i}" for i in range(8)}
            reference = carried[sorted(omitted)[0]]
            held = {s.id: s for s in workflows.run_steps(NET, run.id)}[reference["step_id"]]
            assert reference["run_id"] == run.id and reference["bytes"] > 60_000
            assert len(held.output["text"]) == 60_000  # the run step holds the whole output
            tasks.complete(NET, merge.task_id, node_id="w1", result={"text": "merged"},
                           actor="node:w1")
        finished = workflows.get_run(NET, flow.id, run.id)
        assert finished.status == "completed", finished.error
        if flow is flat:
            assert sum(1 for v in finished.output.values() if v.get("output_omitted")) >= 2
            assert sum(1 for v in finished.output.values() if "text" in v) >= 3
