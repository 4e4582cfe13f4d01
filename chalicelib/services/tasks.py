"""Tasks: one state machine for every dialect, routing, leases, retries and dead letters.

States and the moves between them (anything else is an IllegalTransition):

    pending ──► assigned ──► running ──► completed
       │  ▲        │ │          │ │
       │  └────────┘ └──► failed│ └──► (back to pending when a lease lapses or a node
       │   requeue          ▲   │       fails it, with its attempt count; after the
       ▼                    │   ▼       last attempt: dead_lettered)
    cancelled / expired   dead_lettered ──► pending (retry)

Two waiting states belong to the platform's orchestration (services/orchestration/):
- awaiting_approval: a task created with `requires_approval` waits here, visible and
  never queued, until its approval is decided: approved → pending (queued and routed),
  rejected or expired → failed with the reason;
- review: a task created with `review_required` that completes goes here instead, holding
  its result, and a code review opens; approve → completed, reject → pending for another
  attempt, the review's feedback in its payload.

Every move is one DynamoDB transaction (`_commit`) that also writes what the move implies:
the queue entry a pending task sits in, the held entry and counter of the node holding it
(and its hand-off set, services/handoff.py), the dead-letter entry, the task's event record,
the event in the network's log, the counters it adds to (services/insight/counters.py:
status counts, the day's analytics, what the work cost), and the ledger entries the move
pays (a reward, a refund). The task update is conditioned on the
state and version (`updated_at`) it was read in, so two racing writers can never both move
it: two nodes can never hold the same task.

Delivery to nodes, one rule for every dialect (SkyCetus `task/pull`, platform
`workers/{id}/tasks`, the GemmaNet push): a node is first handed the tasks already assigned
to it that it has not been handed yet, oldest first; then it claims from the queue, most
urgent first and first-in-first-out within a priority when nobody else is claiming. Under
contention a claim spreads over the head of the queue and keeps trying: it never fails and
never hands a task twice; it comes back empty only when there is nothing it can do.
"""
from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib import logs
from chalicelib.auth.principal import Principal
from chalicelib.clock import now_ms
from chalicelib.config import settings
from chalicelib.errors import (Conflict, IllegalTransition, NotFound, PaymentRequired,
                               ValidationFailed)
from chalicelib.ids import ulid
from chalicelib.services import events, fanout, handoff, idempotency, ledger, nodes
from chalicelib.services.insight import cost, counters
from chalicelib.store.base import (cancelled_by_condition, idempotency_key, in_parallel, page,
                                   transaction)
from chalicelib.store.nodes import NodeRecord as N, node_key
from chalicelib.store.tasks import (TaskRecord as T, completions_pk, dlq_pk, events_pk, held_pk,
                                    queue_pk, read_counters, task_key)

log = logs.get("tasks")

STATUSES = ("pending", "assigned", "running", "completed", "failed", "cancelled", "expired",
            "dead_lettered", "awaiting_approval", "review")
HELD = frozenset({"assigned", "running"})
UNSERVED = frozenset({"failed", "dead_lettered", "expired", "cancelled"})  # ended without a result
TRANSITIONS = {
    "pending": {"assigned", "running", "completed", "cancelled", "expired", "dead_lettered",
                "review"},
    "assigned": {"running", "completed", "failed", "pending", "cancelled", "expired",
                 "dead_lettered", "review"},
    "running": {"completed", "failed", "pending", "cancelled", "expired", "dead_lettered",
                "review"},
    "awaiting_approval": {"pending", "failed", "cancelled", "expired"},
    "review": {"completed", "pending", "cancelled"},
    "failed": {"pending", "dead_lettered"},
    "dead_lettered": {"pending", "failed"},
    "completed": set(), "cancelled": set(), "expired": set(),
}
# What clients of the five dialects call the same states.
STATUS_ALIASES = {
    "queued": "pending", "new": "pending", "open": "pending", "todo": "pending",
    "delivered": "assigned", "claimed": "assigned",
    "in_progress": "running", "in-progress": "running", "working": "running", "started": "running",
    "processing": "running",
    "replied": "completed", "done": "completed", "success": "completed", "succeeded": "completed",
    "error": "failed", "canceled": "cancelled", "timeout": "expired", "timed_out": "expired",
    "dead_letter": "dead_lettered", "dead-lettered": "dead_lettered", "dlq": "dead_lettered",
    "pending_approval": "awaiting_approval", "waiting_approval": "awaiting_approval",
    "in_review": "review",
}
PRIORITY_RANKS = {"critical": 0, "urgent": 0, "high": 1, "medium": 3, "normal": 3, "low": 5}
DEFAULT_PRIORITY = "medium"
CLAIM_WINDOW = 5             # queue entries a claimer reads per partition: alone, it needs one
CLAIM_WINDOW_CONTENDED = 50  # once it lost a race: racing claimers spread over this many
CLAIM_TRIES = 3              # entries tried before reading the queue afresh
CLAIM_BACKOFF_S = 0.02      # most a contended claimer waits before reading the queue again
CONTENTION_MEMORY_S = 1.0   # how long a lost race makes this instance's claims spread
CLAIM_BUDGET_S = 10.0       # a claim still losing every race after this long answers "none"
CREATE_ATTEMPTS = 5


def normalize_status(value, field: str = "status") -> str:
    text = str(value or "").strip().lower()
    status = STATUS_ALIASES.get(text, text)
    if status not in STATUSES:
        raise ValidationFailed(field, f"unknown status {value!r}; one of {', '.join(STATUSES)}")
    return status


def normalize_priority(value) -> tuple[str, int]:
    """(label, rank): names (critical/high/medium/low), pN (p0 highest) or numbers 0-9."""
    if value is None or value == "":
        return DEFAULT_PRIORITY, PRIORITY_RANKS[DEFAULT_PRIORITY]
    if isinstance(value, bool):
        raise ValidationFailed("priority", "priority must be a name, pN or a number")
    text = str(value).strip().lower()
    if text in PRIORITY_RANKS:
        return text, PRIORITY_RANKS[text]
    digits = text[1:] if text.startswith("p") else text
    if digits.isdigit() and 0 <= int(digits) <= 9:
        return text, int(digits)
    raise ValidationFailed("priority", f"unknown priority {value!r}: use critical, high, medium, "
                                       "low, p0-p9 or 0-9")


