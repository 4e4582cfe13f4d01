"""The audit trail: every state-changing request of every dialect appends one record —
who (actor, credential kind), where (network, source IP), what (action, target), when,
and how it ended — and never a secret or a body.

The edge (api/routing.py) writes the record once the handler has answered, so refusals
and failures are recorded too, and a failed write of the trail never undoes the change.
A service that knows more than the route can (a failed login's account, the secret that
was revealed) says so with `note(...)` while it handles the request; the edge merges it in.
"""
from __future__ import annotations

import contextvars
import time

from chalicelib import logs
from chalicelib.clock import now_ms
from chalicelib.errors import ValidationFailed
from chalicelib.ids import ulid, ulid_time

log = logs.get("audit")
MONTHS_BACK = 24          # how far a listing walks back
READ_BUDGET = 5000        # entries one listing call may read (filters skip some)
MAX_DETAIL_CHARS = 2000   # a record's details stay small
SECRET_WORDS = ("password", "secret", "token", "key", "code", "credential", "private")


class Note:
    """What services say about the current request. (A plain class: a dataclass costs
    a third of a millisecond at import, which every cold start pays.)"""
    __slots__ = ("action", "target_type", "target_id", "network_id", "actor_id", "actor_type",
                 "details")

    def __init__(self):
        self.action = self.target_type = self.target_id = None
        self.network_id = self.actor_id = self.actor_type = None
        self.details: dict = {}


_note: contextvars.ContextVar[Note | None] = contextvars.ContextVar("audit_note", default=None)


def begin() -> Note:
    """Start collecting what services say about the current request (the edge calls this)."""
    note = Note()
    _note.set(note)
    return note


def note(*, action: str | None = None, target_type: str | None = None,
         target_id: str | None = None, network_id: str | None = None,
         actor_id: str | None = None, actor_type: str | None = None, **details) -> None:
    """Add what a service knows to the current request's audit record (no-op outside one).
    `actor_id` names who acted when the credential does not (a login's user: then
    `actor_type="user"`)."""
    current = _note.get()
    if current is None:
        return
    for name, value in (("action", action), ("target_type", target_type),
                        ("target_id", target_id), ("network_id", network_id),
                        ("actor_id", actor_id), ("actor_type", actor_type)):
        if value is not None:
            setattr(current, name, value)
    current.details.update(details)


def note_created(target_type: str, target_id: str) -> None:
    """A record this request created, which only the service knows the id of: noted when
    the request has named no target yet (the first record a request makes is what it
    made; later ones are consequences)."""
    current = _note.get()
    if current is not None and current.target_id is None:
        current.target_type, current.target_id = target_type, target_id


def _clean(details: dict) -> dict | None:
    """Drop anything that looks like a secret, and keep the record small."""
    kept = {k: v for k, v in details.items()
            if not any(word in k.lower() for word in SECRET_WORDS)}
    text = repr(kept)
    if len(text) > MAX_DETAIL_CHARS:
        return {"truncated": text[:MAX_DETAIL_CHARS]}
    return kept or None


def outcome_of(status: int) -> str:
    if status < 400:
        return "success"
    return "denied" if status in (401, 403, 429) else "failure"


def actor_of(principal) -> tuple[str | None, str, str | None]:
    """(actor id, actor type, credential kind) of a request's principal (None: unknown)."""
    if principal is None or principal.is_anonymous:
        return None, "anonymous", None
    return (principal.user_id or principal.account_id, "user" if principal.user_id else "token",
            principal.kind)


def append(network_id: str, *, action: str, outcome: str, status_code: int | None = None,
           actor_type: str | None = None, actor_id: str | None = None,
           credential: str | None = None, target_type: str | None = None,
           target_id: str | None = None, source_ip: str | None = None,
           dialect: str | None = None, method: str | None = None, route: str | None = None,
           request_id: str | None = None, details: dict | None = None):
    # The model is loaded by the first write, not at import: every request begins a note,
    # only state-changing ones write.
    from chalicelib.store.audit import AuditRecord as A, month_pk
    stamp = now_ms()
    entry_id = ulid(stamp)
    record = A(month_pk(network_id, time.strftime("%Y-%m", time.gmtime(stamp / 1000))),
               entry_id, kind="audit", id=f"aud_{entry_id}", network_id=network_id,
               created_at=stamp, action=action, outcome=outcome, status_code=status_code,
               actor_type=actor_type, actor_id=actor_id, credential=credential,
               target_type=target_type, target_id=target_id, source_ip=source_ip,
               dialect=dialect, method=method, route=route, request_id=request_id,
               details=_clean(details or {}))
    record.save(condition=A.pk.does_not_exist())
    return record


def _months_back(start_ms: int):
    year, month = map(int, time.strftime("%Y %m", time.gmtime(start_ms / 1000)).split())
    for _ in range(MONTHS_BACK):
        yield f"{year:04d}-{month:02d}"
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)


def entries(network_id: str, *, limit: int = 100, offset: int = 0, before: str | None = None,
            action: str | None = None, actor_id: str | None = None) -> tuple[list, str | None]:
    """Newest first, and the cursor for the next page (None at the end). `before` is a
    cursor from the previous page. At most READ_BUDGET entries are read per call."""
    try:
        start = now_ms() if before is None else ulid_time(before)
    except ValueError:
        raise ValidationFailed("cursor", "the cursor is not one this server issued") from None
    from chalicelib.store.audit import AuditRecord as A, month_pk
    condition = None
    if action:
        condition = A.action == action
    if actor_id:
        condition = (A.actor_id == actor_id) if condition is None else \
            condition & (A.actor_id == actor_id)
    kept, skipped, reads, last = [], 0, 0, None
    for month in _months_back(start):
        for entry in A.query(month_pk(network_id, month), A.sk < before if before else None,
                             filter_condition=condition, scan_index_forward=False,
                             consistent_read=True, page_size=100):
            reads, last = reads + 1, entry.sk
            if skipped < offset:
                skipped += 1
                continue
            kept.append(entry)
            if len(kept) == limit:
                return kept, entry.sk
        if reads >= READ_BUDGET:
            return kept, last
    return kept, None
