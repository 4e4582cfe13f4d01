"""Approvals: a gate that work waits behind until a second person decides.

- Four eyes: whoever asked can never decide. "Who" is the person (`person`): a user is
  one person whatever credential they use — their session or any of their API keys.
- Decided once: the decision is a conditional update on `status = pending` (and the
  deadline not passed), so two deciders can never both win.
- Deadlines: a pending approval sits in the due-time index at its deadline; the sweep
  (`expire_due`) expires it, which rejects what waited for it ("approval expired"). Reads
  show an approval past its deadline as expired even before the sweep has run.
- What waits for it (`target`): a task held in `awaiting_approval`, or a workflow step.
  Each target type registers what a decision does (`on_decision`); the effect runs right
  after the decision commits and again from the event log's `approval.updated` (the
  durable path), so effects are idempotent.
An approval a worker asks for (the platform worker's tool approvals: `action`, `details`,
polling `GET /approvals/{id}`) has no target: the worker acts on the decision itself.
"""
from __future__ import annotations

from typing import Callable

from chalicelib.clock import now_ms
from chalicelib.errors import BadRequest, Conflict, Forbidden, ValidationFailed
from chalicelib.services import audit, reactions, tasks
from chalicelib.services.records import Family, Page
from chalicelib.store.approvals import APPROVAL_DUE, ApprovalRecord as A
from chalicelib.store.records import time_key

APPROVALS = Family(A, kind="approval", id_prefix="apr", label="Approval request")
STATUSES = ("pending", "approved", "rejected", "expired")
DEFAULT_TTL_S = 24 * 3600
MAX_TTL_S = 30 * 24 * 3600

_targets: dict[str, Callable] = {}


def on_decision(target_type: str):
    """Register `effect(network_id, approval)` for decided approvals of a target type."""
    def register(effect):
        _targets[target_type] = effect
        return effect
    return register


def person(principal) -> str:
    """Who acts, for four eyes: a user (`user:<id>`, the account of their session) through
    any of their credentials, else the credential's own account."""
    return f"user:{principal.user_id}" if principal.user_id else principal.account_id


def status_of(approval: A, at_ms: int | None = None) -> str:
    at_ms = now_ms() if at_ms is None else at_ms
    if approval.status == "pending" and approval.deadline and approval.deadline <= at_ms:
        return "expired"
    return approval.status


def request(network_id: str, *, requested_by: str, action: str, details: dict | None = None,
            task_id: str | None = None, target: dict | None = None,
            expires_in_s: int | None = None) -> A:
    if not isinstance(action, str) or not action.strip():
        raise ValidationFailed("action", "'action' is required")
    ttl = DEFAULT_TTL_S if expires_in_s is None else expires_in_s
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_S:
        raise ValidationFailed("expires_in_s", f"'expires_in_s' must be 1-{MAX_TTL_S} seconds")
    deadline = now_ms() + ttl * 1000
    approval = APPROVALS.new(network_id, created_by=requested_by, status="pending",
                             action=action.strip(), details=details or None, task_id=task_id,
                             target=target, deadline=deadline, time_pk=APPROVAL_DUE)
    approval.time_sk = time_key(deadline, f"{network_id}/{approval.id}")
    if target:
        reactions.follow(network_id)
    return APPROVALS.create(approval, event=_summary(approval))


def _summary(approval: A) -> dict:
    return {"status": approval.status, "action": approval.action, "task_id": approval.task_id,
            "target": approval.target, "requested_by": approval.created_by,
            "decided_by": approval.decided_by}


def get(network_id: str, approval_id: str) -> A:
    return APPROVALS.get(network_id, approval_id)


def list_approvals(network_id: str, *, status: str | None = None, limit: int = 50,
                   offset: int = 0, cursor: str | None = None) -> Page:
    condition = None
    if status:
        if status not in STATUSES:
            raise ValidationFailed("status", f"one of {', '.join(STATUSES)}")
        at = now_ms()
        if status == "pending":
            condition = (A.status == "pending") & (A.deadline > at)
        elif status == "expired":
            condition = (A.status == "expired") | ((A.status == "pending") & (A.deadline <= at))
        else:
            condition = A.status == status
    return APPROVALS.list(network_id, limit=limit, offset=offset, cursor=cursor,
                          condition=condition)


def decide(network_id: str, approval_id: str, *, decided_by: str, approve: bool,
           note: str | None = None, reason: str | None = None) -> A:
    verb = "approve" if approve else "reject"
    if not approve and not (reason or "").strip():
        raise BadRequest("A reason is required when rejecting")
    approval = get(network_id, approval_id)
    current = status_of(approval)
    if current == "expired" and approval.status == "pending":
        _expire(approval, now_ms())  # past its deadline, and the sweep has not run yet
    if current != "pending":
        raise BadRequest(f"Cannot {verb} request with status '{current}'")
    if decided_by == approval.created_by:
        raise Forbidden("Approvals need a second person: the requester cannot decide")
    sets = {"status": "approved" if approve else "rejected", "decided_by": decided_by,
            "decided_at": now_ms()}
    if note:
        sets["decision_note"] = note
    if not approve:
        sets["rejection_reason"] = reason.strip()
    audit.note(decision=sets["status"], requested_by=approval.created_by)
    return _close(approval, sets)


def _close(approval: A, sets: dict) -> A:
    """Move a pending approval to its decision (once) and apply what it gates."""
    try:
        APPROVALS.update(approval, sets, removals=("time_pk", "time_sk"),
                         event={**_summary(approval), **{k: sets[k] for k in ("status",
                                                                               "decided_by")
                                                         if k in sets}})
    except Conflict:
        current = get(approval.network_id, approval.id)
        raise BadRequest(f"Cannot decide request with status '{status_of(current)}'") from None
    apply(approval.network_id, approval)
    return approval


def apply(network_id: str, approval: A) -> None:
    target = approval.target or {}
    effect = _targets.get(target.get("type"))
    if effect and approval.status in ("approved", "rejected", "expired"):
        effect(network_id, approval)


@reactions.on("approval.updated")
def decided(network_id: str, event) -> None:
    data = event.data or {}
    if data.get("status") in ("approved", "rejected", "expired") and data.get("target"):
        apply(network_id, get(network_id, data["id"]))


def expire_due(at_ms: int | None = None, *, limit: int = 500) -> int:
    """Expire pending approvals whose deadline passed (the due-time index, never a Scan)."""
    at_ms = now_ms() if at_ms is None else at_ms
    expired = 0
    for entry in A.by_time.query(APPROVAL_DUE, A.time_sk <= time_key(at_ms, "~"), limit=limit):
        approval = get(entry.network_id, entry.id)
        if approval.status == "pending" and _expire(approval, at_ms):
            expired += 1
    return expired


def _expire(approval: A, at_ms: int) -> bool:
    try:
        _close(approval, {"status": "expired", "decided_at": at_ms,
                          "rejection_reason": "approval expired"})
        return True
    except BadRequest:
        return False  # decided meanwhile


@on_decision("task")
def task_decided(network_id: str, approval: A) -> None:
    """A task held in `awaiting_approval`: approved, it is queued and routed; otherwise it
    fails with the reason (services/tasks.py)."""
    task = tasks.get(network_id, approval.target["task_id"])
    if task.status != "awaiting_approval":
        return
    if approval.status == "approved":
        tasks.release(network_id, task.task_id, actor=approval.decided_by or "hub",
                      reason="approved")
    else:
        tasks.fail(network_id, task.task_id, node_id=None, retry=False,
                   actor=approval.decided_by or "hub",
                   error=f"approval {approval.status}: {approval.rejection_reason or ''}".strip())
