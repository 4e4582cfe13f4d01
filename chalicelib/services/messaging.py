"""Messages: durable per-node inboxes for every dialect, at-least-once delivery, replies.

Rules
- a message is sent once (one transaction: the message, its pending delivery, and its
  `message.new` event in the network's log); the sender's idempotency key makes a retried
  send return the first message (services/idempotency.py: keys are per principal);
- receiving hands out pending deliveries oldest first, each to one receiver (a conditional
  write): a message that asked for an acknowledgement becomes invisible for the
  visibility timeout and comes back until it is acknowledged; any other is delivered once;
- acknowledging is idempotent (it removes the pending delivery; there is nothing to
  acknowledge twice);
- a broadcast reaches every node of the network: one event for streams, one delivery
  per node;
- a reply (Hub2d) is stored against the event it answers, with the latency since it.
"""
from __future__ import annotations

import time

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError

from chalicelib.clock import now_ms
from chalicelib.config import settings
from chalicelib.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from chalicelib.ids import stream_id, stream_id_time, ulid
from chalicelib.services import connections, events, fanout, idempotency, nodes
from chalicelib.services.insight import counters
from chalicelib.store.base import cancelled_by_condition, idempotency_key, page, transaction
from chalicelib.store.events import EventRecord
from chalicelib.store.messages import (MessageRecord as M, message_key, party_key, pending_pk,
                                       presence_pk, replies_pk)
from chalicelib.limits import RECEIVE_MAX as MAX_RECEIVE

MAX_CONTENT_BYTES = 256 * 1024
BROADCAST_CHUNK = 40  # deliveries per transaction (two items each, under DynamoDB's 100)
CARRIED = ("msg_id", "network_id", "sender", "recipient", "content", "type", "channel",
           "subject", "broadcast_id", "require_ack", "event_id", "source", "extra", "created_at")


def _content(value) -> str:
    if not isinstance(value, str):
        raise ValidationFailed("content", "'content' must be text")
    if len(value.encode("utf-8")) > MAX_CONTENT_BYTES:
        raise PayloadTooLarge(f"messages are limited to {MAX_CONTENT_BYTES} bytes of content")
    return value


def message_event_data(message: M) -> dict:
    """What a `message.new` event carries: Hub2d's event fields and the other dialects'."""
    return {"message_id": message.msg_id, "from": message.sender, "to": message.recipient,
            "content": message.content, "type": message.type,
            "room_id": message.channel or "general", "subject": message.subject,
            "broadcast_id": message.broadcast_id, "ts_ms": message.created_at}


def _new_message(network_id: str, *, sender: str, recipient: str | None, content: str,
                 type: str, channel: str | None, subject: str | None, require_ack: bool,
                 source: str, extra: dict | None, broadcast_id: str | None = None,
                 stamp: int | None = None) -> M:
    stamp = stamp or now_ms()
    msg_id = f"msg-{ulid(stamp).lower()}"
    return M(*message_key(network_id, msg_id), msg_id=msg_id, network_id=network_id,
             to_key=party_key(network_id, recipient) if recipient else None,
             from_key=party_key(network_id, sender), sender=sender, recipient=recipient,
             content=content, type=type, channel=channel, subject=subject,
             broadcast_id=broadcast_id, require_ack=require_ack, source=source,
             extra=extra or None, created_at=stamp)


def _pending(message: M) -> M:
    return M(pending_pk(message.network_id, message.recipient), message.msg_id,
             visible_at=message.created_at, deliveries=0,
             **{name: getattr(message, name) for name in CARRIED})


def send(network_id: str, *, account_id: str, sender: str, recipient: str, content,
         source: str, type: str = "text", channel: str | None = None,
         subject: str | None = None, require_ack: bool = False, extra: dict | None = None,
         idempotency_key_value: str | None = None) -> tuple[M, bool]:
    """Send one message for the principal whose ledger account is `account_id`; (message,
    sent). A retried send with the same key returns the first message (sent=False); the
    same key with another message is a Conflict."""
    sender = nodes.validate_node_id(sender, "from")
    recipient = nodes.validate_node_id(recipient, "to")
    content = _content(content)
    key = idempotency_key_value
    request_hash = idempotency.fingerprint(dict(
        sender=sender, recipient=recipient, content=content, type=type or "text",
        channel=channel, subject=subject, require_ack=bool(require_ack), extra=extra)) \
        if key else None
    if key:
        previous = _replay(network_id, account_id, key, request_hash)
        if previous is not None:
            return previous, False
    message = _new_message(network_id, sender=sender, recipient=recipient,
                           content=content, type=type or "text", channel=channel,
                           subject=subject, require_ack=bool(require_ack), source=source,
                           extra=extra)
    event = events.record(network_id, "message.new", message_event_data(message),
                          target=recipient, source=sender)
    message.event_id = event.event_id
    try:
        with transaction() as tx:
            tx.save(message, condition=M.pk.does_not_exist())
            tx.save(_pending(message))
            tx.save(event)
            counters.messages_sent(tx, network_id, 1, message.created_at)
            if key:
                tx.save(M(*idempotency_key(network_id, account_id, key), msg_id=message.msg_id,
                          request_hash=request_hash, created_at=message.created_at),
                        condition=M.pk.does_not_exist())
    except TransactWriteError as error:
        previous = key and cancelled_by_condition(error) and \
            _replay(network_id, account_id, key, request_hash)
        if previous:
            return previous, False
        raise
    fanout.announce(network_id, [event])
    return message, True


