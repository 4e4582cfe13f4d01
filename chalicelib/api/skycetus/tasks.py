"""SkyCetus /api/v1/task/*: translation only.

Differences from SkyCetus, on purpose: `task/list` is read from the store (never a stale
cache) and paginated (`limit`, `cursor` → `next_cursor`); `assigned_node` on create is
honoured when that node can take the task; `task/pull` works (their hub answered 405).
"""
import json
from typing import Annotated

from msgspec import Meta

from chalicelib.api.inputs import (Cursor, IdempotencyKey, Id, Input, Limit, Object, Priority,
                                   Text, Title, Word, Words, check_value)
from chalicelib.api.skycetus import router
from chalicelib.clock import iso
from chalicelib.errors import ValidationFailed
from chalicelib.services import tasks

RESULT_FIELDS = ("problem", "improvement", "lesson")
Reward = Annotated[int, Meta(ge=0, le=10**15)] | Annotated[float, Meta(ge=0, le=1e15)]


class TaskQuery(Input):
    status: Word | None = None
    node_id: Id | None = None
    assigned_node: Id | None = None
    limit: Limit = 100
    cursor: Cursor | None = None


class NewTask(Input):
    title: Title
    description: Annotated[str, Meta(min_length=1, max_length=65_536)]
    priority: Priority | None = None
    lux_reward: Reward | None = None
    capabilities: Words | None = None
    assigned_node: Id | None = None
    idempotency_key: IdempotencyKey | None = None


class Completion(Input):
    """`result` is an object with `problem`, `improvement` and `lesson`, or that object
    JSON-encoded in a string (some SkyCetus clients send it so)."""
    task_id: Id
    node_id: Id
    result: Object | Text | None = None


class BatchAssign(Input):
    limit: Limit = 100


class Pull(Input):
    node_id: Id


def task_view(task) -> dict:
    return {"task_id": task.task_id, "title": task.title, "description": task.description,
            "status": task.status, "priority": task.priority, "lux_reward": task.lux_reward or 0,
            "assigned_node": task.assigned_node, "attempts": task.attempts,
            "result": task.result, "created_at": iso(task.created_at),
            "updated_at": iso(task.updated_at)}


@router.route("/api/v1/task/list", query=TaskQuery)
def list_tasks(req):
    query = req.params
    found, cursor = tasks.list_tasks(
        req.principal.network_id,
        tasks.TaskFilter(status=query.status, node=query.node_id or query.assigned_node),
        limit=query.limit, cursor=query.cursor)
    return {"tasks": [task_view(t) for t in found], "count": len(found), "next_cursor": cursor}


@router.route("/api/v1/task/create", methods=["POST"], body=NewTask)
def create(req):
    body = req.body
    task, created = tasks.create(
        req.principal, title=body.title, description=body.description, source="skycetus",
        priority=body.priority, lux_reward=body.lux_reward, capabilities=body.capabilities,
        requested_node=body.assigned_node, idempotency_key_value=req.idempotency_key())
    return {"success": True, "task_id": task.task_id, "status": task.status,
            "assigned_node": task.assigned_node, "created": created, "task": task_view(task)}


def _result(result) -> dict:
    if isinstance(result, str):  # some clients send the object JSON-encoded
        try:
            result = json.loads(result)
        except (ValueError, RecursionError):
            raise ValidationFailed("result", "'result' must be an object") from None
        if isinstance(result, dict):
            result = check_value(Object, result, ("body", "result"))
    if result is None:
        raise ValidationFailed("result.problem", "'result.problem' is required")
    if not isinstance(result, dict):
        raise ValidationFailed("result", "'result' must be an object")
    for field in RESULT_FIELDS:
        value = result.get(field)
        if not isinstance(value, str) or not value.strip():
            raise ValidationFailed(f"result.{field}", f"'result.{field}' is required")
    return result


@router.route("/api/v1/task/complete", methods=["POST"], body=Completion)
def complete(req):
    body = req.body
    task, paid = tasks.complete(req.principal.network_id, body.task_id, node_id=body.node_id,
                                result=_result(body.result), actor=f"node:{body.node_id}")
    return {"success": True, "status": task.status, "lux_paid": paid, "task_id": task.task_id}


@router.route("/api/v1/task/batch-assign", methods=["POST"], body=BatchAssign)
def batch_assign(req):
    assigned = tasks.assign_pending(req.principal.network_id, limit=req.body.limit)
    return {"success": True, "assigned": len(assigned),
            "assignments": [{"task_id": t.task_id, "node_id": t.assigned_node} for t in assigned]}


@router.route("/api/v1/task/pull", methods=["GET", "POST"], body=Pull)
def pull(req):
    task = tasks.claim(req.principal.network_id, req.body.node_id)
    return {"success": True, "task": task_view(task) if task else None}
