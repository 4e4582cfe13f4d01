"""What each change adds to the counters, written inside the change's own transaction.

A task's move (services/tasks.py `_commit`, `_create_transaction`) adds:
- to the network's status counters (tasks table, `STATS#...`: what `/tasks/stats` reads):
  -1 for the state it leaves, +1 for the one it enters;
- to the day's counters: tasks created, entering each state, completed and failed (also by
  priority), completion durations (sum, count and a coarse histogram for p50/p95), and
  what the work cost (counted in cost.py's terms);
- for a task of an agent, the same to the agent's day and lifetime counters;
- for a cost, an entry (cost.py), the provider/model day counters, and the month's
  spend (the budget's, cost.py).

Where: a move that involves a node (it takes, holds or releases the task) already updates
the node's item, so its counters go on that node's items (`N#<node>`): they add no
contention of their own, and they are the per-node analytics. Other changes pick one of
`SHARDS` shards at random, so concurrent writers rarely meet on one item.
"""
from __future__ import annotations

import bisect
import random
import time
from collections import defaultdict

from pynamodb.expressions.operand import Path

from chalicelib.ids import ulid
from chalicelib.services.insight import cost
from chalicelib.store.insight import (SHARDS, TOTAL_PREFIX, CostEntry, agent_pk, budget_pk,
                                      cost_pk, day_pk, model_pk, owner_sk, spend_prefix)
from chalicelib.store.records import Record
from chalicelib.store.tasks import TaskRecord, node_stats_key

# Completion durations (seconds): each bucket counts durations up to its bound; the last
# counts the rest. Coarse on purpose: 15 counters per item.
DURATION_BUCKETS_S = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 10800)
FAILED = frozenset({"failed", "dead_lettered", "expired"})
COST_ENTRY_TTL_S = 400 * 86400
MAX_MODELS = 10  # distinct provider/model pairs one move records; the rest merge into "other"


def day_of(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


def bucket_name(index: int) -> str:
    return f"dur_b{index:02d}"


class Tally:
    """Additions per item, written as one ADD update each."""

    def __init__(self):
        self.items: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, model, key: tuple[str, str], **counts: int) -> None:
        target = self.items[(model, *key)]
        for name, value in counts.items():
            if value:
                target[name] += value

    def write(self, tx) -> None:
        for (model, pk, sk), counts in self.items.items():
            if counts:
                tx.update(model(pk, sk), actions=[Path(n).add(v) for n, v in counts.items()])


def created(tx, task, *, node_id: str | None) -> None:
    """A new task (pending, or routed to `node_id` at once)."""
    tally, shard = Tally(), random.randrange(SHARDS)
    tally.add(TaskRecord, _stats_key(task.network_id, node_id, shard), total=1,
              **{f"count_{task.status}": 1, f"prio_{task.priority}": 1})
    day = day_of(task.created_at)
    counts = {"created": 1, f"created_p_{task.priority}": 1, f"st_{task.status}": 1}
    tally.add(Record, (day_pk(task.network_id), f"{day}#{owner_sk(node_id, shard)}"), **counts)
    if task.agent_id:
        _agent(tally, task.network_id, task.agent_id, day, created=1)
    tally.write(tx)


def moved(tx, task, after, *, origin: str, node_id: str | None, stamp: int,
          result_committed: bool) -> list[cost.Usage]:
    """A move from `origin` to `after.status`; `node_id` is the node whose item the move
    updates (None if none). The costs it recorded, for the budget (cost.check_budget)."""
    network_id, to_status = task.network_id, after.status
    tally, shard = Tally(), random.randrange(SHARDS)
    tally.add(TaskRecord, _stats_key(network_id, node_id, shard),
              **{f"count_{origin}": -1, f"count_{to_status}": 1})
    day, owner = day_of(stamp), owner_sk(node_id, shard)
    counts = {f"st_{to_status}": 1}
    agent_counts = {}
    if to_status == "completed":
        duration_ms = max(0, stamp - int(after.started_at or task.created_at or stamp))
        counts.update({"completed": 1, f"completed_p_{task.priority}": 1, "dur_ms": duration_ms,
                       "dur_n": 1, bucket_name(_bucket(duration_ms)): 1})
        agent_counts.update(completed=1, dur_ms=duration_ms, dur_n=1)
    elif to_status in FAILED and origin not in FAILED:
        counts.update({"failed": 1, f"failed_p_{task.priority}": 1})
        agent_counts.update(failed=1)
    costs = _costs(task, after, result_committed)
    if costs:
        spent = _cost_counts(costs)
        counts.update(spent)
        agent_counts.update(spent)
        _record_costs(tx, tally, task, after, costs, owner, stamp)
    tally.add(Record, (day_pk(network_id), f"{day}#{owner}"), **counts)
    if task.agent_id and agent_counts:
        _agent(tally, network_id, task.agent_id, day, **agent_counts)
    tally.write(tx)
    return costs


