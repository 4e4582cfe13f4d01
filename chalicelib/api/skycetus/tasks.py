"""SkyCetus /api/v1/task/*: translation only.

Differences from SkyCetus, on purpose: `task/list` is read from the store (never a stale
cache) and paginated (`limit`, `cursor` → `next_cursor`); `assigned_node` on create is
honoured when that node can take the task; `task/pull` works (their hub answered 405).
"""
import json

from chalicelib.api.skycetus import router
from chalicelib.clock import iso
from chalicelib.errors import ValidationFailed, require
from chalicelib.services import tasks

RESULT_FIELDS = ("problem", "improvement", "lesson")


def task_view(task) -> dict:
    return {"task_id": task.task_id, "title": task.title, "description": task.description,
            "status": task.status, "priority": task.priority, "lux_reward": task.lux_reward or 0,
            "assigned_node": task.assigned_node, "attempts": task.attempts,
            "result": task.result, "created_at": iso(task.created_at),
            "updated_at": iso(task.updated_at)}


@router.route("/api/v1/task/list")
def list_tasks(req):
    found, cursor = tasks.list_tasks(
        req.principal.network_id,
        tasks.TaskFilter(status=req.arg("status"), node=req.arg("node_id") or req.arg("assigned_node")),
        limit=req.int_arg("limit", 100, minimum=1, maximum=500), cursor=req.arg("cursor"))
    return {"tasks": [task_view(t) for t in found], "count": len(found), "next_cursor": cursor}


@router.route("/api/v1/task/create", methods=["POST"])
def create(req):
    task, created = tasks.create(
        req.principal, title=require(req.arg("title"), "title"),
        description=require(req.arg("description"), "description"), source="skycetus",
        priority=req.arg("priority"), lux_reward=req.arg("lux_reward"),
        capabilities=req.arg("capabilities"), requested_node=req.arg("assigned_node"),
        idempotency_key_value=req.idempotency_key())
    return {"success": True, "task_id": task.task_id, "status": task.status,
            "assigned_node": task.assigned_node, "created": created, "task": task_view(task)}


def _result(req) -> dict:
    result = req.arg("result")
    if isinstance(result, str):  # some clients send the object JSON-encoded
        try:
            result = json.loads(result)
        except ValueError:
            raise ValidationFailed("result", "'result' must be an object") from None
    if result is None:
        raise ValidationFailed("result.problem", "'result.problem' is required")
    if not isinstance(result, dict):
        raise ValidationFailed("result", "'result' must be an object")
    for field in RESULT_FIELDS:
        value = result.get(field)
        if not isinstance(value, str) or not value.strip():
            raise ValidationFailed(f"result.{field}", f"'result.{field}' is required")
    return result


@router.route("/api/v1/task/complete", methods=["POST"])
def complete(req):
    task_id = require(req.arg("task_id"), "task_id")
    node_id = require(req.arg("node_id"), "node_id")
    task, paid = tasks.complete(req.principal.network_id, task_id, node_id=node_id,
                                result=_result(req), actor=f"node:{node_id}")
    return {"success": True, "status": task.status, "lux_paid": paid, "task_id": task.task_id}


@router.route("/api/v1/task/batch-assign", methods=["POST"])
def batch_assign(req):
    assigned = tasks.assign_pending(req.principal.network_id,
                                    limit=req.int_arg("limit", 100, minimum=1, maximum=500))
    return {"success": True, "assigned": len(assigned),
            "assignments": [{"task_id": t.task_id, "node_id": t.assigned_node} for t in assigned]}


@router.route("/api/v1/task/pull", methods=["GET", "POST"])
def pull(req):
    task = tasks.claim(req.principal.network_id, require(req.arg("node_id"), "node_id"))
    return {"success": True, "task": task_view(task) if task else None}
