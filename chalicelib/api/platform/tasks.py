"""Platform /api/v1/tasks: translation only.

Lists are bare JSON arrays, as the platform's FastAPI returns them; `limit`/`offset` work,
and the cheaper `cursor` is offered in the `X-Next-Cursor` header.
"""
from typing import Annotated

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import (IdempotencyKey, Id, Input, Object, Page, Priority, Text,
                                   Timestamp, Title, Word, Words)
from chalicelib.api.outputs import as_text
from chalicelib.api.platform import router
from chalicelib.clock import iso
from chalicelib.services import tasks


class TaskQuery(Page):
    """`status_filter` is the platform's name; `status` is accepted too."""
    status_filter: Word | None = None
    status: Word | None = None
    priority: Word | None = None
    agent_id: Id | None = None
    worker_id: Id | None = None


class NewTask(Input):
    title: Title
    description: Text | None = None
    instructions: Text | None = None
    priority: Priority | None = None
    required_tools: Words | None = None
    agent_id: Id | None = None
    worker_id: Id | None = None
    deadline: Timestamp | None = None
    max_attempts: Annotated[int, Meta(ge=1, le=100)] | None = None
    idempotency_key: IdempotencyKey | None = None
    # our extensions: wait for a second person's approval; have the result reviewed
    requires_approval: bool = False
    approval_timeout_s: Annotated[int, Meta(ge=1, le=30 * 24 * 3600)] | None = None
    review_required: bool = False


class TaskChange(Input):
    """Descriptive fields, and a `status` move (with the worker's `result` or `error`)."""
    title: Title | None = None
    description: Text | None = None
    instructions: Text | None = None
    agent_id: Id | None = None
    priority: Priority | None = None
    status: Word | None = None
    worker_id: Id | None = None
    result: Object | Text | None = None
    error: Text | None = None


def task_view(task) -> dict:
    payload = task.payload or {}
    return {"id": task.task_id, "title": task.title, "description": task.description,
            "instructions": as_text(payload.get("instructions")), "status": task.status,
            "priority": task.priority, "agent_id": task.agent_id,
            "worker_id": task.assigned_node, "required_tools": task.capabilities or [],
            "result": task.result, "error": task.error, "attempts": task.attempts,
            "max_attempts": task.max_attempts, "deadline": iso(task.deadline),
            "created_at": iso(task.created_at), "updated_at": iso(task.updated_at),
            "started_at": iso(task.started_at), "completed_at": iso(task.completed_at),
            "approval_id": task.approval_id, "review_required": bool(task.review_required)}


def list_response(found, cursor) -> Response:
    headers = {"X-Next-Cursor": cursor} if cursor else {}
    return Response(body=[task_view(t) for t in found], headers=headers)


@router.route("/api/v1/tasks", query=TaskQuery)
def list_tasks(req):
    query = req.params
    filters = tasks.TaskFilter(status=query.status_filter or query.status,
                               priority=query.priority, agent_id=query.agent_id,
                               node=query.worker_id)
    found, cursor = tasks.list_tasks(req.principal.network_id, filters, limit=query.limit,
                                     offset=query.offset, cursor=query.cursor)
    return list_response(found, cursor)


@router.route("/api/v1/tasks", methods=["POST"], body=NewTask)
def create(req):
    body = req.body
    task, created = tasks.create(
        req.principal, title=body.title, source="platform", description=body.description,
        priority=body.priority, capabilities=body.required_tools, agent_id=body.agent_id,
        deadline=body.deadline, requested_node=body.worker_id,
        payload={"instructions": body.instructions} if body.instructions else None,
        max_attempts=body.max_attempts, idempotency_key_value=req.idempotency_key(),
        requires_approval=body.requires_approval, approval_timeout_s=body.approval_timeout_s,
        review_required=body.review_required)
    return Response(body=task_view(task), status_code=201 if created else 200)


@router.route("/api/v1/tasks/stats")
def stats(req):
    return tasks.stats(req.principal.network_id)


@router.route("/api/v1/tasks/{task_id}")
def get_task(req, task_id):
    return task_view(tasks.get(req.principal.network_id, task_id))


@router.route("/api/v1/tasks/{task_id}", methods=["PATCH"], body=TaskChange)
def update(req, task_id):
    body, network_id = req.body, req.principal.network_id
    actor = req.principal.account_id
    fields = {k: getattr(body, k) for k in ("title", "description", "agent_id", "priority")}
    if body.instructions is not None:
        fields["payload"] = {"instructions": body.instructions}
    task = tasks.edit(network_id, task_id, fields, actor=actor)
    if body.status is not None:
        task = tasks.set_status(network_id, task_id, body.status, actor=actor,
                                node_id=body.worker_id, result=body.result, error=body.error)
    return task_view(task)


@router.route("/api/v1/tasks/{task_id}/cancel", methods=["POST"])
def cancel(req, task_id):
    return task_view(tasks.cancel(req.principal.network_id, task_id,
                                  actor=req.principal.account_id))
