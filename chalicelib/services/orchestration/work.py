"""Tasks that orchestration makes (workflow steps, chat messages, trigger actions), and
what happens when they end.

A task made here is an ordinary task (routed, leased, retried and listed like any other),
and a task link (store/reactions.py) records which record it works for. When the task
ends, the owner's handler is called with the link and the task — from the fast path right
after the task's final move, by the creator itself if the task ended before its link was
written, and again by the durable sweep if both were missed. The link's `handled` mark is
written in the same transaction as the owner's effect (`settle`), so an end has one
effect however often it is seen.

Agents: a task for an agent requires the capability `agent:<agent id>` (services/tasks.py
`create`), which only the node the agent runs on holds while the agent is started
(services/orchestration/agents.py): routing, pulls and batch assignment then give it to
that node and no other, and a stopped agent's tasks wait in the queue.
"""
from __future__ import annotations

from typing import Callable

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.auth.principal import Principal
from chalicelib.clock import now_ms
from chalicelib.services import reactions, tasks
from chalicelib.store.reactions import TaskLinkRecord as L, task_link_key

ENDED = frozenset({"completed", "failed", "dead_lettered", "expired", "cancelled"})
TASK_EVENTS = ("task.completed", "task.failed", "task.updated")

_owners: dict[str, Callable] = {}


def owner(name: str):
    """Register `handler(network_id, link, task)` for the ends of tasks linked to `name`."""
    def register(handler):
        _owners[name] = handler
        return handler
    return register


def actor(network_id: str, account_id: str) -> Principal:
    """Who a task made by orchestration is created by (a run, a trigger, a user's chat)."""
    return Principal(network_id=network_id, kind="service", account_id=account_id)


def create_task(network_id: str, *, owner_kind: str | None, refs: dict | None, key: str,
                created_by: str, title: str, description: str | None = None,
                agent_id: str | None = None, payload: dict | None = None, priority=None,
                capabilities=None, max_attempts: int | None = None, source: str = "platform",
                connected_only: bool = False):
    """Create (once per `key`) a task working for `owner_kind`/`refs`; (task, created)."""
    if owner_kind:
        reactions.follow(network_id)
    task, created = tasks.create(actor(network_id, created_by), title=title, source=source,
                                 description=description, priority=priority,
                                 capabilities=capabilities, payload=payload, agent_id=agent_id,
                                 max_attempts=max_attempts, idempotency_key_value=key,
                                 connected_node_only=connected_only)
    if owner_kind:
        found = L(*task_link_key(network_id, task.task_id), kind="tasklink", id=task.task_id,
                  network_id=network_id, owner=owner_kind, refs=refs or {},
                  created_at=now_ms())
        try:
            found.save(condition=L.pk.does_not_exist())
        except PutError:
            found = link(network_id, task.task_id)  # a retry: linked by the first attempt
        task = tasks.get(network_id, task.task_id)
        if task.status in ENDED and found.handled != marker(task):
            _owners[owner_kind](network_id, found, task)  # it ended before it was linked
    return task, created


def link(network_id: str, task_id: str) -> L | None:
    try:
        return L.get(*task_link_key(network_id, task_id), consistent_read=True)
    except DoesNotExist:
        return None


def marker(task) -> str:
    return f"{task.status}@{task.completed_at or task.updated_at}"


def settle(tx, found: L, task) -> None:
    """Mark the link's end handled, in the transaction of the owner's effect: the effect
    happens once (a second handler's transaction is cancelled)."""
    mark = marker(task)
    tx.update(found, actions=[L.handled.set(mark), L.handled_at.set(now_ms())],
              condition=L.handled.does_not_exist() | (L.handled != mark))


@reactions.on(*TASK_EVENTS)
def task_moved(network_id: str, event) -> None:
    data = event.data or {}
    if data.get("status") not in ENDED or not data.get("task_id"):
        return
    found = link(network_id, data["task_id"])
    if found is None or found.owner not in _owners:
        return
    task = tasks.get(network_id, data["task_id"])
    if task.status not in ENDED or found.handled == marker(task):
        return
    _owners[found.owner](network_id, found, task)
