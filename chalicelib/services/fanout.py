"""What happens after a change is committed: pushes to live WebSocket connections.

- every event goes to the platform `/ws` connections subscribed to its type;
- a node account's balance change goes to the node as CREDIT_UPDATE;
- each committed batch goes to services/reactions.py (the fast path of reactions, whose
  durable path reads the event log).
Pushes are a fast path, never the only copy: a push to a gone connection forgets the
connection. (Tasks are pushed to their nodes by services/handoff.py, which also decides
whether a task was already handed.)
"""
from __future__ import annotations

import threading
import time

from pynamodb.exceptions import DoesNotExist

from chalicelib import logs
from chalicelib.push.envelopes import node_envelope, platform_event
from chalicelib.services import connections
from chalicelib.store.base import in_parallel
from chalicelib.store.ledger import LedgerRecord, account_pk
from chalicelib.store.nodes import NodeRecord, node_key

log = logs.get("fanout")
SUBSCRIBERS_TTL_S = 1.0

_subscribers: dict[str, tuple[float, list]] = {}
_lock = threading.Lock()


def _event_subscribers(network_id: str) -> list:
    """The network's `/ws` subscribers, cached for a second per instance: most events have
    no subscriber, and this keeps them from costing a Query each."""
    entry = _subscribers.get(network_id)
    if entry and entry[0] > time.monotonic():
        return entry[1]
    found = [c for c in connections.in_network(network_id, "events") if c.subscriptions]
    with _lock:
        _subscribers[network_id] = (time.monotonic() + SUBSCRIBERS_TTL_S, found)
    return found


def subscribed(subscriptions, event_type: str) -> bool:
    """Subscriptions name event types, `*`, or a family (`agent.*`)."""
    return any(s == "*" or s == event_type or (s.endswith(".*") and event_type.startswith(s[:-1]))
               for s in subscriptions or ())


def forget_subscribers(network_id: str) -> None:
    with _lock:
        _subscribers.pop(network_id, None)


def _node_connection(network_id: str, node_id: str) -> str | None:
    try:
        node = NodeRecord.get(*node_key(network_id, node_id), consistent_read=True)
    except DoesNotExist:
        return None
    return node.connection_id


def _may_see(connection, event) -> bool:
    """A notification addressed to someone is theirs alone (services/notifications.py);
    one addressed to no one is for every subscriber."""
    return event.type != "notification" or event.target is None or \
        event.target in (connection.user_id, connection.account_id)


def announce(network_id: str, events) -> None:
    for event in events:
        try:
            for connection in _event_subscribers(network_id):
                if subscribed(connection.subscriptions, event.type) and _may_see(connection, event):
                    connections.deliver(connection.connection_id, platform_event(event))
        except Exception:  # a failed push must never undo or fail the committed change
            log.exception("push failed", extra={"network_id": network_id, "event": event.type})
    from chalicelib.services import reactions  # imports fanout: a cycle at module level
    try:
        reactions.dispatch(network_id, events)
    except Exception:  # the durable path (the event log) will try again
        log.exception("reactions failed", extra={"network_id": network_id})


def credit_changed(network_id: str, account_id: str, entry, reason: str) -> None:
    """CREDIT_UPDATE to a node whose account changed, if it is connected, with the balance
    as it stands after the change (and any that landed with it)."""
    if not account_id.startswith("node:"):
        return
    node_id = account_id[len("node:"):]
    try:
        connection_id, account = in_parallel(
            lambda: _node_connection(network_id, node_id),
            lambda: LedgerRecord.get(account_pk(network_id, account_id), "ACCOUNT",
                                     consistent_read=True))
        if connection_id:
            connections.deliver(connection_id, node_envelope("CREDIT_UPDATE", {
                "node_id": node_id, "balance": int(account.balance),
                "change": int(entry.amount), "reason": reason, "task_id": entry.task_id}))
    except Exception:
        log.exception("credit push failed", extra={"network_id": network_id})