# --------------------------------------------------------------------------- reading


def get(network_id: str, task_id: str) -> T:
    try:
        return T.get(*task_key(network_id, str(task_id)), consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"task {task_id} not found") from None


@dataclass
class TaskFilter:
    status: str | None = None
    priority: str | None = None
    node: str | None = None
    from_name: str | None = None
    to_name: str | None = None
    agent_id: str | None = None

    def condition(self):
        parts = []
        if self.status:
            parts.append(T.status == normalize_status(self.status))
        if self.priority:
            parts.append(T.priority == normalize_priority(self.priority)[0])
        if self.node:
            parts.append(T.assigned_node == self.node)
        if self.from_name:
            parts.append(T.from_name == self.from_name)
        if self.to_name:
            parts.append((T.to_name == self.to_name) | (T.assigned_node == self.to_name))
        if self.agent_id:
            parts.append(T.agent_id == self.agent_id)
        condition = None
        for part in parts:
            condition = part if condition is None else condition & part
        return condition


def list_tasks(network_id: str, filters: TaskFilter | None = None, *, limit: int = 50,
               cursor: str | None = None, offset: int = 0) -> tuple[list[T], str | None]:
    """Tasks newest first, strongly consistent, one bounded page at a time (see store.base.page)."""
    return page(T, f"NET#{network_id}", limit=limit, cursor=cursor, offset=offset,
                range_key_condition=T.sk.startswith("TASK#"),
                filter_condition=filters.condition() if filters else None, newest_first=True)


def held_by(network_id: str, node_id: str) -> list[T]:
    entries = list(T.query(held_pk(network_id, node_id), consistent_read=True))
    if not entries:
        return []
    return sorted(T.batch_get([task_key(network_id, e.task_id) for e in entries]),
                  key=lambda t: t.task_id)


def task_events(network_id: str, task_id: str, *, limit: int = 100,
                cursor: str | None = None) -> tuple[list[T], str | None]:
    return page(T, events_pk(network_id, task_id), limit=limit, cursor=cursor)


def completions(network_id: str, *, limit: int = 20, cursor: str | None = None):
    return page(T, completions_pk(network_id), limit=limit, cursor=cursor, newest_first=True)


def stats(network_id: str) -> dict:
    """Counts by status (and created by priority) from the counters every move keeps;
    `today`: tasks created today (UTC), from the day's analytics counters."""
    from chalicelib.services.insight import analytics
    totals, today = in_parallel(lambda: read_counters(network_id),
                                lambda: analytics.created_on(network_id, counters.day_of(now_ms())))
    by_status = {s: max(0, totals.get(f"count_{s}", 0)) for s in STATUSES}
    by_priority = {k[5:]: v for k, v in totals.items() if k.startswith("prio_") and v > 0}
    return {"total": max(0, totals.get("total", 0)), "by_status": by_status,
            "by_priority": by_priority, "today": today}


# --------------------------------------------------------------------------- writing


COPIED = tuple(name for name in T.get_attributes() if name not in ("pk", "sk", "queue_pk", "queue_sk"))


def _fields(item: T) -> dict:
    return {name: value for name in COPIED if (value := getattr(item, name)) is not None}


def _queue_entry(task: T) -> T:
    """A pending task's place in the queue. It carries a copy of the task, so a claim can
    move and return the task without reading it first: the queue read was consistent, and
    the move is conditioned on the task's version being the one copied."""
    capability = (sorted(task.capabilities or []) or ["*"])[0]
    shard = int(hashlib.sha1(task.task_id.encode()).hexdigest(), 16) % settings().queue_shards
    return T(queue_pk(task.network_id, capability, shard), f"{int(task.rank)}#{task.task_id}",
             **_fields(task))


def _from_queue(entry: T) -> T:
    return T(*task_key(entry.network_id, entry.task_id), queue_pk=entry.pk, queue_sk=entry.sk,
             **_fields(entry))


def summary(task: T, *, status: str | None = None, node: str | None = None, **extra) -> dict:
    """What task events carry: enough for every stream's rendering."""
    node = node if status else task.assigned_node
    return {"task_id": task.task_id, "title": task.title, "status": status or task.status,
            "priority": task.priority, "from": task.from_name or task.created_by,
            "to": node or task.to_name or task.requested_node, "node_id": node, **extra}


EVENT_TYPES = {"completed": "task.completed", "failed": "task.failed",
               "dead_lettered": "task.failed", "expired": "task.failed"}


def _refund(task: T) -> tuple[ledger.Posting, object]:
    """The refund of a call's charge, with the account as it stands."""
    return (ledger.Posting(task.network_id, task.charged_account, int(task.charged), "refund",
                           key=f"refund:{task.task_id}", task_id=task.task_id,
                           memo="call not served"),
            ledger.account_state(task.network_id, task.charged_account))


