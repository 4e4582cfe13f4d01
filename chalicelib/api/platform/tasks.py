"""Platform /api/v1/tasks: translation only.

Lists are bare JSON arrays, as the platform's FastAPI returns them; `limit`/`offset` work,
and the cheaper `cursor` is offered in the `X-Next-Cursor` header.
"""
from chalice import Response

from chalicelib.api.platform import router
from chalicelib.clock import iso
from chalicelib.errors import require
from chalicelib.services import tasks


def task_view(task) -> dict:
    payload = task.payload or {}
    return {"id": task.task_id, "title": task.title, "description": task.description,
            "instructions": payload.get("instructions"), "status": task.status,
            "priority": task.priority, "agent_id": task.agent_id,
            "worker_id": task.assigned_node, "required_tools": task.capabilities or [],
            "result": task.result, "error": task.error, "attempts": task.attempts,
            "max_attempts": task.max_attempts, "deadline": iso(task.deadline),
            "created_at": iso(task.created_at), "updated_at": iso(task.updated_at),
            "started_at": iso(task.started_at), "completed_at": iso(task.completed_at)}


def list_response(found, cursor) -> Response:
    headers = {"X-Next-Cursor": cursor} if cursor else {}
    return Response(body=[task_view(t) for t in found], headers=headers)


@router.route("/api/v1/tasks")
def list_tasks(req):
    filters = tasks.TaskFilter(status=req.arg("status_filter") or req.arg("status"),
                               priority=req.arg("priority"), agent_id=req.arg("agent_id"),
                               node=req.arg("worker_id"))
    found, cursor = tasks.list_tasks(req.principal.network_id, filters,
                                     limit=req.int_arg("limit", 50, minimum=1, maximum=500),
                                     offset=req.int_arg("offset", 0, maximum=10_000),
                                     cursor=req.arg("cursor"))
    return list_response(found, cursor)


@router.route("/api/v1/tasks", methods=["POST"])
def create(req):
    body = req.json
    instructions = body.get("instructions")
    task, created = tasks.create(
        req.principal, title=require(body.get("title"), "title"), source="platform",
        description=body.get("description"), priority=body.get("priority"),
        capabilities=body.get("required_tools"), agent_id=body.get("agent_id"),
        deadline=body.get("deadline"), requested_node=body.get("worker_id"),
        payload={"instructions": instructions} if instructions else None,
        max_attempts=body.get("max_attempts"), idempotency_key_value=req.idempotency_key())
    return Response(body=task_view(task), status_code=201 if created else 200)


@router.route("/api/v1/tasks/stats")
def stats(req):
    return tasks.stats(req.principal.network_id)


@router.route("/api/v1/tasks/{task_id}")
def get_task(req, task_id):
    return task_view(tasks.get(req.principal.network_id, task_id))


@router.route("/api/v1/tasks/{task_id}", methods=["PATCH"])
def update(req, task_id):
    body, network_id = req.json, req.principal.network_id
    actor = req.principal.account_id
    fields = {k: body.get(k) for k in ("title", "description", "agent_id", "priority")}
    if body.get("instructions") is not None:
        fields["payload"] = {"instructions": body["instructions"]}
    task = tasks.edit(network_id, task_id, fields, actor=actor)
    if body.get("status") is not None:
        task = tasks.set_status(network_id, task_id, body["status"], actor=actor,
                                node_id=body.get("worker_id"), result=body.get("result"),
                                error=body.get("error"))
    return task_view(task)


@router.route("/api/v1/tasks/{task_id}/cancel", methods=["POST"])
def cancel(req, task_id):
    return task_view(tasks.cancel(req.principal.network_id, task_id,
                                  actor=req.principal.account_id))
