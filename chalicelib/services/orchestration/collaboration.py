"""Collaboration sessions: agents working together, with an ordered message log and a
shared context.

- Messages are one item each, in id (time) order, so concurrent posts all land in order;
  the sender must be a participant.
- The shared context is one item per key: a merge writes only the keys it names, so
  concurrent merges of different keys never lose each other (the same key: the last
  write wins).
- Both are written in a transaction that checks the session is still active: once closed,
  a session is read-only (Conflict, 409), with no race between a close and a write.
- A new message goes to every other participant's node (its durable inbox, so a node that
  is away gets it when it comes back; services/messaging.py) and to /ws
  (`collaboration.message`).
"""
from __future__ import annotations

from chalicelib.clock import now_ms
from chalicelib.errors import Conflict, ValidationFailed
from chalicelib.ids import ulid
from chalicelib.services import events, messaging
from chalicelib.services.orchestration import agents
from chalicelib.services.records import Family, Page, commit
from chalicelib.store.conversations import (ContextRecord as X, SessionMessageRecord as SM,
                                            SessionRecord as S, context_pk, session_message_pk)

SESSIONS = Family(S, kind="collaboration", id_prefix="col", label="Collaboration session")
MESSAGE_TYPES = ("text", "decision", "question", "action", "result")
MAX_KEYS_PER_MERGE = 50
MAX_MESSAGE = 32_000


def get(network_id: str, session_id: str) -> S:
    return SESSIONS.get(network_id, session_id)


def list_sessions(network_id: str, *, status: str | None = None, limit=50, offset=0,
                  cursor=None) -> Page:
    return SESSIONS.list(network_id, limit=limit, offset=offset, cursor=cursor,
                         condition=(S.status == status) if status else None)


def _context_items(network_id: str, session_id: str, context: dict) -> list[X]:
    if not isinstance(context, dict):
        raise ValidationFailed("context", "the context is an object")
    if len(context) > MAX_KEYS_PER_MERGE:
        raise ValidationFailed("context", f"at most {MAX_KEYS_PER_MERGE} keys at once")
    stamp = now_ms()
    for key in context:
        if not key or len(key) > 200:
            raise ValidationFailed("context", "context keys are 1-200 characters")
    return [X(context_pk(network_id, session_id), key, key=key, value=value,
              updated_at=stamp) for key, value in context.items()]


def create(network_id: str, fields: dict, *, created_by: str) -> S:
    name = str(fields.get("name") or "").strip()
    if not name:
        raise ValidationFailed("name", "'name' is required")
    participants = list(dict.fromkeys(fields.get("participants") or []))
    if not participants:
        raise ValidationFailed("participants", "a session needs at least one participant")
    for agent_id in participants:
        agents.get(network_id, agent_id)
    session = SESSIONS.new(network_id, created_by=created_by, name=name,
                           description=fields.get("description"), status="active",
                           participants=participants, task_id=fields.get("task_id"),
                           message_count=0)
    initial = _context_items(network_id, session.id, fields.get("initial_context") or {})
    return SESSIONS.create(session, event={"name": name, "participants": participants},
                           extra=lambda tx: [tx.save(item) for item in initial])


def context(network_id: str, session_id: str) -> dict:
    return {item.key: item.value for item in X.query(context_pk(network_id, session_id),
                                                     consistent_read=True)}


def messages(network_id: str, session_id: str) -> list[SM]:
    return list(SM.query(session_message_pk(network_id, session_id), consistent_read=True))


def _while_active(session: S, writes, event, *, touch: list | None = None) -> None:
    """Write, in one transaction that holds only while the session is active (`touch`:
    actions on the session item itself, which then carries the condition)."""
    active = (S.status == "active") & S.deleted_at.does_not_exist()

    def guarded(tx):
        if touch:
            tx.update(S(session.pk, session.sk), actions=touch, condition=active)
        else:
            tx.condition_check(S, session.pk, session.sk, condition=active)
        writes(tx)
    if not commit(session.network_id, guarded, event):
        raise Conflict("the session is closed: it is read-only now")


def post(network_id: str, session_id: str, *, agent_id: str, message: str,
         message_type: str = "text") -> int:
    """Append a message; the session's message count after it."""
    session = get(network_id, session_id)
    if agent_id not in (session.participants or []):
        raise ValidationFailed("agent_id", "the sender is not a participant of the session")
    if not isinstance(message, str) or not message.strip() or len(message) > MAX_MESSAGE:
        raise ValidationFailed("message", f"'message' is 1-{MAX_MESSAGE} characters")
    if message_type not in MESSAGE_TYPES:
        raise ValidationFailed("message_type", f"one of {', '.join(MESSAGE_TYPES)}")
    stamp = now_ms()
    entry = SM(session_message_pk(network_id, session_id), ulid(stamp), kind="session_message",
               network_id=network_id, session_id=session_id, agent_id=agent_id,
               message=message, message_type=message_type, created_at=stamp)
    event = events.record(network_id, "collaboration.message",
                          {"id": session_id, "agent_id": agent_id, "message": message,
                           "message_type": message_type, "participants": session.participants})

    _while_active(session, lambda tx: tx.save(entry, condition=SM.pk.does_not_exist()), event,
                  touch=[S.message_count.add(1), S.updated_at.set(stamp)])
    _deliver(session, agent_id, entry)
    return int(session.message_count or 0) + 1


def _deliver(session: S, sender: str, entry: SM) -> None:
    """Each other participant's node gets the message in its inbox."""
    for agent_id in session.participants or []:
        if agent_id == sender:
            continue
        try:
            agent = agents.get(session.network_id, agent_id)
        except Exception:
            continue
        if not agents.receives_work(agent):
            continue
        messaging.send(session.network_id, account_id=f"collaboration:{session.id}",
                       sender=f"agent:{sender}", recipient=agent.worker_id,
                       content=entry.message, source="platform", type=entry.message_type,
                       channel=f"collaboration:{session.id}", subject=session.name,
                       extra={"session_id": session.id, "from_agent": sender,
                              "to_agent": agent_id},
                       idempotency_key_value=f"col:{session.id}:{entry.sk}:{agent_id}")


def merge_context(network_id: str, session_id: str, values: dict) -> list[str]:
    """Set the given keys (others untouched); every key of the context after it."""
    session = get(network_id, session_id)
    items = _context_items(network_id, session_id, values)
    event = events.record(network_id, "collaboration.context",
                          {"id": session_id, "keys": sorted(values)})
    _while_active(session, lambda tx: [tx.save(item) for item in items], event)
    return sorted(context(network_id, session_id))


def close(network_id: str, session_id: str) -> S:
    for _ in range(5):
        session = get(network_id, session_id)
        if session.status != "active":
            return session
        try:
            return SESSIONS.update(session, {"status": "completed"}, verb="updated",
                                   event={"status": "completed"})
        except Conflict:
            continue
    raise Conflict("the session is changing concurrently; try again")