def _commit(task: T, to_status: str, *, actor: str, node: N | None = None,
            expected_node: str | None = None, reason: str | None = None,
            sets: dict | None = None, postings=(), hand_off: bool = False) -> T:
    """Move `task` to `to_status` with every item the move implies, atomically.

    `node` is the node that will hold the task (entering assigned/running); a task leaving
    those states releases the node that held it. `hand_off` (routing) leaves the task
    waiting in the node's hand-off set, and then needs the node to have room; without it
    the caller hands the task over itself (a claim). `postings` are (ledger.Posting,
    account) pairs paid in the same transaction; a call's charge is refunded in the move
    that ends it unserved. The transaction is cancelled (a TransactWriteError) when the
    task is no longer as it was read, or no longer held by `expected_node`.
    """
    origin = task.status
    if to_status not in TRANSITIONS[origin]:
        raise IllegalTransition(f"a {origin} task cannot become {to_status}",
                                status=origin, requested=to_status)
    if task.charged and origin in UNSERVED:
        raise IllegalTransition(f"a {origin} call is final: its charge was refunded",
                                status=origin, requested=to_status)
    if task.charged and to_status in UNSERVED:
        postings = [*postings, _refund(task)]
    network_id, stamp, task_id = task.network_id, now_ms(), task.task_id
    values = {"status": to_status, "updated_at": stamp, **(sets or {})}
    removals = []
    holder = task.assigned_node
    counted_on = None  # the node whose item this move updates: its counters are in the move
    entries = []
    with transaction() as tx:
        if origin == "pending" and task.queue_pk:
            # conditioned, so a claim that lost the race fails on its first item
            tx.delete(T(task.queue_pk, task.queue_sk), condition=T.pk.exists())
            removals += ["queue_pk", "queue_sk"]
        if origin in HELD and to_status not in HELD:
            tx.delete(T(held_pk(network_id, holder), f"TASK#{task_id}"))
            tx.update(N(*node_key(network_id, holder)),
                      actions=[N.active_tasks.add(-1), N.handoff.delete({task_id})],
                      condition=N.pk.exists())
            counted_on = holder
            if to_status in ("pending", "dead_lettered"):
                values["last_node"] = holder
                removals.append("assigned_node")
        if origin in HELD and to_status in HELD:  # the holder starts it: it has it now
            tx.update(N(*node_key(network_id, holder)), actions=[N.handoff.delete({task_id})],
                      condition=N.pk.exists())
            counted_on = holder
            values["started_at"] = stamp
        if to_status in HELD and origin not in HELD:
            tx.save(T(held_pk(network_id, node.node_id), f"TASK#{task_id}", task_id=task_id,
                      lease_expires_at=stamp + settings().lease_s * 1000))
            actions = [N.active_tasks.add(1), N.last_assigned_at.set(stamp)]
            condition = N.pk.exists()
            if hand_off:
                actions.append(N.handoff.add({task_id}))
                condition &= N.active_tasks < N.max_concurrent
            tx.update(node, actions=actions, condition=condition)
            counted_on = node.node_id
            values.update(assigned_node=node.node_id, attempts=(task.attempts or 0) + 1)
            if to_status == "running":
                values["started_at"] = stamp
        if node is not None and origin not in HELD and to_status not in HELD:
            # a node finishing a task it never claimed (SkyCetus completes pending tasks)
            values.update(assigned_node=node.node_id, attempts=(task.attempts or 0) + 1)
        if to_status in ("completed", "failed", "cancelled", "expired"):
            values["completed_at"] = stamp
        after = T(task.pk, task.sk, **{**_fields(task), **values})
        for name in removals:
            if name not in values:
                setattr(after, name, None)
        if to_status == "pending":
            entry = _queue_entry(after)
            tx.save(entry)
            values.update(queue_pk=entry.pk, queue_sk=entry.sk)
        if to_status == "dead_lettered":
            tx.save(T(dlq_pk(network_id), f"TASK#{task_id}", task_id=task_id, title=task.title,
                      reason=reason, error=after.error, attempts=after.attempts,
                      created_at=stamp))
        if origin == "dead_lettered":
            tx.delete(T(dlq_pk(network_id), f"TASK#{task_id}"))
        if to_status == "completed":
            tx.save(T(completions_pk(network_id), ulid(stamp), task_id=task_id, title=task.title,
                      assigned_node=after.assigned_node, result=after.result,
                      from_name=task.from_name, to_name=task.to_name, created_at=stamp))
        holder_after = after.assigned_node
        target = holder_after or task.to_name or task.requested_node
        tx.save(T(events_pk(network_id, task_id), f"EV#{ulid(stamp)}", task_id=task_id,
                  from_status=origin, to_status=to_status, actor=actor, reason=reason,
                  assigned_node=holder_after, created_at=stamp))
        event = events.record(network_id, EVENT_TYPES.get(to_status, "task.updated"),
                              summary(task, status=to_status, node=holder_after,
                                      previous_status=origin, reason=reason),
                              target=target, source=actor)
        tx.save(event)
        for posting, account in postings:
            entries.append((posting, ledger.add_to_transaction(tx, posting, account)))
        costs = counters.moved(tx, task, after, origin=origin, node_id=counted_on, stamp=stamp,
                               result_committed="result" in values)
        condition = T.status == origin
        if task.updated_at is not None:
            condition &= T.updated_at == task.updated_at
        if expected_node:
            condition &= T.assigned_node == expected_node
        tx.update(task, actions=[getattr(T, k).set(v) for k, v in values.items()] +
                  [getattr(T, name).remove() for name in removals if name not in values],
                  condition=condition)
    if costs:
        cost.check_budget(network_id, stamp)
    fanout.announce(network_id, [event])
    for posting, entry in entries:
        fanout.credit_changed(network_id, posting.account_id, entry,
                              "task_reward" if posting.tx_type == "reward" else posting.tx_type)
    for key, value in values.items():
        setattr(task, key, value)
    for name in removals:
        if name not in values:
            setattr(task, name, None)
    return task


def _try_commit(task: T, to_status: str, **kwargs) -> T | None:
    """`_commit`, returning None when the task moved under us or the node changed."""
    try:
        return _commit(task, to_status, **kwargs)
    except TransactWriteError as error:
        if _retryable(error):
            return None
        raise


def _move(network_id: str, task_id: str, to_status: str, *, attempts: int = 5, **kwargs) -> T:
    """Read the task fresh and move it, retrying when a concurrent writer got there first."""
    for _ in range(attempts):
        task = get(network_id, task_id)
        moved = _try_commit(task, to_status, **kwargs)
        if moved is not None:
            return moved
    raise Conflict(f"task {task_id} is changing concurrently; try again")


# --------------------------------------------------------------------------- create


def _retryable(error: TransactWriteError) -> bool:
    return cancelled_by_condition(error) or "TransactionConflict" in str(error)


