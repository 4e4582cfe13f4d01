"""Workflows: steps that form a DAG, and runs that execute it as tasks.

Definition. Steps are added one at a time; `depends_on` names steps already in the
workflow (by id or name), so the graph is acyclic by construction — an unknown step is a
ValidationFailed (422); `check_acyclic` guards graphs given whole (marketplace templates).

A run (`start_run`: a trigger, a marketplace install, or `POST /workflows/{id}/run`)
copies the steps into run steps and makes the ones without dependencies ready. A ready
step:
- with `config.condition` that is false on the run's context is `skipped`;
- with `config.requires_approval` waits as `awaiting_approval` behind an approval
  (services/orchestration/approvals.py) — approve goes on, reject fails the run;
- of type `task` creates one task (routed like any task; to the step's agent's node when it
  names an agent) whose payload carries the run's input and its dependencies' outputs;
- of type `wait` waits `config.wait_seconds` in the due-time index (the sweep wakes it);
- of types `notify`, `parallel`, `condition` completes at once (`notify` notifies its
  `recipients` in-app and sends to its `channel_ids`: services/orchestration/notify.py).
Progress is driven by task ends, never by polling workflows: when a step's task ends,
`work.task_moved` calls `step_task_ended`, which completes the step (its output is the
task's result), adds it to each dependent's set of finished dependencies (an atomic set
addition: two dependencies finishing together both count) and readies the dependents
whose dependencies are all done. A task that fails after its own retries fails the run,
and the run's other open steps are cancelled. The run completes when every step is done.
Every step and run change is an event (`workflow_step.updated`, `workflow_run.*`).
"""
from __future__ import annotations

import json
import operator

from pynamodb.exceptions import UpdateError

from chalicelib import logs
from chalicelib.clock import now_ms
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.ids import ulid
from chalicelib.services import audit, events, fanout, reactions, tasks
from chalicelib.services.orchestration import agents, approvals, notify, work
from chalicelib.services.records import Family, Page, commit
from chalicelib.store.base import transaction
from chalicelib.store.records import time_key
from chalicelib.store.workflows import (WAIT_DUE, RunRecord as R, RunStepRecord as RS,
                                        StepRecord as S, WorkflowRecord as W, run_pk,
                                        run_step_pk, step_pk)

log = logs.get("workflows")
WORKFLOWS = Family(W, kind="workflow", id_prefix="wfl", label="Workflow")
STEP_TYPES = ("task", "condition", "parallel", "wait", "notify")
MAX_STEPS = 40                       # a run and its steps are created in one transaction
MAX_WAIT_S = 7 * 24 * 3600
# Steps' outputs copied into one item (a fan-in's task payload, a run's output) stay under
# this, well inside DynamoDB's 400 KB with the run's input beside them: past it, the
# biggest are carried as references to the run steps that hold them.
CARRIED_OUTPUTS_BYTES = 200_000
DONE = frozenset({"completed", "skipped"})
OPEN = frozenset({"pending", "awaiting_approval", "waiting", "running"})
OPERATORS = {"eq": operator.eq, "neq": operator.ne, "gt": operator.gt, "lt": operator.lt,
             "gte": operator.ge, "lte": operator.le,
             "contains": lambda a, b: b in a if a is not None else False,
             "in": lambda a, b: a in b if b is not None else False,
             "exists": lambda a, b: a is not None}


# --------------------------------------------------------------------------- definitions


def get(network_id: str, workflow_id: str) -> W:
    return WORKFLOWS.get(network_id, workflow_id)


def list_workflows(network_id: str, *, limit=50, offset=0, cursor=None) -> Page:
    return WORKFLOWS.list(network_id, limit=limit, offset=offset, cursor=cursor)


def create(network_id: str, fields: dict, *, created_by: str) -> W:
    name = str(fields.get("name") or "").strip()
    if not name:
        raise ValidationFailed("name", "'name' is required")
    workflow = WORKFLOWS.new(network_id, created_by=created_by, name=name,
                             description=fields.get("description"), status="draft",
                             is_template=bool(fields.get("is_template")),
                             config=fields.get("config") or None, run_count=0)
    return WORKFLOWS.create(workflow, event={"name": name})


def delete(network_id: str, workflow_id: str) -> None:
    workflow = get(network_id, workflow_id)
    WORKFLOWS.delete(workflow, event={"name": workflow.name})


def steps(network_id: str, workflow_id: str) -> list[S]:
    found = list(S.query(step_pk(network_id, workflow_id), consistent_read=True))
    return sorted(found, key=lambda s: (s.order or 0, s.sk))


