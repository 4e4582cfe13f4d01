"""Synchronous calls (GemmaNet `POST /api/v1/request`): route a task to a connected node,
push it, wait for the result, and settle the credits.

The critical path, in DynamoDB round trips:
1. read the network's nodes and the caller's account, at once (one round trip);
2. one transaction: the task, assigned to the chosen node, the caller's charge, the
   idempotency marker of the call, the events and counters;
   then the push (API Gateway's Management API, not DynamoDB);
3. the node's result is committed by the node's own request (read the task and the node's
   account at once, then one transaction that completes the task and pays the node);
4. the waiting caller sees it at its next poll.

Credits: the charge is in the transaction that creates the task, so a call that ends before
it (402, 404, 409, a bad request) is never charged. The node earns the price in the
transaction that completes the task; a task that ends unserved (failed, expired) refunds
the charge in the transaction that ends it (services/tasks.py `_commit`): charge once,
refund once, whoever ends the task. The call's idempotency key is the caller's own
(services/idempotency.py): a retried call waits for, or returns, the same task's outcome.

The wait polls the task (one consistent GetItem per poll), first every 2 ms and then ever
more slowly, each interval a quarter of the time already waited, at most 50 ms: a result
is seen at most a quarter later than it landed (a few ms for a fast node), and a long
wait costs the same 20 reads a second the fixed 50 ms poll did. It is bounded by the
caller's deadline, which the adapter keeps under API Gateway's 29 s.
"""
from __future__ import annotations

import time

from chalicelib.auth.principal import Principal
from chalicelib.config import settings
from chalicelib.errors import IllegalTransition, PaymentRequired, TimedOut, ValidationFailed
from chalicelib.services import tasks
from chalicelib.limits import CALL_CONTENT_MAX as MAX_CONTENT

POLL_FIRST_S = 0.002
POLL_FRACTION = 0.25  # of the time waited so far
POLL_MAX_S = 0.05
FAILED = {"failed", "dead_lettered", "expired", "cancelled"}


def _validate(task_type, content, params, max_cost) -> None:
    if not isinstance(task_type, str) or not 1 <= len(task_type.strip()) <= 64:
        raise ValidationFailed("task_type", "'task_type' must be 1-64 characters")
    if not isinstance(content, str) or len(content) > MAX_CONTENT:
        raise ValidationFailed("content", f"'content' must be text of at most {MAX_CONTENT} characters")
    if not isinstance(params, dict):
        raise ValidationFailed("params", "'params' must be an object")
    if max_cost is not None and (isinstance(max_cost, bool) or not isinstance(max_cost, int)
                                 or max_cost < 0):
        raise ValidationFailed("max_cost", "'max_cost' must be a non-negative integer")


def call(principal: Principal, *, task_type: str, content: str, params: dict | None,
         max_cost: int | None, deadline: float, call_id: str | None = None) -> dict:
    """Run one task on the best connected node and return its outcome.

    `deadline` is a time.monotonic() value; `call_id` is the client's idempotency key.
    """
    params = {} if params is None else params
    _validate(task_type, content, params, max_cost)
    task_type = task_type.strip()
    network_id, cost = principal.network_id, settings().request_cost
    if max_cost is not None and cost > max_cost:
        raise PaymentRequired(f"this call costs {cost} credits, above max_cost {max_cost}")
    task, _ = tasks.create(principal, title=f"{task_type} request", source="gemmanet",
                           task_type=task_type, capabilities=[task_type],
                           payload={"content": content, "params": params}, lux_reward=cost,
                           max_attempts=1, idempotency_key_value=call_id,
                           connected_node_only=True, charge=cost)
    task = wait(network_id, task.task_id, deadline)
    if task.status not in FAILED | {"completed"}:
        try:  # the refund is part of this move
            task = tasks.expire(network_id, task.task_id, reason="the caller stopped waiting")
        except IllegalTransition:  # the result won the race: it is the answer after all
            task = tasks.get(network_id, task.task_id)
    if task.status == "completed":
        result = task.result or {}
        return {"task_id": task.task_id, "status": "completed", "result": result.get("output"),
                "cost": cost, "node_id": task.assigned_node,
                "processing_time_ms": result.get("processing_time_ms") or _elapsed(task)}
    if task.status == "expired":
        raise TimedOut(f"task {task.task_id} timed out", task_id=task.task_id)
    return {"task_id": task.task_id, "status": "failed", "result": task.error, "cost": 0,
            "node_id": task.assigned_node or task.last_node, "processing_time_ms": _elapsed(task)}


def _elapsed(task) -> int:
    return int((task.updated_at or task.created_at) - task.created_at)


def wait(network_id: str, task_id: str, deadline: float):
    """The task once it has ended, or as it stands at `deadline` (see the module's notes)."""
    started = time.monotonic()
    while True:
        task = tasks.get(network_id, task_id)
        now = time.monotonic()
        if task.status in FAILED | {"completed"} or now >= deadline:
            return task
        pause = min(max(POLL_FIRST_S, (now - started) * POLL_FRACTION), POLL_MAX_S)
        time.sleep(min(pause, max(0.0, deadline - now)))