def create(principal: Principal, *, title: str, source: str, description: str | None = None,
           priority=None, capabilities=None, task_type: str | None = None,
           payload: dict | None = None, lux_reward=None, requested_node: str | None = None,
           from_name: str | None = None, to_name: str | None = None, agent_id: str | None = None,
           deadline=None, max_attempts=None, idempotency_key_value: str | None = None,
           route: bool = True, connected_node_only: bool = False,
           charge: int = 0, requires_approval: bool = False,
           approval_timeout_s: int | None = None,
           review_required: bool = False) -> tuple[T, bool]:
    """Create a task and route it at once if a node can take it; (task, created).

    With an idempotency key, a retried create by the same principal returns the first task
    (created=False); the same key with a different request is a Conflict (services/
    idempotency.py). `connected_node_only` is for work that must be pushed at once
    (synchronous calls): it goes to a node holding a WebSocket connection and is pushed
    there, or is not created at all (NotFound) — it never waits in the queue. `charge`
    credits are taken from the creator in the same transaction (PaymentRequired if its
    balance is short), and refunded in whichever move ends the task unserved.
    `agent_id` makes the task need its agent's capability (`agent:<id>`): only the node the
    agent runs on, while it runs, takes it. `requires_approval` holds the task in
    `awaiting_approval` behind a new approval; `review_required` sends it to `review` when
    it completes (see the module's notes).
    """
    from chalicelib.clock import parse_time
    title = str(title or "").strip()
    if not title:
        raise ValidationFailed("title", "'title' is required")
    label, rank = normalize_priority(priority)
    capabilities = nodes.strings(capabilities, "capabilities")
    if task_type and task_type not in capabilities:
        capabilities = sorted(capabilities + [task_type])
    if agent_id:
        from chalicelib.services.orchestration import agents
        agents.get(principal.network_id, agent_id)  # NotFound: "Agent not found"
        capabilities = sorted(set(capabilities) | {agents.capability(agent_id)})
    if lux_reward is not None and (isinstance(lux_reward, bool) or not isinstance(lux_reward, (int, float))
                                   or lux_reward < 0):
        raise ValidationFailed("lux_reward", "'lux_reward' must be a non-negative number")
    if max_attempts is not None and (not isinstance(max_attempts, int) or max_attempts < 1):
        raise ValidationFailed("max_attempts", "'max_attempts' must be a positive integer")
    try:
        deadline_ms = parse_time(deadline)
    except ValueError:
        raise ValidationFailed("deadline", "'deadline' is not a readable time") from None
    network_id, account_id = principal.network_id, principal.account_id
    fields = dict(title=title, description=description, priority=label, capabilities=capabilities,
                  task_type=task_type, payload=payload, lux_reward=lux_reward,
                  requested_node=requested_node, from_name=from_name, to_name=to_name,
                  agent_id=agent_id, deadline=deadline_ms, max_attempts=max_attempts,
                  requires_approval=requires_approval, review_required=review_required)
    key = idempotency_key_value
    request_hash = idempotency.fingerprint(fields) if key else None

    def earlier() -> T | None:
        marker = key and idempotency.earlier(T, network_id, account_id, key, request_hash)
        return get(network_id, marker.task_id) if marker else None

    stamp = now_ms()
    task_id = f"task-{ulid(stamp).lower()}"
    task = T(*task_key(network_id, task_id), task_id=task_id, network_id=network_id, title=title,
             description=description, status="pending", priority=label, rank=rank,
             capabilities=capabilities, task_type=task_type, payload=payload or None,
             lux_reward=lux_reward, requested_node=requested_node or to_name,
             created_by=account_id, source=source, from_name=from_name,
             to_name=to_name, agent_id=agent_id, attempts=0,
             max_attempts=max_attempts or settings().max_attempts, deadline=deadline_ms,
             charged_account=account_id if charge else None, charged=charge or None,
             review_required=review_required or None, created_at=stamp, updated_at=stamp)
    if requires_approval:
        task.status = "awaiting_approval"
    if review_required:
        from chalicelib.services import reactions
        reactions.follow(network_id)  # its move to review opens a code review
    charging = ledger.Posting(network_id, account_id, -charge, "charge", key=f"charge:{task_id}",
                              task_id=task_id, memo=f"{task_type or title} call") if charge else None
    routing = (route or connected_node_only) and not requires_approval
    for attempt in range(CREATE_ATTEMPTS):
        # the node to route to and the account to charge: independent reads, one round trip
        target, account = in_parallel(
            (lambda: _choose_node(network_id, task, connected_only=connected_node_only))
            if routing else None,
            (lambda: ledger.account_state(network_id, account_id)) if charge else None)
        if target is None and connected_node_only:
            previous = earlier()  # a retried call whose node has gone since: same answer
            if previous is not None:
                return previous, False
            raise NotFound(f"no connected node can take a {task_type or title!r} task now")
        try:
            event = _create_transaction(task, target, principal, key, request_hash,
                                        charging and (charging, account),
                                        hand_off=not connected_node_only)
            break
        except PaymentRequired:
            previous = earlier()
            if previous is not None:
                return previous, False
            raise
        except TransactWriteError as error:
            previous = earlier()
            if previous is not None:
                return previous, False
            if not _retryable(error):
                raise
            if attempt + 1 == CREATE_ATTEMPTS:
                raise Conflict("the nodes this task could go to are changing too fast; "
                               "try again") from None
            # the chosen node filled up, or the account moved: read again; a task that
            # may wait is queued before the last attempt rather than chased from node to node
            routing = connected_node_only or attempt + 2 < CREATE_ATTEMPTS
    if requires_approval:
        task = _gate(task, principal, approval_timeout_s)
    if connected_node_only:
        handoff.push(task, target.connection_id)
    elif target is not None:
        handoff.offer(task, target)
    fanout.announce(network_id, [event])  # after the push: the node is what a call waits on
    return task, True


