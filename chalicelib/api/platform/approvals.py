"""Platform /api/v1/approvals and /api/v1/code-reviews: translation only.

`POST /approvals` answers 200 with the request (`id` first), as the platform's worker
expects; it then polls `GET /approvals/{id}`."""
from typing import Annotated

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Id, Input, Line, Object, Text, Word
from chalicelib.api.platform import router
from chalicelib.api.platform.listing import Paging, listing
from chalicelib.clock import iso
from chalicelib.services import orchestration


class NewApproval(Input):
    action: Line
    details: Object | None = None
    task_id: Id | None = None
    expires_in_s: Annotated[int, Meta(ge=1, le=30 * 24 * 3600)] | None = None


class Decision(Input):
    note: Text | None = None
    reason: Text | None = None
    comment: Text | None = None


class StatusQuery(Paging):
    status: Word | None = None
    task_id: Id | None = None


class NewComment(Input):
    content: Text | None = None
    comment: Text | None = None            # what the platform's web client sends
    file_path: Line | None = None
    line_number: Annotated[int, Meta(ge=0, le=10_000_000)] | None = None
    parent_id: Id | None = None


def approval_view(approval) -> dict:
    return {"id": approval.id, "status": orchestration.approvals.status_of(approval),
            "action": approval.action, "details": approval.details or {},
            "task_id": approval.task_id, "target": approval.target,
            "requested_by": approval.created_by, "expires_at": iso(approval.deadline),
            "decided_by": approval.decided_by, "decided_at": iso(approval.decided_at),
            "decision_note": approval.decision_note,
            "rejection_reason": approval.rejection_reason,
            "created_at": iso(approval.created_at)}


def review_view(review, comments=None) -> dict:
    view = {"id": review.id, "title": review.title, "task_id": review.task_id,
            "agent_id": review.agent_id, "status": review.status, "attempt": review.attempt,
            "result": review.result, "files_changed": int(review.files_changed or 0),
            "lines_added": int(review.lines_added or 0),
            "lines_removed": int(review.lines_removed or 0), "diff_data": review.diff_data,
            "reviewer_id": review.reviewer_id, "reviewed_at": iso(review.reviewed_at),
            "review_comment": review.review_comment,
            "comment_count": int(review.comment_count or 0),
            "created_at": iso(review.created_at)}
    if comments is not None:
        view["comments"] = [comment_view(c) for c in comments]
    return view


def comment_view(comment) -> dict:
    return {"id": comment.id, "user_id": comment.created_by, "content": comment.content,
            "file_path": comment.file_path, "line_number": comment.line_number,
            "parent_id": comment.parent_id, "created_at": iso(comment.created_at)}


@router.route("/api/v1/approvals", query=StatusQuery)
def list_approvals(req):
    query = req.params
    found = orchestration.approvals.list_approvals(req.principal.network_id, status=query.status,
                                                   **query.window())
    return listing(found, approval_view, query)


@router.route("/api/v1/approvals", methods=["POST"], body=NewApproval)
def request_approval(req):
    body, approvals = req.body, orchestration.approvals
    approval = approvals.request(req.principal.network_id, requested_by=approvals.person(req.principal),
                                 action=body.action, details=body.details, task_id=body.task_id,
                                 expires_in_s=body.expires_in_s)
    return approval_view(approval)


@router.route("/api/v1/approvals/{approval_id}")
def get_approval(req, approval_id):
    return approval_view(orchestration.approvals.get(req.principal.network_id, approval_id))


@router.route("/api/v1/approvals/{approval_id}/approve", methods=["POST"], body=Decision)
def approve(req, approval_id):
    approvals = orchestration.approvals
    return approval_view(approvals.decide(req.principal.network_id, approval_id,
                                          decided_by=approvals.person(req.principal), approve=True,
                                          note=req.body.note or req.body.comment))


@router.route("/api/v1/approvals/{approval_id}/reject", methods=["POST"], body=Decision)
def reject(req, approval_id):
    approvals = orchestration.approvals
    return approval_view(approvals.decide(req.principal.network_id, approval_id,
                                          decided_by=approvals.person(req.principal), approve=False,
                                          reason=req.body.reason or req.body.note,
                                          note=req.body.note))


@router.route("/api/v1/code-reviews", query=StatusQuery)
def list_reviews(req):
    query = req.params
    found = orchestration.reviews.list_reviews(req.principal.network_id, status=query.status,
                                               task_id=query.task_id, **query.window())
    return listing(found, review_view, query)


@router.route("/api/v1/code-reviews/{review_id}")
def get_review(req, review_id):
    network_id, reviews = req.principal.network_id, orchestration.reviews
    return review_view(reviews.get(network_id, review_id), reviews.comments(network_id, review_id))


def _decide_review(req, review_id, *, approve: bool) -> dict:
    body = req.body
    review = orchestration.reviews.decide(req.principal.network_id, review_id,
                                          reviewer=req.principal.account_id, approve=approve,
                                          comment=(body.comment or body.note) if approve
                                          else (body.reason or body.comment))
    return {"id": review.id, "status": review.status}


@router.route("/api/v1/code-reviews/{review_id}/approve", methods=["POST"], body=Decision)
def approve_review(req, review_id):
    return _decide_review(req, review_id, approve=True)


@router.route("/api/v1/code-reviews/{review_id}/reject", methods=["POST"], body=Decision)
def reject_review(req, review_id):
    return _decide_review(req, review_id, approve=False)


def _comment(req, review_id):
    body = req.body
    entry, count = orchestration.reviews.comment(req.principal.network_id, review_id,
                                                 author=req.principal.account_id,
                                                 content=body.content or body.comment,
                                                 file_path=body.file_path, line_number=body.line_number,
                                                 parent_id=body.parent_id)
    return Response(body={"id": entry.id, "comment_count": count, **comment_view(entry)},
                    status_code=201)


@router.route("/api/v1/code-reviews/{review_id}/comment", methods=["POST"], body=NewComment)
def comment_review(req, review_id):
    return _comment(req, review_id)


@router.route("/api/v1/code-reviews/{review_id}/comments", methods=["POST"], body=NewComment)
def comments_review(req, review_id):
    return _comment(req, review_id)
