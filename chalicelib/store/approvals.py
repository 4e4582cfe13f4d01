"""Approvals and code reviews: the gates work passes through (records table).

- approval        family `approval`; while pending, in the by_time index under
                  `DUE#APPROVAL` at its deadline (the sweep expires it)
- code review     family `code_review`
- review comment  child `code_review/<id>/COMMENT`, sk <comment id>: one item per comment
                  (threaded by `parent_id`), so concurrent comments never overwrite
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.store.records import Record, child_pk

APPROVAL_DUE = "DUE#APPROVAL"


class ApprovalRecord(Record):
    status = UnicodeAttribute(null=True)        # pending|approved|rejected|expired
    action = UnicodeAttribute(null=True)
    details = JSONAttribute(null=True)
    task_id = UnicodeAttribute(null=True)
    target = JSONAttribute(null=True)           # what waits for it: {"type": "task", ...}
    deadline = NumberAttribute(null=True)       # epoch ms
    decided_by = UnicodeAttribute(null=True)
    decided_at = NumberAttribute(null=True)
    decision_note = UnicodeAttribute(null=True)
    rejection_reason = UnicodeAttribute(null=True)


class ReviewRecord(Record):
    name = UnicodeAttribute(null=True)          # `<task id>#<attempt>`: one review per attempt
    title = UnicodeAttribute(null=True)
    task_id = UnicodeAttribute(null=True)
    agent_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)        # pending|approved|changes_requested|rejected
    result = JSONAttribute(null=True)           # what the work produced
    attempt = NumberAttribute(null=True)
    files_changed = NumberAttribute(null=True)
    lines_added = NumberAttribute(null=True)
    lines_removed = NumberAttribute(null=True)
    diff_data = JSONAttribute(null=True)
    reviewer_id = UnicodeAttribute(null=True)
    reviewed_at = NumberAttribute(null=True)
    review_comment = UnicodeAttribute(null=True)
    comment_count = NumberAttribute(null=True)


class CommentRecord(Record):
    review_id = UnicodeAttribute(null=True)
    parent_id = UnicodeAttribute(null=True)
    content = UnicodeAttribute(null=True)
    file_path = UnicodeAttribute(null=True)
    line_number = NumberAttribute(null=True)


def comment_pk(network_id: str, review_id: str) -> str:
    return child_pk(network_id, "code_review", review_id, "COMMENT")