def _create_transaction(task: T, target: N | None, principal: Principal, key: str | None,
                        request_hash: str | None, charging, *, hand_off: bool):
    """Write a new task, routed to `target` or queued, with its idempotency marker and its
    charge (a (Posting, account) pair), in one transaction; the event it recorded."""
    stamp, network_id = task.created_at, task.network_id
    gated = task.status == "awaiting_approval"
    task.status = "assigned" if target else "awaiting_approval" if gated else "pending"
    with transaction() as tx:
        if key:
            tx.save(T(*idempotency_key(network_id, principal.account_id, key),
                      task_id=task.task_id, request_hash=request_hash, created_at=stamp),
                    condition=T.pk.does_not_exist())
        if target:
            task.assigned_node, task.attempts = target.node_id, 1
            task.queue_pk = task.queue_sk = None
            tx.save(T(held_pk(network_id, target.node_id), f"TASK#{task.task_id}",
                      task_id=task.task_id, lease_expires_at=stamp + settings().lease_s * 1000))
            actions = [N.active_tasks.add(1), N.last_assigned_at.set(stamp)]
            if hand_off:  # routed: waits to be handed, and needs room
                actions.append(N.handoff.add({task.task_id}))
                condition = N.active_tasks < N.max_concurrent
            else:  # pushed on this connection right after: it must still be there
                condition = N.connection_id == target.connection_id
            tx.update(target, actions=actions, condition=condition)
        elif not gated:
            task.assigned_node, task.attempts = None, 0
            entry = _queue_entry(task)
            task.queue_pk, task.queue_sk = entry.pk, entry.sk
            tx.save(entry)
        if charging:
            ledger.add_to_transaction(tx, *charging)
        counters.created(tx, task, node_id=target.node_id if target else None)
        tx.save(T(events_pk(network_id, task.task_id), f"EV#{ulid(stamp)}",
                  task_id=task.task_id, from_status=None, to_status=task.status,
                  actor=principal.account_id, assigned_node=task.assigned_node, created_at=stamp))
        event = events.record(network_id, "task.created", summary(task),
                              target=task.assigned_node or task.requested_node,
                              source=task.from_name or principal.account_id)
        tx.save(event)
        tx.save(task, condition=T.pk.does_not_exist())
    return event


def _gate(task: T, principal: Principal, timeout_s: int | None) -> T:
    """Ask for the approval a new `awaiting_approval` task waits for (its creator asks)."""
    from chalicelib.services.orchestration import approvals
    approval = approvals.request(task.network_id, requested_by=approvals.person(principal),
                                 action=f"run_task:{task.title}"[:500],
                                 details={"task_id": task.task_id, "title": task.title},
                                 task_id=task.task_id,
                                 target={"type": "task", "task_id": task.task_id},
                                 expires_in_s=timeout_s)
    task.update(actions=[T.approval_id.set(approval.id)])
    return task


def release(network_id: str, task_id: str, *, actor: str, reason: str,
            sets: dict | None = None) -> T | None:
    """Queue a waiting task (approved, or sent back by its review) and route it now if a
    node can take it; None when it is no longer waiting."""
    task = get(network_id, task_id)
    if task.status not in ("awaiting_approval", "review"):
        return None
    queued = _try_commit(task, "pending", actor=actor, reason=reason, sets=sets)
    if queued is None:
        return None
    target = _choose_node(network_id, queued)
    moved = target and _try_commit(get(network_id, task_id), "assigned", actor="hub",
                                   node=target, hand_off=True)
    if moved:
        handoff.offer(moved, target)
    return moved or queued


def finish_review(network_id: str, task_id: str, *, approved: bool, actor: str,
                  feedback: dict | None = None) -> T | None:
    """A code review's decision: completed, or back to the queue with the feedback
    (in the payload, and in `params` where GemmaNet nodes read it)."""
    task = get(network_id, task_id)
    if task.status != "review":
        return None
    if approved:
        return _try_commit(task, "completed", actor=actor, reason="review approved")
    payload = dict(task.payload or {})
    payload["review_feedback"] = feedback
    payload["params"] = {**(payload.get("params") or {}), "review_feedback": feedback}
    return release(network_id, task_id, actor=actor, reason="changes requested in review",
                   sets={"payload": payload})


# --------------------------------------------------------------------------- routing


def _eligible(node: N, task_like: T, at_ms: int, *, needs_room: bool = True) -> bool:
    return (node.approved and nodes.is_online(node, at_ms)
            and set(task_like.capabilities or []) <= set(node.capabilities)
            and (node.active_tasks < node.max_concurrent or not needs_room))


def _rank(node: N) -> tuple:
    """Least loaded first; among equals, the one that waited longest since its last task."""
    return node.active_tasks / max(node.max_concurrent, 1), float(node.load or 0), \
        node.last_assigned_at


def _best(candidates: list[N]) -> N | None:
    """The best ranked node; among nodes ranked equal (fresh nodes that never had a task),
    one at random, so tasks created at the same moment do not all race for the same one."""
    if not candidates:
        return None
    top = min(_rank(n) for n in candidates)
    return random.choice([n for n in candidates if _rank(n) == top])


def _choose_node(network_id: str, task: T, online: list[N] | None = None, *,
                 connected_only: bool = False) -> N | None:
    """The node to give `task` to, or None. `connected_only` keeps nodes that hold a
    WebSocket connection (a synchronous call needs one to push to); such a call goes to
    the least loaded of them even when all are busy — it cannot wait in the queue, and
    its caller waits for it anyway (the GemmaNet coordinator does the same)."""
    at = now_ms()

    def fits(node: N) -> bool:
        return _eligible(node, task, at, needs_room=not connected_only) and \
            (node.connection_id or not connected_only)
    if task.requested_node:
        wanted = nodes.find(network_id, task.requested_node)
        if wanted is not None and fits(wanted):
            return wanted  # an explicit assignment is honoured when the node can take it
    pool = online if online is not None else nodes.list_nodes(network_id, online_only=True)
    return _best([n for n in pool if fits(n)])


