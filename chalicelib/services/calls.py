"""Synchronous calls (GemmaNet `POST /api/v1/request`): route a task to a connected node,
push it, wait for the result, and settle the credits.

Credits: the caller is charged the cost before anything runs (PaymentRequired when the
balance or `max_cost` does not allow it); the node earns it in the same transaction that
completes the task; a call that finds no node, fails or times out is refunded. The charge,
the refund and the task are all keyed by the call (the client's idempotency key), so a
retried call runs once, is charged once, and gets the same outcome.

The wait polls the task record (one consistent GetItem per poll) and is bounded by the
caller's deadline, which the adapter keeps under API Gateway's 29 s.
"""
from __future__ import annotations

import time

from chalicelib.auth.principal import Principal
from chalicelib.config import settings
from chalicelib.errors import (IllegalTransition, NotFound, PaymentRequired, TimedOut,
                               ValidationFailed)
from chalicelib.ids import ulid
from chalicelib.services import ledger, nodes, tasks

POLL_S = 0.05
MAX_CONTENT = 200_000
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
    call_id = call_id or ulid()
    charge = ledger.Posting(network_id, principal.account_id, -cost, "charge",
                            key=f"charge:{call_id}", task_id=f"task-{ulid().lower()}",
                            memo=f"{task_type} call")
    if ledger.applied(charge) is None and not any(
            n.connection_id and n.approved
            for n in nodes.list_nodes(network_id, capability=task_type, online_only=True)):
        raise NotFound(f"no node available for task type {task_type!r}")  # before charging
    charged = ledger.post(charge)
    refund = ledger.Posting(network_id, principal.account_id, cost, "refund",
                            key=f"refund:{call_id}", task_id=charged.task_id,
                            memo="call not served")
    if ledger.applied(refund) is not None and tasks.created_for(network_id, call_id) is None:
        # a retry of a call that found no node: same key, same answer (and no unpaid run)
        raise NotFound(f"no node was available for task type {task_type!r}")
    try:
        task, _ = tasks.create(principal, title=f"{task_type} request", source="gemmanet",
                               task_type=task_type, capabilities=[task_type],
                               payload={"content": content, "params": params}, lux_reward=cost,
                               max_attempts=1, idempotency_key_value=call_id,
                               task_id=charged.task_id, connected_node_only=True)
    except NotFound:
        ledger.post(refund)
        raise
    task = _wait(network_id, task.task_id, deadline)
    if task.status not in FAILED | {"completed"}:
        try:
            task = tasks.expire(network_id, task.task_id, reason="the caller stopped waiting")
        except IllegalTransition:  # the result won the race: it is the answer after all
            task = tasks.get(network_id, task.task_id)
    if task.status == "completed":
        result = task.result or {}
        return {"task_id": task.task_id, "status": "completed", "result": result.get("output"),
                "cost": cost, "node_id": task.assigned_node,
                "processing_time_ms": result.get("processing_time_ms") or _elapsed(task)}
    ledger.post(refund)
    if task.status == "expired":
        raise TimedOut(f"task {task.task_id} timed out", task_id=task.task_id)
    return {"task_id": task.task_id, "status": "failed", "result": task.error, "cost": 0,
            "node_id": task.assigned_node or task.last_node, "processing_time_ms": _elapsed(task)}


def _elapsed(task) -> int:
    return int((task.updated_at or task.created_at) - task.created_at)


def _wait(network_id: str, task_id: str, deadline: float):
    while True:
        task = tasks.get(network_id, task_id)
        if task.status in FAILED | {"completed"} or time.monotonic() >= deadline:
            return task
        time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