def _replay(network_id: str, account_id: str, key: str, request_hash: str) -> M | None:
    marker = idempotency.earlier(M, network_id, account_id, key, request_hash)
    return get(network_id, marker.msg_id) if marker else None


def broadcast(network_id: str, *, sender: str, content, source: str, type: str = "broadcast",
              channel: str | None = None, account_id: str | None = None,
              idempotency_key_value: str | None = None) -> tuple[EventRecord, list[str]]:
    """One message to every node of the network but the sender; (event, receivers). As
    with `send`, a retry with the principal's same key returns the first broadcast and
    sends nothing again; the same key with another message is a Conflict."""
    sender = nodes.validate_node_id(sender, "from")
    content = _content(content)
    key = idempotency_key_value if account_id else None
    request_hash = idempotency.fingerprint(dict(
        broadcast=True, sender=sender, content=content, type=type, channel=channel)) \
        if key else None
    if key:
        previous = _replay_broadcast(network_id, account_id, key, request_hash)
        if previous is not None:
            return previous
    receivers = sorted(n.node_id for n in nodes.list_nodes(network_id) if n.node_id != sender)
    stamp = now_ms()
    broadcast_id = f"bc-{ulid(stamp).lower()}"
    event = events.record(network_id, "message.new", {
        "message_id": broadcast_id, "broadcast_id": broadcast_id, "from": sender, "to": None,
        "content": content, "type": type, "room_id": channel or "general", "ts_ms": stamp,
        "receivers": receivers}, target=None, source=sender)
    copies = [_new_message(network_id, sender=sender, recipient=node_id, content=content,
                           type=type, channel=channel, subject=None, require_ack=False,
                           source=source, extra=None, broadcast_id=broadcast_id, stamp=stamp)
              for node_id in receivers]
    for copy in copies:
        copy.event_id = event.event_id
    for start in range(0, max(len(copies), 1), BROADCAST_CHUNK):
        try:
            with transaction() as tx:
                if start == 0:
                    tx.save(event)
                    counters.messages_sent(tx, network_id, 1, stamp)
                    if key:
                        tx.save(M(*idempotency_key(network_id, account_id, key),
                                  msg_id=broadcast_id, event_id=event.event_id,
                                  request_hash=request_hash, created_at=stamp),
                                condition=M.pk.does_not_exist())
                for copy in copies[start:start + BROADCAST_CHUNK]:
                    tx.save(copy)
                    tx.save(_pending(copy))
        except TransactWriteError as error:  # a concurrent retry with the same key won
            previous = start == 0 and key and cancelled_by_condition(error) and \
                _replay_broadcast(network_id, account_id, key, request_hash)
            if previous:
                return previous
            raise
    fanout.announce(network_id, [event])
    return event, receivers


def _replay_broadcast(network_id: str, account_id: str, key: str,
                      request_hash: str) -> tuple[EventRecord, list[str]] | None:
    marker = idempotency.earlier(M, network_id, account_id, key, request_hash)
    if marker is None:
        return None
    try:
        event = EventRecord.get(f"NET#{network_id}", marker.event_id, consistent_read=True)
    except DoesNotExist:
        raise Conflict("this idempotency key named a broadcast older than the event log "
                       "keeps") from None
    return event, list(event.data.get("receivers") or [])


def get(network_id: str, msg_id: str) -> M:
    try:
        return M.get(*message_key(network_id, str(msg_id)), consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"message {msg_id} not found") from None


# --------------------------------------------------------------------------- delivery