def _queue_heads(network_id: str, capabilities, window: int, eligible=lambda entry: True,
                 budget: int = 100) -> list[T]:
    """The first `window` entries per queue partition that pass `eligible`, reading at most
    `budget` entries per partition: claims stay cheap however long the queue is."""
    shards = settings().queue_shards
    entries = []
    for capability in ["*", *sorted(set(capabilities))]:
        for shard in random.sample(range(shards), shards):
            kept = 0
            for position, entry in enumerate(T.query(queue_pk(network_id, capability, shard),
                                                     consistent_read=True, page_size=window)):
                if eligible(entry):
                    entries.append(entry)
                    kept += 1
                if kept >= window or position + 1 >= budget:
                    break
    return sorted(entries, key=lambda e: e.sk)


def _claim_order(entries: list[T], contended: bool) -> list[T]:
    """The order in which a claimer tries the queue's head. Alone, it takes the oldest of
    the most urgent tasks (first in, first out). Once races are being lost, claimers read
    the same head: each tries the most urgent entries in its own random order, so they
    rarely collide. Priority order between ranks holds either way."""
    if not contended or not entries:
        return entries[:1]
    top = entries[0].sk.split("#", 1)[0]
    urgent = [e for e in entries if e.sk.split("#", 1)[0] == top]
    random.shuffle(urgent)
    return (urgent + entries[len(urgent):])[:CLAIM_TRIES]


# Networks where this instance lost a claim race lately, and until when it assumes others
# still claim there: its claims then spread from their first try instead of all going for
# the oldest entry first. (A per-instance hint, like a cache: losing it costs one race.)
_contended_until: dict[str, float] = {}


def _claim_from_queue(network_id: str, node: N) -> T | None:
    """Atomically take the next task from the queue that `node` can do (a lease); None
    when the queue holds nothing it can do. Each round reads the queue's head afresh
    (entries others took are gone from it); losing a race is never an error."""
    can_do = set(node.capabilities)
    actor = f"node:{node.node_id}"
    give_up_at = time.monotonic() + CLAIM_BUDGET_S
    while True:
        contended = _contended_until.get(network_id, 0.0) > time.monotonic()
        heads = _queue_heads(network_id, can_do,
                             CLAIM_WINDOW_CONTENDED if contended else CLAIM_WINDOW,
                             eligible=lambda e: set(e.capabilities or []) <= can_do)
        if not heads:
            return None
        for entry in _claim_order(heads, contended):
            moved = _try_commit(_from_queue(entry), "assigned", actor=actor, node=node)
            if moved is not None:  # (entries queued before they carried the whole task)
                return moved if entry.updated_at is not None else get(network_id, moved.task_id)
            _contended_until[network_id] = time.monotonic() + CONTENTION_MEMORY_S
        if time.monotonic() >= give_up_at:
            log.warning("claim kept losing races", extra={"network_id": network_id,
                                                          "node_id": node.node_id})
            return None
        if contended:
            time.sleep(random.uniform(0, CLAIM_BACKOFF_S))


def pull(network_id: str, node_id: str, *, limit: int | None = 1) -> list[T]:
    """Hand a node its next tasks: first those already assigned to it that it has not been
    handed, oldest first; then claims from the queue. With limit=None, everything waiting
    for it, then claims while it has room (`max_concurrent`). [] when there is nothing it
    can do, or it waits for an administrator's approval: never an error."""
    node = nodes.get(network_id, node_id)
    if not node.approved:
        return []
    if not nodes.is_online(node):
        node = nodes.heartbeat(network_id, node_id)  # asking for work is a sign of life
    return _hand(node, limit)


def push_next(network_id: str, node_id: str) -> int:
    """The push path's pull. A connected node that completed a task has room again: it is
    handed its next tasks by the rule of `pull` (what waits for it, then claims from the
    queue while it has room), each pushed on its socket; a push that fails gives its task
    back to be handed again. Not after a failure: the failed task, back at the head of the
    queue, would go straight back to the node that failed it. How many were pushed."""
    node = nodes.find(network_id, node_id)  # (removed meanwhile: its result still stands)
    if node is None or not node.connection_id or not node.approved:
        return 0
    return sum(1 for task in _hand(node, None) if handoff.push(task, node.connection_id))


def push_elsewhere(task: T, away_from: str) -> bool:
    """The push path after a failure: a task back in the queue goes at once to another
    connected node that can take it and has room, and is pushed there (not to the node that
    failed it, which the queue's head would hand it again). With none, it waits in the queue
    for a pull or the batch assignment, as before."""
    if task is None or task.status != "pending":
        return False
    at = now_ms()
    target = _best([n for n in nodes.list_nodes(task.network_id, online_only=True)
                    if n.node_id != away_from and n.connection_id and _eligible(n, task, at)])
    if target is None:
        return False
    moved = _try_commit(task, "assigned", actor="hub", node=target, hand_off=True,
                        reason=f"redelivered after {away_from} failed it")
    return moved is not None and bool(handoff.offer(moved, target))


def _hand(node: N, limit: int | None) -> list[T]:
    network_id, node_id = node.network_id, node.node_id
    wanted = limit if limit is not None else len(node.handoff or ())
    handed = []
    for task_id in sorted(node.handoff or ()):  # task ids sort by creation time
        if len(handed) >= wanted:
            break
        if handoff.take(network_id, node_id, task_id):
            task = get(network_id, task_id)
            if task.status in HELD and task.assigned_node == node_id:
                handed.append(task)
    room = limit - len(handed) if limit is not None else \
        int(node.max_concurrent) - int(node.active_tasks)
    for _ in range(max(0, room)):
        task = _claim_from_queue(network_id, node)
        if task is None:
            break
        handed.append(task)
    return handed


def claim(network_id: str, node_id: str) -> T | None:
    """The next task for this node (see `pull`), or None."""
    taken = pull(network_id, node_id)
    return taken[0] if taken else None


