"""Approvals gate tasks; reviews come from work: the task state machine's two waiting states."""
import pytest

from chalicelib.auth.principal import Principal
from chalicelib.errors import BadRequest, Forbidden
from chalicelib.services import nodes, tasks
from chalicelib.services.orchestration import approvals, reviews

NET = "net_a"
ALICE = Principal(NET, "user", "user:alice")


def worker(node_id="w1"):
    nodes.register(Principal(NET, "admin_token", "admin", system_admin=True), node_id,
                   kind="platform", max_concurrent=5)


def test_a_gated_task_waits_visibly_until_a_second_person_decides(aws):
    worker()
    task, _ = tasks.create(ALICE, title="drop the table", source="platform",
                           requires_approval=True)
    assert task.status == "awaiting_approval" and task.approval_id
    assert tasks.claim(NET, "w1") is None  # nothing to take while it waits
    approval = approvals.get(NET, task.approval_id)
    assert approval.target == {"type": "task", "task_id": task.task_id}
    with pytest.raises(Forbidden):
        approvals.decide(NET, approval.id, decided_by="user:alice", approve=True)
    approvals.decide(NET, approval.id, decided_by="user:bob", approve=True)
    released = tasks.get(NET, task.task_id)
    assert released.status == "assigned" and released.assigned_node == "w1"

    second, _ = tasks.create(ALICE, title="rm -rf", source="platform", requires_approval=True)
    approvals.decide(NET, second.approval_id, decided_by="user:bob", approve=False,
                     reason="too risky")
    refused = tasks.get(NET, second.task_id)
    assert refused.status == "failed" and "too risky" in refused.error
    with pytest.raises(BadRequest):
        approvals.decide(NET, second.approval_id, decided_by="user:carol", approve=True)


def test_an_approval_expires_at_its_deadline_and_fails_what_waited(aws):
    task, _ = tasks.create(ALICE, title="later", source="platform", requires_approval=True,
                           approval_timeout_s=60)
    deadline = approvals.get(NET, task.approval_id).deadline
    assert approvals.expire_due(deadline - 1) == 0
    assert approvals.expire_due(deadline + 1) == 1
    assert approvals.get(NET, task.approval_id).status == "expired"
    assert tasks.get(NET, task.task_id).status == "failed"


def test_a_review_rejected_once_then_approved(aws):
    worker()
    task, _ = tasks.create(ALICE, title="fix the bug", source="platform",
                           review_required=True)
    tasks.complete(NET, task.task_id, node_id="w1", result={"diff": "+fix", "lines_added": 1},
                   actor="node:w1")
    assert tasks.get(NET, task.task_id).status == "review"
    first = reviews.list_reviews(NET, task_id=task.task_id).items
    assert len(first) == 1 and first[0].result["diff"] == "+fix" and first[0].attempt == 1
    note, count = reviews.comment(NET, first[0].id, author="user:bob", content="missing test",
                                  file_path="app.py", line_number=3)
    reviews.comment(NET, first[0].id, author="user:alice", content="adding one",
                    parent_id=note.id)
    reviews.decide(NET, first[0].id, reviewer="user:bob", approve=False, comment="add a test")
    again = tasks.get(NET, task.task_id)
    assert again.status in ("pending", "assigned")
    assert again.payload["review_feedback"]["reason"] == "add a test"
    assert [c["content"] for c in again.payload["review_feedback"]["comments"]] == \
        ["missing test", "adding one"]
    if again.status == "pending":
        tasks.assign_pending(NET)
    tasks.complete(NET, task.task_id, node_id="w1", result={"diff": "+fix +test"},
                   actor="node:w1")
    second = [r for r in reviews.list_reviews(NET, task_id=task.task_id).items
              if r.status == "pending"]
    assert len(second) == 1 and second[0].attempt == 2
    reviews.decide(NET, second[0].id, reviewer="user:bob", approve=True)
    done = tasks.get(NET, task.task_id)
    assert done.status == "completed" and done.result == {"diff": "+fix +test"}
    with pytest.raises(Exception):
        reviews.decide(NET, second[0].id, reviewer="user:bob", approve=False, comment="no")
