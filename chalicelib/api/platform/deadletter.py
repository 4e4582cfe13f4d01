"""Platform /api/v1/dead-letter: translation only.

Removing a task from the dead-letter queue marks it failed for good (it is kept, with
its history); retrying puts it back in the queue with a fresh attempt count.
"""
from chalice import Response

from chalicelib.api.inputs import Cursor, Id, Input, Limit, Line
from chalicelib.api.platform import router
from chalicelib.api.platform.tasks import task_view
from chalicelib.api.routing import ADMIN
from chalicelib.clock import iso
from chalicelib.services import tasks


class DeadLetterQuery(Input):
    limit: Limit = 50
    cursor: Cursor | None = None


class NewDeadLetter(Input):
    task_id: Id
    reason: Line | None = None


class RetryAll(Input):
    limit: Limit = 100


def entry_view(entry) -> dict:
    return {"id": entry.task_id, "task_id": entry.task_id, "title": entry.title,
            "reason": entry.reason, "error": entry.error, "attempts": entry.attempts,
            "created_at": iso(entry.created_at)}


@router.route("/api/v1/dead-letter", auth=ADMIN, query=DeadLetterQuery)
def list_dead_letters(req):
    found, cursor = tasks.dead_letters(req.principal.network_id, limit=req.params.limit,
                                       cursor=req.params.cursor)
    return Response(body=[entry_view(e) for e in found],
                    headers={"X-Next-Cursor": cursor} if cursor else {})


@router.route("/api/v1/dead-letter", methods=["POST"], auth=ADMIN, body=NewDeadLetter)
def add(req):
    task = tasks.dead_letter(req.principal.network_id, req.body.task_id,
                             reason=req.body.reason or "added by an administrator",
                             actor=req.principal.account_id)
    return Response(body=task_view(task), status_code=201)


@router.route("/api/v1/dead-letter/stats", auth=ADMIN)
def stats(req):
    stats = tasks.dead_letter_stats(req.principal.network_id)
    return {"total": stats["total"], "by_reason": stats["by_reason"],
            "oldest_at": iso(stats["oldest_at_ms"])}


@router.route("/api/v1/dead-letter/retry-all", methods=["POST"], auth=ADMIN, body=RetryAll)
def retry_all(req):
    retried, remaining = tasks.retry_all_dead_letters(
        req.principal.network_id, actor=req.principal.account_id, limit=req.body.limit)
    return {"retried": len(retried), "task_ids": [t.task_id for t in retried],
            "remaining": remaining}


@router.route("/api/v1/dead-letter/{task_id}/retry", methods=["POST"], auth=ADMIN)
def retry(req, task_id):
    return task_view(tasks.retry_dead_letter(req.principal.network_id, task_id,
                                             actor=req.principal.account_id))


@router.route("/api/v1/dead-letter/{task_id}", methods=["DELETE"], auth=ADMIN)
def remove(req, task_id):
    tasks.discard_dead_letter(req.principal.network_id, task_id, actor=req.principal.account_id)
    return {"message": "removed from the dead-letter queue", "task_id": task_id}