def check_acyclic(graph: dict[str, list[str]]) -> None:
    """ValidationFailed naming a step on a cycle, or an unknown dependency."""
    state: dict[str, int] = {}

    def visit(node: str, path: tuple) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise ValidationFailed("depends_on", "the steps' dependencies form a cycle: "
                                                 + " -> ".join(path + (node,)))
        state[node] = 1
        for dependency in graph[node]:
            if dependency not in graph:
                raise ValidationFailed("depends_on", f"unknown step {dependency!r}")
            visit(dependency, path + (node,))
        state[node] = 2
    for node in graph:
        visit(node, ())


def add_step(network_id: str, workflow_id: str, fields: dict, *, created_by: str) -> S:
    workflow = get(network_id, workflow_id)
    name = str(fields.get("name") or "").strip()
    if not name:
        raise ValidationFailed("name", "'name' is required")
    step_type = fields.get("step_type") or "task"
    if step_type not in STEP_TYPES:
        raise ValidationFailed("step_type", f"one of {', '.join(STEP_TYPES)}")
    config = fields.get("config") or {}
    if not isinstance(config, dict):
        raise ValidationFailed("config", "'config' must be an object")
    _check_config(network_id, step_type, config)
    existing = steps(network_id, workflow_id)
    if len(existing) >= MAX_STEPS:
        raise Conflict(f"a workflow has at most {MAX_STEPS} steps")
    if any(s.name == name for s in existing):
        raise Conflict(f"the workflow already has a step named {name!r}")
    by_name = {s.name: s.id for s in existing}
    known = {s.id for s in existing}
    depends_on = []
    for reference in fields.get("depends_on") or []:
        step_id = reference if reference in known else by_name.get(reference)
        if step_id is None:
            raise ValidationFailed("depends_on", f"unknown step {reference!r}: a step depends "
                                                 "on steps already in the workflow")
        if step_id not in depends_on:
            depends_on.append(step_id)
    graph = {s.id: list(s.depends_on or []) for s in existing}
    agent_id = fields.get("agent_id")
    if agent_id:
        agents.get(network_id, agent_id)
    stamp = now_ms()
    step_id = f"stp_{ulid(stamp)}"
    graph[step_id] = depends_on
    check_acyclic(graph)
    step = S(step_pk(network_id, workflow_id), step_id, kind="workflow_step", id=step_id,
             network_id=network_id, workflow_id=workflow_id, name=name, step_type=step_type,
             order=int(fields.get("order") or 0), config=config or None, agent_id=agent_id,
             depends_on=depends_on or None, created_by=created_by, created_at=stamp,
             updated_at=stamp, version=1)
    WORKFLOWS.update(workflow, {}, event={"name": workflow.name, "step_added": step_id},
                     extra=lambda tx: tx.save(step, condition=S.pk.does_not_exist()))
    return step