def messages_sent(tx, network_id: str, count: int, stamp: int) -> None:
    tally = Tally()
    tally.add(Record, (day_pk(network_id), f"{day_of(stamp)}#{owner_sk(None, random.randrange(SHARDS))}"),
              messages=count)
    tally.write(tx)


def file_stored(tx, network_id: str, size: int, stamp: int) -> None:
    tally = Tally()
    tally.add(Record, (day_pk(network_id), f"{day_of(stamp)}#{owner_sk(None, random.randrange(SHARDS))}"),
              files=1, file_bytes=int(size or 0))
    tally.write(tx)


def delivery_dead(tx, network_id: str) -> None:
    """An outbound delivery given up after its last attempt (services/outbound)."""
    tally = Tally()
    tally.add(TaskRecord, _stats_key(network_id, None, random.randrange(SHARDS)),
              deliveries_dead=1)
    tally.write(tx)


def _stats_key(network_id: str, node_id: str | None, shard: int) -> tuple[str, str]:
    return node_stats_key(network_id, node_id) if node_id else \
        (f"NET#{network_id}", f"STATS#{shard}")


def _agent(tally: Tally, network_id: str, agent_id: str, day: str, **counts: int) -> None:
    tally.add(Record, (agent_pk(network_id), f"{day}#{agent_id}"), **counts)
    tally.add(Record, (agent_pk(network_id), f"{TOTAL_PREFIX}{agent_id}"), **counts)


def _bucket(duration_ms: int) -> int:
    return bisect.bisect_left(DURATION_BUCKETS_S, duration_ms / 1000)


def _costs(task, after, result_committed: bool) -> list[cost.Usage]:
    found = cost.usages(after.result) if result_committed else []
    if after.status == "completed" and task.charged:
        found.append(cost.call_cost(task))
    merged: dict[tuple[str, str, str], list[cost.Usage]] = {}
    for usage in found:
        key = (usage.provider, usage.model, usage.source)
        if key not in merged and len(merged) >= MAX_MODELS:
            key = ("other", "other", usage.source)
        merged.setdefault(key, []).append(usage)
    return [cost.Usage(provider, model, sum(u.input_tokens for u in group),
                       sum(u.output_tokens for u in group), sum(u.usd_nanos for u in group),
                       credits=sum(u.credits for u in group), source=source)
            for (provider, model, source), group in merged.items()]


def _cost_counts(costs: list[cost.Usage]) -> dict[str, int]:
    return {"usd_nanos": sum(c.usd_nanos for c in costs), "credits": sum(c.credits for c in costs),
            "in_tokens": sum(c.input_tokens for c in costs),
            "out_tokens": sum(c.output_tokens for c in costs), "cost_n": len(costs)}


def _record_costs(tx, tally: Tally, task, after, costs, owner: str, stamp: int) -> None:
    network_id, day = task.network_id, day_of(stamp)
    node_id = after.assigned_node or task.assigned_node
    for usage in costs:
        entry_id = ulid(stamp)
        tx.save(CostEntry(cost_pk(network_id), entry_id, kind="cost", id=entry_id,
                          network_id=network_id, created_at=stamp, task_id=task.task_id,
                          agent_id=task.agent_id, node_id=node_id, provider=usage.provider,
                          model=usage.model, input_tokens=usage.input_tokens,
                          output_tokens=usage.output_tokens, usd_nanos=usage.usd_nanos,
                          credits=usage.credits, source=usage.source,
                          expires_at=stamp // 1000 + COST_ENTRY_TTL_S))
        tally.add(Record, (model_pk(network_id), f"{day}#{usage.provider}|{usage.model}#{owner}"),
                  usd_nanos=usage.usd_nanos, credits=usage.credits, in_tokens=usage.input_tokens,
                  out_tokens=usage.output_tokens, cost_n=1)
    month = (budget_pk(network_id), spend_prefix(cost.month_of(stamp)) + owner)
    tally.add(Record, month, usd_nanos=sum(usage.usd_nanos for usage in costs))
