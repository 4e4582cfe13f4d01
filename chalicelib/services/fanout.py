"""What happens after a change is committed: pushes to live WebSocket connections.

- a task assigned to a node that holds a `/ws/node` connection is pushed to it as
  TASK_ASSIGN (whichever dialect created or routed the task);
- every event goes to the platform `/ws` connections subscribed to its type;
- a node account's balance change goes to the node as CREDIT_UPDATE.
Pushes are a fast path, never the only copy: a push to a gone connection forgets the
connection, and the node catches up from the durable store when it registers again.
"""
from __future__ import annotations

import threading
import time

from pynamodb.exceptions import DoesNotExist

from chalicelib import logs
from chalicelib.push.envelopes import node_envelope, platform_event
from chalicelib.services import connections
from chalicelib.store.nodes import NodeRecord, node_key
from chalicelib.store.tasks import TaskRecord, task_key

log = logs.get("fanout")
ASSIGNED_EVENTS = ("task.created", "task.updated")
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


def task_assign_payload(task) -> dict:
    payload = task.payload or {}
    return {"task_id": task.task_id, "task_type": task.task_type or next(iter(task.capabilities or []), "task"),
            "content": payload.get("content") or task.description or task.title,
            "params": payload.get("params") or {}, "reward": int(task.lux_reward or 0),
            "stream": False, "title": task.title, "priority": task.priority}


def push_assignment(network_id: str, task_id: str, node_id: str) -> bool:
    """TASK_ASSIGN to the node's live connection; False if it has none (it pulls instead)."""
    connection_id = _node_connection(network_id, node_id)
    if not connection_id:
        return False
    try:
        task = TaskRecord.get(*task_key(network_id, task_id), consistent_read=True)
    except DoesNotExist:
        return False
    if task.status not in ("assigned", "running") or task.assigned_node != node_id:
        return False
    return connections.deliver(connection_id, node_envelope("TASK_ASSIGN", task_assign_payload(task)))


def _may_see(connection, event) -> bool:
    """A notification is its recipient's alone (services/notifications.py)."""
    return event.type != "notification" or \
        event.target in (connection.user_id, connection.account_id)


def announce(network_id: str, events) -> None:
    for event in events:
        try:
            data = event.data or {}
            if event.type in ASSIGNED_EVENTS and data.get("status") == "assigned" and data.get("node_id"):
                push_assignment(network_id, data["task_id"], data["node_id"])
            for connection in _event_subscribers(network_id):
                if subscribed(connection.subscriptions, event.type) and _may_see(connection, event):
                    connections.deliver(connection.connection_id, platform_event(event))
        except Exception:  # a failed push must never undo or fail the committed change
            log.exception("push failed", extra={"network_id": network_id, "event": event.type})


def credit_changed(network_id: str, account_id: str, entry, reason: str) -> None:
    """CREDIT_UPDATE to a node whose account changed, if it is connected."""
    if not account_id.startswith("node:"):
        return
    node_id = account_id[len("node:"):]
    try:
        connection_id = _node_connection(network_id, node_id)
        if connection_id:
            connections.deliver(connection_id, node_envelope("CREDIT_UPDATE", {
                "node_id": node_id, "balance": int(entry.balance_after),
                "change": int(entry.amount), "reason": reason, "task_id": entry.task_id}))
    except Exception:
        log.exception("credit push failed", extra={"network_id": network_id})