def _visible(network_id: str, recipient: str, count: int, at: int) -> list[M]:
    """Up to `count` deliveries visible at `at`, oldest first. Leased ones (awaiting an
    acknowledgement) are skipped; a receiver's own in-flight window bounds that reading."""
    visible = []
    for entry in M.query(pending_pk(network_id, recipient), consistent_read=True,
                         page_size=min(count * 2, MAX_RECEIVE)):
        if (entry.visible_at or 0) <= at:
            visible.append(entry)
        if len(visible) >= count:
            break
    return visible


def _take(network_id: str, recipient: str, count: int) -> list[M]:
    """Hand out up to `count` visible deliveries, each to this caller only.

    They are taken in one transaction (leased if they need an acknowledgement, removed
    if not); if another receiver took one first the transaction is cancelled, and they are
    read again and taken one by one, skipping what is gone.
    """
    at = now_ms()
    until = at + int(settings().visibility_timeout_s * 1000)
    visible = _visible(network_id, recipient, count, at)
    if len(visible) > 1:
        try:
            with transaction() as tx:
                for entry in visible:
                    _hand_out(entry, until, tx.save, tx.delete)
            return visible
        except TransactWriteError as error:
            if not cancelled_by_condition(error):
                raise
            visible = _visible(network_id, recipient, count, at)
    taken = []
    for entry in visible:
        try:
            _hand_out(entry, until, lambda e, **kw: e.save(**kw), lambda e, **kw: e.delete(**kw))
        except (PutError, DeleteError):
            continue  # another receiver took it first
        taken.append(entry)
    return taken


def _hand_out(entry: M, until: int, save, delete) -> None:
    """Lease (rewrite with a later `visible_at`, conditioned on the one read) or remove."""
    seen_visible_at = entry.visible_at
    entry.deliveries = (entry.deliveries or 0) + 1
    if entry.require_ack:
        entry.visible_at = until
        save(entry, condition=M.visible_at == seen_visible_at)
    else:
        delete(entry, condition=M.pk.exists())


def receive(network_id: str, recipient: str, *, count: int = 10, wait_s: float = 0.0,
            poll_s: float = 0.05) -> list[M]:
    """Pending messages for `recipient`, oldest first; with `wait_s`, a long-poll that
    returns as soon as something arrives."""
    recipient = nodes.validate_node_id(recipient)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_RECEIVE:
        raise ValidationFailed("count", f"'count' must be between 1 and {MAX_RECEIVE}")
    deadline = time.monotonic() + max(0.0, wait_s)
    while True:
        taken = _take(network_id, recipient, count)
        if taken or time.monotonic() >= deadline:
            return taken
        time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))


def ack(network_id: str, recipient: str, msg_id: str) -> bool:
    """Acknowledge a message to `recipient`: it will not be delivered again. True when
    this call acknowledged it, False when it already was (acknowledging twice is fine)."""
    recipient = nodes.validate_node_id(recipient)
    try:
        M(pending_pk(network_id, recipient), str(msg_id)).delete(condition=M.pk.exists())
        return True
    except DeleteError:
        message = get(network_id, msg_id)
        if message.recipient != recipient:
            raise NotFound(f"message {msg_id} not found in {recipient}'s inbox") from None
        return False


def mark_read(network_id: str, msg_id: str) -> M:
    message = get(network_id, msg_id)
    if not message.read_at:
        message.update(actions=[M.read_at.set(now_ms())])
    return message


# --------------------------------------------------------------------------- lists


def inbox_history(network_id: str, node: str, *, limit: int, cursor: str | None = None):
    """Messages sent to `node`, newest first (the by_recipient index: eventually
    consistent, so a message sent a moment ago may show a moment later)."""
    return page(M, party_key(network_id, nodes.validate_node_id(node)), limit=limit,
                cursor=cursor, index=M.by_recipient, newest_first=True)


def list_messages(network_id: str, *, recipient: str | None = None, channel: str | None = None,
                  limit: int = 50, cursor: str | None = None, offset: int = 0):
    """The network's messages newest first, optionally to one recipient or on one channel."""
    condition = M.channel == channel if channel else None
    if recipient:
        return page(M, party_key(network_id, nodes.validate_node_id(recipient, "recipient")),
                    limit=limit, cursor=cursor, offset=offset, index=M.by_recipient,
                    filter_condition=condition, newest_first=True)
    return page(M, f"NET#{network_id}", limit=limit, cursor=cursor, offset=offset,
                range_key_condition=M.sk.startswith("MSG#"), filter_condition=condition,
                newest_first=True)


# --------------------------------------------------------------------------- replies (Hub2d)