def assign_pending(network_id: str, *, limit: int = 100) -> list[T]:
    """Batch assignment: route queued tasks to online nodes with spare capacity."""
    online = [n for n in nodes.list_nodes(network_id, online_only=True) if n.approved]
    if not online:
        return []
    capabilities = {c for n in online for c in n.capabilities}
    assigned = []
    at = now_ms()
    for entry in _queue_heads(network_id, capabilities, limit, budget=limit * 2):
        if len(assigned) >= limit:
            break
        task = _from_queue(entry)
        target = _choose_node(network_id, task, online)
        if target is None:
            continue
        if task.deadline and task.deadline < at:
            _try_commit(task, "expired", actor="hub", reason="deadline passed while queued")
            continue
        moved = _try_commit(task, "assigned", actor="hub", node=target, hand_off=True)
        if moved is None:  # taken meanwhile, or the node filled up: see the node as it is
            online = [nodes.get(network_id, n.node_id) if n.node_id == target.node_id else n
                      for n in online]
            continue
        assigned.append(moved)
        target.active_tasks += 1
        target.last_assigned_at = moved.updated_at
        handoff.offer(moved, target)
    return assigned


def catch_up(network_id: str, node: N) -> int:
    """A node (re)connected: hand it again everything it holds, pushing it if the node is
    connected (its previous connection may have taken the work down with it)."""
    held = held_by(network_id, node.node_id)
    if held:
        handoff.give_back(network_id, node.node_id, [t.task_id for t in held])
    return sum(1 for task in held if handoff.offer(task, node))


# --------------------------------------------------------------------------- a node's work


def start(network_id: str, task_id: str, node_id: str) -> T:
    task = get(network_id, task_id)
    if task.status == "running" and task.assigned_node == node_id:
        return task
    _require_holder(task, node_id, pending_ok=True)
    if task.status == "pending":
        moved = _try_commit(task, "running", actor=f"node:{node_id}",
                            node=nodes.get(network_id, node_id))
        if moved is None:
            raise Conflict(f"task {task_id} was taken by another node")
        return moved
    return _move(network_id, task_id, "running", actor=f"node:{node_id}", expected_node=node_id)


def _require_holder(task: T, node_id: str, *, pending_ok: bool = False) -> None:
    """A node may act on a task it holds (or, where allowed, on one still waiting)."""
    if task.status in HELD and task.assigned_node == node_id:
        return
    if pending_ok and task.status == "pending":
        return
    if task.status in HELD:
        raise Conflict(f"task {task.task_id} is held by another node")
    raise IllegalTransition(f"task {task.task_id} is {task.status}, not held by {node_id}",
                            status=task.status)


def complete(network_id: str, task_id: str, *, node_id: str | None, result,
             actor: str) -> tuple[T, int]:
    """Complete a task; a node completing it is paid its reward (SkyCetus LUX, a call's
    price) in the same transaction. (task, paid)."""
    account_id = nodes.account_of(node_id) if node_id else None
    for _ in range(5):
        # the task and the account a reward would go to: one round trip
        task, account = in_parallel(
            lambda: get(network_id, task_id),
            (lambda: ledger.account_state(network_id, account_id)) if node_id else None)
        if task.status in ("completed", "review"):
            if node_id and task.assigned_node != node_id:
                raise Conflict(f"task {task_id} was completed by another node")
            return task, 0  # a retried completion changes nothing and pays nothing
        if node_id:
            _require_holder(task, node_id, pending_ok=True)
        reward = int(task.lux_reward or 0) if node_id else 0
        postings = [(ledger.Posting(network_id, account_id, reward, "reward",
                                    key=f"reward:{task_id}", task_id=task_id,
                                    memo=f"reward for {task_id}"), account)] if reward else []
        waiting = task.status == "pending"
        moved = _try_commit(task, "review" if task.review_required else "completed",
                            actor=actor,
                            node=nodes.get(network_id, node_id) if waiting and node_id else None,
                            expected_node=node_id if task.status in HELD else None,
                            sets={"result": result}, postings=postings)
        if moved is not None:
            return moved, reward
    raise Conflict(f"task {task_id} is changing concurrently; try again")


def fail(network_id: str, task_id: str, *, node_id: str | None, error: str | None,
         actor: str, retry: bool = True) -> T:
    """A failed attempt: back to the queue while attempts remain, then dead-lettered.
    With retry=False (an operator's verdict) the task is failed for good."""
    task = get(network_id, task_id)
    if node_id:
        _require_holder(task, node_id)
    if not retry:
        return _move(network_id, task_id, "failed", actor=actor, sets={"error": error})
    return requeue(task, actor=actor, reason=error or "failed", error=error,
                   expected_node=node_id)


def requeue(task: T, *, actor: str, reason: str, error: str | None = None,
            expected_node: str | None = None) -> T | None:
    """Send a held task back to the queue, or to the dead letters after its last attempt.
    A call's task fails for good instead: its caller has had its answer and its refund."""
    exhausted = (task.attempts or 0) >= (task.max_attempts or settings().max_attempts)
    sets = {"error": error} if error else {}
    final = "failed" if task.charged else "dead_lettered"
    return _try_commit(task, final if exhausted else "pending", actor=actor,
                       reason=reason, expected_node=expected_node, sets=sets)


def cancel(network_id: str, task_id: str, *, actor: str) -> T:
    return _move(network_id, task_id, "cancelled", actor=actor, reason="cancelled")


def reassign(network_id: str, task_id: str, node_id: str, *, actor: str) -> T:
    """Give a task to another node: its holder (if any) lets go, and `node_id` gets it now
    if it can take it (online, approved, able, with room); otherwise it waits in the queue."""
    target = nodes.get(network_id, node_id)
    task = get(network_id, task_id)
    if task.status in HELD:
        task = _move(network_id, task_id, "pending", actor=actor,
                     reason=f"reassigned to {node_id}")
    if task.status != "pending":
        raise IllegalTransition(f"a {task.status} task cannot be reassigned", status=task.status)
    if not _eligible(target, task, now_ms()):
        return task
    moved = _try_commit(task, "assigned", actor=actor, node=target, hand_off=True,
                        reason=f"reassigned to {node_id}")
    if moved is None:
        return get(network_id, task_id)
    handoff.offer(moved, target)
    return moved


