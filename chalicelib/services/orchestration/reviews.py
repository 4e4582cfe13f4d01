"""Code reviews come from work: a task created with `review_required` that completes goes
to the `review` state (services/tasks.py) and a review opens holding its result.

- Opening follows the task's event (`task.updated` to `review`), once per attempt (the
  review's unique name is `<task id>#<attempt>`), on the fast path or the durable one.
- Approve completes the task. Reject sends the task back to the queue for another
  attempt, carrying the review's comments and reason in its payload (`review_feedback`);
  the next completion opens a new review. A review is decided once (a conditional update
  on its version while pending).
- Comments are one item each, threaded by `parent_id`, listed with the review.
"""
from __future__ import annotations

from chalicelib.clock import now_ms
from chalicelib.errors import BadRequest, Conflict, NotFound, ValidationFailed
from chalicelib.ids import ulid
from chalicelib.services import events, reactions, tasks
from chalicelib.services.records import Family, Page, commit
from chalicelib.store.approvals import CommentRecord as CR, ReviewRecord as RV, comment_pk

REVIEWS = Family(RV, kind="code_review", id_prefix="rev", label="Code review",
                 unique_names=True)
STATUSES = ("pending", "approved", "changes_requested", "rejected")
MAX_COMMENT = 20_000


def get(network_id: str, review_id: str) -> RV:
    return REVIEWS.get(network_id, review_id)


def list_reviews(network_id: str, *, status: str | None = None, task_id: str | None = None,
                 limit=50, offset=0, cursor=None) -> Page:
    condition = None
    if status:
        if status not in STATUSES:
            raise ValidationFailed("status", f"one of {', '.join(STATUSES)}")
        condition = RV.status == status
    if task_id:
        condition = (RV.task_id == task_id) if condition is None else \
            condition & (RV.task_id == task_id)
    return REVIEWS.list(network_id, limit=limit, offset=offset, cursor=cursor,
                        condition=condition)


def open_for(task) -> RV | None:
    """Open the review of a task's attempt that is waiting in `review` (once)."""
    result = task.result if isinstance(task.result, dict) else {"output": task.result}
    review = REVIEWS.new(task.network_id, created_by=task.assigned_node or task.created_by,
                         name=f"{task.task_id}#{int(task.attempts or 0)}", title=task.title,
                         task_id=task.task_id, agent_id=task.agent_id, status="pending",
                         result=result, attempt=int(task.attempts or 0),
                         files_changed=_count(result.get("files_changed")),
                         lines_added=_count(result.get("lines_added")),
                         lines_removed=_count(result.get("lines_removed")),
                         diff_data=result.get("diff") or result.get("diff_data"),
                         comment_count=0)
    try:
        return REVIEWS.create(review, event={"task_id": task.task_id, "status": "pending"})
    except Conflict:
        return None  # opened already


def _count(value) -> int:
    if isinstance(value, list):
        return len(value)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


@reactions.on("task.updated")
def task_moved(network_id: str, event) -> None:
    data = event.data or {}
    if data.get("status") == "review" and data.get("task_id"):
        task = tasks.get(network_id, data["task_id"])
        if task.status == "review":
            open_for(task)


def decide(network_id: str, review_id: str, *, reviewer: str, approve: bool,
           comment: str | None = None) -> RV:
    review = get(network_id, review_id)
    verb = "approve" if approve else "reject"
    if not approve and not (comment or "").strip():
        raise BadRequest("A reason is required when rejecting")
    if review.status != "pending":
        raise Conflict(f"Cannot {verb} a review with status '{review.status}'")
    status = "approved" if approve else "rejected"
    sets = {"status": status, "reviewer_id": reviewer, "reviewed_at": now_ms()}
    if comment:
        sets["review_comment"] = comment.strip()
    REVIEWS.update(review, sets, event={"task_id": review.task_id, "status": status})
    settle(network_id, review)
    return review


def settle(network_id: str, review: RV) -> None:
    """What a decision does to the task (idempotent: only a task still in review moves)."""
    task = tasks.get(network_id, review.task_id)
    if task.status != "review" or int(task.attempts or 0) != int(review.attempt or 0):
        return
    if review.status == "approved":
        tasks.finish_review(network_id, task.task_id, approved=True, actor=review.reviewer_id)
        return
    feedback = {"review_id": review.id, "reason": review.review_comment,
                "comments": [{"content": c.content, "file_path": c.file_path,
                              "line_number": c.line_number}
                             for c in comments(network_id, review.id)]}
    tasks.finish_review(network_id, task.task_id, approved=False, actor=review.reviewer_id,
                        feedback=feedback)


@reactions.on("code_review.updated")
def decided(network_id: str, event) -> None:
    data = event.data or {}
    if data.get("status") in ("approved", "rejected"):
        settle(network_id, get(network_id, data["id"]))


def comment(network_id: str, review_id: str, *, author: str, content: str,
            file_path: str | None = None, line_number: int | None = None,
            parent_id: str | None = None) -> tuple[CR, int]:
    review = get(network_id, review_id)
    if not isinstance(content, str) or not content.strip() or len(content) > MAX_COMMENT:
        raise ValidationFailed("content", f"'content' is 1-{MAX_COMMENT} characters")
    if parent_id:
        try:
            CR.get(comment_pk(network_id, review_id), parent_id.removeprefix("cmt_"),
                   consistent_read=True)
        except CR.DoesNotExist:
            raise NotFound("the comment answered is not on this review") from None
    stamp = now_ms()
    entry = CR(comment_pk(network_id, review_id), ulid(stamp), kind="review_comment",
               network_id=network_id, review_id=review_id, parent_id=parent_id,
               content=content, file_path=file_path, line_number=line_number,
               created_by=author, created_at=stamp)
    entry.id = f"cmt_{entry.sk}"
    event = events.record(network_id, "code_review.comment",
                          {"id": review_id, "comment_id": entry.id, "parent_id": parent_id},
                          source=author)

    def writes(tx):
        tx.save(entry)
        tx.update(RV(review.pk, review.sk), actions=[RV.comment_count.add(1)],
                  condition=RV.deleted_at.does_not_exist())
    if not commit(network_id, writes, event):
        raise NotFound("Code review not found")
    return entry, int(review.comment_count or 0) + 1


def comments(network_id: str, review_id: str) -> list[CR]:
    return list(CR.query(comment_pk(network_id, review_id), consistent_read=True))