def _truncated(value) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return int(value)
    if value in (0, 1) or str(value).strip().lower() in ("0", "1", "true", "false"):
        return 1 if str(value).strip().lower() in ("1", "true") else 0
    raise ValidationFailed("truncated", "'truncated' must be 0, 1, true or false")


def reply(network_id: str, *, event_id: str, text, status: str, error: str | None = None,
          error_code: str | None = None, error_detail: str | None = None,
          client_latency_ms: int | None = None, truncated=None, orig_len=None,
          source: str) -> M:
    """Store a reply to an inbound event. `latency_ms` is ours, from the event to the
    reply's arrival; what the replying client measured is kept beside it. An error may come
    as `error`, or as a code and a detail: `error` is then the code."""
    try:
        inbound = EventRecord.get(f"NET#{network_id}", event_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"no event {event_id}: use the event_id /v1/send returned") from None
    if status not in ("ok", "error"):
        raise ValidationFailed("status", "'status' must be ok or error")
    if not isinstance(text, str):
        raise ValidationFailed("text", "'text' must be text")
    if orig_len is not None and (isinstance(orig_len, bool) or not isinstance(orig_len, int)
                                 or orig_len < 0):
        raise ValidationFailed("orig_len", "'orig_len' must be a non-negative integer or null")
    stamp = now_ms()
    reply_id = stream_id(stamp)
    inbound_ms = stream_id_time(event_id) or inbound.created_at
    record = M(replies_pk(network_id, event_id), reply_id, reply_id=reply_id, event_id=event_id,
               network_id=network_id, channel=inbound.data.get("room_id"), text=_content(text),
               status=status, error=error or error_code, error_code=error_code or error,
               error_detail=error_detail, truncated=_truncated(truncated), orig_len=orig_len,
               latency_ms=max(0, stamp - inbound_ms), client_latency_ms=client_latency_ms,
               sender=inbound.target,
               recipient=inbound.source, source=source, created_at=stamp)
    event = events.record(network_id, "message.reply", {
        "reply_id": reply_id, "in_reply_to": event_id,
        "message_id": inbound.data.get("message_id"), "from": inbound.target,
        "status": status, "text": record.text}, target=inbound.source, source=inbound.target)
    with transaction() as tx:
        tx.save(record)
        tx.save(event)
    fanout.announce(network_id, [event])
    return record


def replies(network_id: str, event_id: str) -> list[M]:
    return list(M.query(replies_pk(network_id, event_id), consistent_read=True))


# --------------------------------------------------------------------------- stream readers


def seen(network_id: str, subscriber: str, ttl_s: float, *,
         read: tuple[str, str] | None = None) -> None:
    """A stream reader is connected now, and will count as one for `ttl_s` seconds.
    `read=(delivered, upto)`: its last window ended at `upto`, and nothing after
    `delivered` (its last event, or where it started) was for it (see `resume_point`)."""
    actions = [M.network_id.set(network_id), M.expires_at.set(int(time.time() + ttl_s))]
    if read:
        actions += [M.skip_from.set(read[0]), M.skip_to.set(read[1])]
    M(presence_pk(network_id), subscriber).update(actions=actions)


def resume_point(network_id: str, subscriber: str, last_event_id: str | None) -> str | None:
    """Where a returning reader resumes (None: from now on).

    Many SSE clients take their position only from the events they receive: an `id:` line
    without data, which is how a window with nothing for them names its end, is skipped by
    hand-written readers and by sseclient-py alike. Such a reader comes back with the id of
    its last event, or with none. The presence item remembers where its last window ended
    and that nothing between its last event and that end was for it, so the reader resumes
    at the end: it neither re-reads a growing run of other readers' events on every request
    nor, having no position, misses what arrived between two windows.
    """
    try:
        presence = M.get(presence_pk(network_id), subscriber, consistent_read=True)
    except DoesNotExist:
        return last_event_id
    if not presence.skip_to:
        return last_event_id
    if last_event_id is None:  # only a reader seen moments ago continues; others start now
        return presence.skip_to if (presence.expires_at or 0) >= time.time() else None
    if presence.skip_from <= last_event_id < presence.skip_to:
        return presence.skip_to
    return last_event_id


def stream_clients(network_id: str) -> int:
    """Readers of event streams seen lately plus live WebSocket connections."""
    now_s = int(time.time())
    readers = sum(1 for r in M.query(presence_pk(network_id), consistent_read=True)
                  if (r.expires_at or 0) > now_s)
    return readers + len(connections.in_network(network_id))