def expire(network_id: str, task_id: str, *, reason: str) -> T:
    return _move(network_id, task_id, "expired", actor="hub", reason=reason)


def set_status(network_id: str, task_id: str, status: str, *, actor: str,
               node_id: str | None = None, result=None, error: str | None = None) -> T:
    """A status change asked for by a client (platform PATCH, CommHub updates)."""
    status = normalize_status(status)
    if status == "completed":
        return complete(network_id, task_id, node_id=node_id, result=result, actor=actor)[0]
    if status == "running" and node_id:
        return start(network_id, task_id, node_id)
    if status == "failed":
        return fail(network_id, task_id, node_id=node_id, error=error, actor=actor, retry=False)
    if status == "cancelled":
        return cancel(network_id, task_id, actor=actor)
    if status == "dead_lettered":
        return dead_letter(network_id, task_id, reason=error or "moved by a client", actor=actor)
    if status == "pending":
        return _move(network_id, task_id, "pending", actor=actor, reason="requeued by a client")
    task = get(network_id, task_id)
    if task.status == status:
        return task
    raise IllegalTransition(f"a {task.status} task cannot be set to {status} directly",
                            status=task.status, requested=status)


EDITABLE = ("title", "description", "agent_id", "payload")


def edit(network_id: str, task_id: str, fields: dict, *, actor: str) -> T:
    """Change a task's descriptive fields (and its priority while it waits in the queue)."""
    task = get(network_id, task_id)
    changes = {name: value for name, value in fields.items()
               if name in EDITABLE and value is not None}
    if fields.get("title") is not None and not str(fields["title"]).strip():
        raise ValidationFailed("title", "'title' cannot be empty")
    if fields.get("priority") is not None:
        changes["priority"], changes["rank"] = normalize_priority(fields["priority"])
    if not changes:
        return task
    version = task.updated_at
    changes["updated_at"] = now_ms()
    actions = [getattr(T, name).set(value) for name, value in changes.items()]
    try:
        with transaction() as tx:
            if task.status == "pending" and task.queue_pk:
                old_pk, old_sk = task.queue_pk, task.queue_sk
                for name, value in changes.items():
                    setattr(task, name, value)
                entry = _queue_entry(task)  # the queue's copy follows the task
                if (entry.pk, entry.sk) != (old_pk, old_sk):
                    tx.delete(T(old_pk, old_sk))
                    actions += [T.queue_pk.set(entry.pk), T.queue_sk.set(entry.sk)]
                tx.save(entry)
            condition = T.status == task.status
            if version is not None:
                condition &= T.updated_at == version
            tx.update(task, actions=actions, condition=condition)
    except TransactWriteError as error:
        if not _retryable(error):
            raise
        raise Conflict(f"task {task_id} changed meanwhile; read it again") from None
    return get(network_id, task_id)


# --------------------------------------------------------------------------- liveness


def renew_leases(network_id: str, node_id: str) -> int:
    """A heartbeat extends the leases of everything the node holds."""
    lease_until = now_ms() + settings().lease_s * 1000
    renewed = 0
    for entry in T.query(held_pk(network_id, node_id), consistent_read=True):
        try:
            entry.update(actions=[T.lease_expires_at.set(lease_until)], condition=T.pk.exists())
            renewed += 1
        except Exception:  # released concurrently: nothing to renew
            pass
    return renewed


def release_expired(network_id: str, node: N, *, node_dead: bool) -> list[T]:
    """Requeue what a node holds: everything if it is dead, else what outlived its lease."""
    released, at = [], now_ms()
    for entry in T.query(held_pk(network_id, node.node_id), consistent_read=True):
        if not node_dead and (entry.lease_expires_at or 0) > at:
            continue
        task = get(network_id, entry.task_id)
        if task.status not in HELD or task.assigned_node != node.node_id:
            continue
        reason = "node went offline" if node_dead else "lease expired"
        moved = requeue(task, actor="hub", reason=reason, expected_node=node.node_id)
        if moved is not None:
            released.append(moved)
    return released


# --------------------------------------------------------------------------- dead letters


def dead_letter(network_id: str, task_id: str, *, reason: str, actor: str) -> T:
    return _move(network_id, task_id, "dead_lettered", actor=actor, reason=reason)


def retry_dead_letter(network_id: str, task_id: str, *, actor: str) -> T:
    task = get(network_id, task_id)
    if task.status != "dead_lettered":
        raise Conflict(f"task {task_id} is not in the dead-letter queue")
    return _move(network_id, task_id, "pending", actor=actor, reason="retried from dead letters",
                 sets={"attempts": 0})


def discard_dead_letter(network_id: str, task_id: str, *, actor: str) -> T:
    task = get(network_id, task_id)
    if task.status != "dead_lettered":
        raise NotFound(f"task {task_id} is not in the dead-letter queue")
    return _move(network_id, task_id, "failed", actor=actor, reason="removed from dead letters")


def dead_letters(network_id: str, *, limit: int = 50, cursor: str | None = None):
    return page(T, dlq_pk(network_id), limit=limit, cursor=cursor)


def retry_all_dead_letters(network_id: str, *, actor: str, limit: int = 100) -> tuple[list[T], bool]:
    """Retry up to `limit` dead letters; (retried, whether more remain)."""
    entries, cursor = dead_letters(network_id, limit=limit)
    retried = [retry_dead_letter(network_id, e.task_id, actor=actor) for e in entries]
    return retried, cursor is not None


def dead_letter_stats(network_id: str) -> dict:
    entries = list(T.query(dlq_pk(network_id), consistent_read=True))
    reasons: dict[str, int] = {}
    for entry in entries:
        reasons[entry.reason or "unknown"] = reasons.get(entry.reason or "unknown", 0) + 1
    return {"total": len(entries), "by_reason": reasons,
            "oldest_at_ms": min((e.created_at for e in entries), default=None)}
