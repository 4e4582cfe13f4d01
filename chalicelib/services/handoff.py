"""Handing assigned tasks to their nodes: by the node's pull or by a push on its WebSocket,
whichever comes first, and once per assignment.

A node's record carries `handoff`: the ids of the tasks assigned to it that it has not been
handed yet.
- Routing (a create, batch assignment) adds the task in the transaction that assigns it;
  a claim from the queue hands the task in its own answer and never adds it; a task that
  leaves the node (completed, failed, requeued, cancelled) is removed in the transaction
  that moves it. So `handoff` is exactly "assigned here, not yet handed".
- Handing is one conditional update that removes the id (`contains(handoff, id)`): of two
  racing handers — a pull and a push, or two pushes — exactly one wins, and the node reads
  `handoff` for free with its own record, so a pull with nothing to catch up on costs nothing.
- A push is a fast path, never the only copy: a push that fails gives the task back, and a
  node that connects again is handed everything it holds (its previous connection may have
  taken work down with it), so it catches up.
"""
from __future__ import annotations

from pynamodb.exceptions import UpdateError

from chalicelib import logs
from chalicelib.push.envelopes import node_envelope
from chalicelib.services import connections
from chalicelib.store.nodes import NodeRecord as N, node_key

log = logs.get("handoff")


def take(network_id: str, node_id: str, task_id: str, *, connection_id: str | None = None) -> bool:
    """Hand `task_id` to its node if nobody has (True once per assignment). With
    `connection_id`, only while the node is still connected there (a push)."""
    condition = N.handoff.contains(task_id)
    if connection_id:
        condition &= N.connection_id == connection_id
    try:
        N(*node_key(network_id, node_id)).update(actions=[N.handoff.delete({task_id})],
                                                 condition=condition)
    except UpdateError:
        return False
    return True


def give_back(network_id: str, node_id: str, task_ids) -> None:
    """Make tasks the node holds waiting to be handed again (a push that failed, a reconnect)."""
    try:
        N(*node_key(network_id, node_id)).update(actions=[N.handoff.add(set(task_ids))],
                                                 condition=N.pk.exists())
    except UpdateError:
        pass  # the node is gone: nothing to hand to


def assignment(task) -> dict:
    """TASK_ASSIGN's payload, in the shape the GemmaNet SDK reads."""
    payload = task.payload or {}
    return {"task_id": task.task_id,
            "task_type": task.task_type or next(iter(task.capabilities or []), "task"),
            "content": payload.get("content") or task.description or task.title,
            "params": payload.get("params") or {}, "reward": int(task.lux_reward or 0),
            "stream": False, "title": task.title, "priority": task.priority}


def push(task, connection_id: str) -> bool:
    """TASK_ASSIGN on a connection the task was taken for; a push that fails gives the task
    back (it must never fail the change that was committed: the task is durable)."""
    try:
        if connections.deliver(connection_id, node_envelope("TASK_ASSIGN", assignment(task))):
            return True
    except Exception:
        log.exception("push failed", extra={"task_id": task.task_id,
                                            "node_id": task.assigned_node})
    give_back(task.network_id, task.assigned_node, [task.task_id])
    return False


def offer(task, node) -> bool:
    """After routing gave `task` to `node`: push it if the node is connected and has not
    pulled it meanwhile. Pushing is best effort: the task stays handable by a pull."""
    if not node.connection_id:
        return False
    return take(task.network_id, node.node_id, task.task_id,
                connection_id=node.connection_id) and push(task, node.connection_id)