def _check_config(network_id: str, step_type: str, config: dict) -> None:
    condition = config.get("condition")
    if condition is not None:
        if not isinstance(condition, dict) or condition.get("operator", "eq") not in OPERATORS \
                or not isinstance(condition.get("field"), str):
            raise ValidationFailed("config.condition", "a condition is {field, operator, value} "
                                   f"with operator one of {', '.join(OPERATORS)}")
    if step_type == "wait":
        seconds = config.get("wait_seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not 0 < seconds <= MAX_WAIT_S:
            raise ValidationFailed("config.wait_seconds",
                                   f"a wait step needs 'wait_seconds' (1-{MAX_WAIT_S})")
    if step_type == "notify":
        notify.check(network_id, config, "config")


# --------------------------------------------------------------------------- runs


def runs(network_id: str, workflow_id: str, *, limit=50, offset=0, cursor=None) -> Page:
    from chalicelib.store.base import page
    workflow = get(network_id, workflow_id)
    items, next_cursor = page(R, run_pk(network_id, workflow_id), limit=limit, offset=offset,
                              cursor=cursor, newest_first=True)
    return Page(items, next_cursor, int(workflow.run_count or 0))


def get_run(network_id: str, workflow_id: str, run_id: str) -> R:
    try:
        return R.get(run_pk(network_id, workflow_id), run_id, consistent_read=True)
    except R.DoesNotExist:
        raise NotFound("Workflow run not found") from None


def run_steps(network_id: str, run_id: str) -> list[RS]:
    found = list(RS.query(run_step_pk(network_id, run_id), consistent_read=True))
    return sorted(found, key=lambda s: (s.order or 0, s.sk))


def start_run(network_id: str, workflow_id: str, *, input: dict | None = None,
              cause: dict | None = None, started_by: str, key: str | None = None) -> R:
    """Start a run; with `key` (a trigger firing), the same key starts one run only."""
    workflow = get(network_id, workflow_id)
    definition = steps(network_id, workflow_id)
    if not definition:
        raise Conflict("the workflow has no steps to run")
    stamp = now_ms()
    run_id = f"run_{ulid(stamp)}" if key is None else f"run_{_keyed(key)}"
    run = R(run_pk(network_id, workflow_id), run_id, kind="workflow_run", id=run_id,
            network_id=network_id, workflow_id=workflow_id, status="running",
            input=input or None, cause=cause or {"type": "manual"}, created_by=started_by,
            created_at=stamp, updated_at=stamp, version=1)
    event = events.record(network_id, "workflow_run.created",
                          {"id": run_id, "workflow_id": workflow_id, "status": "running",
                           "cause": run.cause}, source=started_by)
    reactions.follow(network_id)
    from pynamodb.exceptions import TransactWriteError
    try:
        with transaction() as tx:
            tx.save(run, condition=R.pk.does_not_exist())
            for step in definition:
                tx.save(RS(run_step_pk(network_id, run_id), step.id, kind="workflow_run_step",
                           id=step.id, network_id=network_id, workflow_id=workflow_id,
                           run_id=run_id, name=step.name, step_type=step.step_type,
                           order=step.order, config=step.config, agent_id=step.agent_id,
                           depends_on=step.depends_on, status="pending", created_at=stamp,
                           updated_at=stamp))
            tx.save(event)
            tx.update(workflow, actions=[W.status.set("running"), W.run_count.add(1),
                                         W.last_run_id.set(run_id), W.updated_at.set(stamp)])
    except TransactWriteError:
        if key is not None:
            return get_run(network_id, workflow_id, run_id)  # started by an earlier attempt
        raise
    audit.note_created("workflow_run", run_id)
    fanout.announce(network_id, [event])  # readies the first steps (run_created)
    return get_run(network_id, workflow_id, run_id)


def _keyed(key: str) -> str:
    import hashlib
    return hashlib.sha256(key.encode()).hexdigest()[:26].upper()


def _context(run: R, all_steps: list[RS]) -> dict:
    return {"input": run.input or {}, "steps": {s.name: s.output for s in all_steps
                                                if s.status == "completed"}}


def _lookup(context: dict, dotted: str):
    value = context
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def condition_holds(condition: dict | None, context: dict) -> bool:
    if not condition:
        return True
    try:
        return bool(OPERATORS[condition.get("operator", "eq")](
            _lookup(context, condition["field"]), condition.get("value")))
    except TypeError:
        return False  # incomparable values: the condition does not hold


def _move_step(step: RS, status: str, *, expect: tuple[str, ...], extra=None, **sets) -> bool:
    """Move a run step (conditionally on its status) with its event; False if it moved
    meanwhile."""
    stamp = now_ms()
    values = {"status": status, "updated_at": stamp, **sets}
    condition = RS.status.is_in(*expect)
    event = events.record(step.network_id, "workflow_step.updated",
                          {"id": step.id, "run_id": step.run_id, "workflow_id": step.workflow_id,
                           "name": step.name, "status": status, "task_id":
                           sets.get("task_id", step.task_id), "previous_status": step.status})
    actions = [getattr(RS, k).set(v) if v is not None else getattr(RS, k).remove()
               for k, v in values.items()]

    def writes(tx):
        tx.update(step, actions=actions, condition=condition)
        if extra:
            extra(tx)
    if not commit(step.network_id, writes, event):
        return False
    for name, value in values.items():
        setattr(step, name, value)
    return True


def _make_ready(run: R, step: RS) -> None:
    """A step whose dependencies are all done: start it as its type says."""
    all_steps = run_steps(run.network_id, run.id)
    context = _context(run, all_steps)
    config = step.config or {}
    if not condition_holds(config.get("condition"), context):
        _move_step(step, "skipped", expect=("pending",), finished_at=now_ms())
        return
    if config.get("requires_approval") and not step.approval_id:
        approval = approvals.request(
            run.network_id, requested_by=run.created_by,
            action=f"run_step:{step.name}", details={"workflow_id": run.workflow_id,
                                                     "run_id": run.id, "step": step.name},
            target={"type": "workflow_step", "workflow_id": run.workflow_id, "run_id": run.id,
                    "step_id": step.id},
            expires_in_s=config.get("approval_timeout_s"))
        _move_step(step, "awaiting_approval", expect=("pending",), approval_id=approval.id)
        return
    _begin(run, step, context, all_steps, expect=("pending", "awaiting_approval"))


def _begin(run: R, step: RS, context: dict, all_steps: list[RS], *, expect) -> None:
    config = step.config or {}
    stamp = now_ms()
    if step.step_type == "task":
        outputs = carried({s.name: s for s in all_steps if s.id in (step.depends_on or [])})
        task, _ = work.create_task(
            run.network_id, owner_kind="workflow",
            refs={"workflow_id": run.workflow_id, "run_id": run.id, "step_id": step.id},
            key=f"wf:{run.id}:{step.id}", created_by=f"workflow:{run.id}",
            title=config.get("title") or step.name, description=config.get("description"),
            agent_id=step.agent_id, priority=config.get("priority"),
            capabilities=config.get("required_tools"),
            max_attempts=(int(config["max_retries"]) + 1) if config.get("max_retries") is not None
            else None,
            payload={"instructions": config.get("instructions"), "input": context["input"],
                     "dependencies": outputs, "workflow_id": run.workflow_id,
                     "run_id": run.id, "step": step.name})
        # (a task that ended before this moved the step on already: this move then fails)
        _move_step(step, "running", expect=expect, task_id=task.task_id, started_at=stamp)
        return
    if step.step_type == "wait":
        due = stamp + int(config["wait_seconds"] * 1000)
        _move_step(step, "waiting", expect=expect, started_at=stamp, time_pk=WAIT_DUE,
                   time_sk=time_key(due, f"{run.network_id}/{run.workflow_id}/{run.id}/{step.id}"))
        return
    output = None
    if step.step_type == "notify":
        # keyed by the run's step (and timed by the run): a step readied twice notifies once
        output = notify.send(run.network_id, config,
                             subject=config.get("subject") or f"Workflow step {step.name}",
                             body=config.get("body") or config.get("message") or "",
                             key=f"wf:{run.id}:{step.id}", at_ms=run.created_at, source=run.id,
                             metadata={"workflow_id": run.workflow_id, "run_id": run.id,
                                       "step": step.name})
    elif step.step_type == "condition":
        output = {"result": condition_holds(config.get("condition"), context)}
    _move_step(step, "completed", expect=expect, started_at=stamp, finished_at=stamp,
               output=output)


def _after_done(run: R, step: RS) -> None:
    """A step completed or was skipped: count it in each dependent, ready the dependents
    whose dependencies are all done, and complete the run when nothing is left."""
    for dependent in run_steps(run.network_id, run.id):
        if step.id not in (dependent.depends_on or []):
            continue
        try:
            dependent.update(actions=[RS.done_deps.add({step.id})],
                             condition=RS.pk.exists())
        except UpdateError:
            continue
        if set(dependent.depends_on) <= set(dependent.done_deps or ()) \
                and dependent.status == "pending":
            _make_ready(run, dependent)
    _maybe_finish(run)


def _maybe_finish(run: R) -> None:
    all_steps = run_steps(run.network_id, run.id)
    if all(s.status in DONE for s in all_steps):
        sinks = [s for s in all_steps if not any(s.id in (o.depends_on or []) for o in all_steps)]
        _finish(run, "completed", output=carried({s.name: s for s in sinks}))


def carried(steps_by_name: dict[str, RS]) -> dict:
    """The steps' outputs by name, to copy into one item: whole while together they fit
    CARRIED_OUTPUTS_BYTES; otherwise the biggest are replaced, until the rest fit, by
    `{"output_omitted": true, "bytes", "step_id", "run_id"}` (the output is the run
    step's: `GET /workflows/{id}/runs/{run_id}`)."""
    sizes = {name: len(json.dumps(step.output, default=str)) for name, step in
             steps_by_name.items()}
    total, omitted = sum(sizes.values()), set()
    for name in sorted(sizes, key=sizes.get, reverse=True):
        if total <= CARRIED_OUTPUTS_BYTES:
            break
        omitted.add(name)
        total -= sizes[name]
    return {name: {"output_omitted": True, "bytes": sizes[name], "step_id": step.id,
                   "run_id": step.run_id} if name in omitted else step.output
            for name, step in steps_by_name.items()}


def _finish(run: R, status: str, *, output=None, error: str | None = None) -> bool:
    """End a running run (once). The workflow shows the status of its latest run."""
    stamp = now_ms()
    sets = {"status": status, "finished_at": stamp, "updated_at": stamp}
    if output is not None:
        sets["output"] = output
    if error:
        sets["error"] = error
    event = events.record(run.network_id, "workflow_run.updated",
                          {"id": run.id, "workflow_id": run.workflow_id, "status": status,
                           "error": error, "duration_ms": stamp - run.created_at})

    def writes(tx, latest: bool):
        tx.update(R(run.pk, run.sk), actions=[getattr(R, k).set(v) for k, v in sets.items()],
                  condition=R.status == "running")
        if latest:
            tx.update(W(*WORKFLOWS.key(run.network_id, run.workflow_id)),
                      actions=[W.status.set(status), W.updated_at.set(stamp)],
                      condition=W.last_run_id == run.id)
    # a newer run owns the workflow's status: then finish this run alone
    return commit(run.network_id, lambda tx: writes(tx, True), event) or \
        commit(run.network_id, lambda tx: writes(tx, False), event)


def _fail_run(run: R, step: RS, reason: str) -> None:
    if not _finish(run, "failed", error=f"step {step.name!r} failed: {reason}"):
        return
    for other in run_steps(run.network_id, run.id):
        if other.status not in OPEN or other.id == step.id:
            continue
        if _move_step(other, "cancelled", expect=(other.status,), finished_at=now_ms()) \
                and other.task_id:
            try:
                tasks.cancel(run.network_id, other.task_id, actor=f"workflow:{run.id}")
            except Exception:  # it ended meanwhile: nothing to cancel
                pass


# --------------------------------------------------------------------------- reactions


@work.owner("workflow")
def step_task_ended(network_id: str, link, task) -> None:
    refs = link.refs or {}
    run = get_run(network_id, refs["workflow_id"], refs["run_id"])
    try:
        step = RS.get(run_step_pk(network_id, run.id), refs["step_id"], consistent_read=True)
    except RS.DoesNotExist:
        return
    if task.status == "completed":
        _move_step(step, "completed", expect=("pending", "running"), output=task.result,
                   finished_at=now_ms(), task_id=task.task_id,
                   extra=lambda tx: work.settle(tx, link, task))
    else:
        _move_step(step, "failed", expect=("pending", "running"),
                   error=task.error or f"task {task.status}", finished_at=now_ms(),
                   task_id=task.task_id, extra=lambda tx: work.settle(tx, link, task))


@approvals.on_decision("workflow_step")
def step_decided(network_id: str, approval) -> None:
    target = approval.target
    run = get_run(network_id, target["workflow_id"], target["run_id"])
    try:
        step = RS.get(run_step_pk(network_id, run.id), target["step_id"], consistent_read=True)
    except RS.DoesNotExist:
        return
    if step.status != "awaiting_approval" or run.status != "running":
        return
    if approval.status == "approved":
        all_steps = run_steps(network_id, run.id)
        _begin(run, step, _context(run, all_steps), all_steps, expect=("awaiting_approval",))
        return
    _move_step(step, "failed", expect=("awaiting_approval",), finished_at=now_ms(),
               error=f"approval {approval.status}: {approval.rejection_reason or ''}".strip())


def wake_due(at_ms: int | None = None, *, limit: int = 500) -> int:
    """Complete `wait` steps whose time has come (the due-time index, never a Scan)."""
    at_ms = now_ms() if at_ms is None else at_ms
    woken = 0
    for entry in RS.by_time.query(WAIT_DUE, RS.time_sk <= time_key(at_ms, "~"), limit=limit):
        run = get_run(entry.network_id, entry.workflow_id, entry.run_id)
        step = RS.get(entry.pk, entry.sk, consistent_read=True)
        if run.status == "running" and _move_step(
                step, "completed", expect=("waiting",), finished_at=at_ms, time_pk=None,
                time_sk=None, output={"waited_s": (step.config or {}).get("wait_seconds")}):
            woken += 1
    return woken


@reactions.on("workflow_run.created")
def run_created(network_id: str, event) -> None:
    """Ready the steps without dependencies (again, harmlessly, on the durable path)."""
    data = event.data or {}
    run = get_run(network_id, data["workflow_id"], data["id"])
    if run.status != "running":
        return
    for step in run_steps(network_id, run.id):
        if not step.depends_on and step.status == "pending":
            _make_ready(run, step)


@reactions.on("workflow_step.updated")
def step_moved(network_id: str, event) -> None:
    """Progress follows step events: a done step readies its dependents, a failed one
    fails the run. Both are idempotent, so the durable path may repeat them."""
    data = event.data or {}
    if data.get("status") not in DONE | {"failed"}:
        return
    run = get_run(network_id, data["workflow_id"], data["run_id"])
    try:
        step = RS.get(run_step_pk(network_id, run.id), data["id"], consistent_read=True)
    except RS.DoesNotExist:
        return
    if step.status in DONE and run.status == "running":
        _after_done(run, step)
    elif step.status == "failed":
        _fail_run(run, step, step.error or "failed")
