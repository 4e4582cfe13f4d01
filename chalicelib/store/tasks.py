"""The tasks table: tasks and the items that index them, all written in the same
transaction as the task's state change (services/tasks.py `_commit`).

Keys
- task        pk NET#<net>                      sk TASK#<task_id>     (newest-first lists)
- queue entry pk NET#<net>#Q#<capability>#<shard> sk <rank>#<task_id>  (pending tasks, by
              priority then age; <capability> is the first required capability or `*`; it
              carries a copy of the task, so a claim needs no second read)
- held entry  pk NET#<net>#HELD#<node_id>       sk TASK#<task_id>     (what a node holds)
- dead letter pk NET#<net>#DLQ                  sk TASK#<task_id>
- task event  pk NET#<net>#TASK#<task_id>       sk EV#<ulid>          (every transition)
- completion  pk NET#<net>#DONE                 sk <ulid>             (CommHub completions)
- idempotency pk NET#<net>#IDEM#<account>       sk KEY#<key>          → the task it created
              (store.base.idempotency_key: keys are per principal)
- stats shard pk NET#<net>                      sk STATS#<n>          (counters by status,
              priority, day; sharded so concurrent writers do not collide)
              pk NET#<net>                      sk STATS#N#<node_id>  (the counters of moves
              that involve a node, written in the move's own transaction: that transaction
              already updates the node's item, so its shard adds no contention)
Every list is a Query on one of these partitions; none grows with unrelated data.
"""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, JSONAttribute, ListAttribute,
                                 NumberAttribute, UnicodeAttribute)

from chalicelib.store.base import TableModel, meta


class TaskRecord(TableModel):
    Meta = meta("tasks")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    # task
    task_id = UnicodeAttribute(null=True)
    network_id = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    priority = UnicodeAttribute(null=True)
    rank = NumberAttribute(null=True)
    capabilities = ListAttribute(of=UnicodeAttribute, null=True)
    task_type = UnicodeAttribute(null=True)
    payload = JSONAttribute(null=True)            # dialect fields without a core meaning
    lux_reward = NumberAttribute(null=True)
    requested_node = UnicodeAttribute(null=True)  # an explicit assignment asked for at create
    assigned_node = UnicodeAttribute(null=True)
    last_node = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(null=True)      # the creator's account id
    source = UnicodeAttribute(null=True)          # dialect it came in through
    from_name = UnicodeAttribute(null=True)
    to_name = UnicodeAttribute(null=True)
    agent_id = UnicodeAttribute(null=True)
    review_required = BooleanAttribute(null=True)  # completing it opens a code review
    approval_id = UnicodeAttribute(null=True)     # the approval it waited (or waits) for
    attempts = NumberAttribute(null=True)
    max_attempts = NumberAttribute(null=True)
    lease_expires_at = NumberAttribute(null=True)
    queue_pk = UnicodeAttribute(null=True)
    queue_sk = UnicodeAttribute(null=True)
    result = JSONAttribute(null=True)
    error = UnicodeAttribute(null=True)
    deadline = NumberAttribute(null=True)
    charged_account = UnicodeAttribute(null=True)  # a synchronous call's caller, charged
    charged = NumberAttribute(null=True)           # ... this much: refunded if it ends unserved
    created_at = NumberAttribute(null=True)
    updated_at = NumberAttribute(null=True)
    started_at = NumberAttribute(null=True)
    completed_at = NumberAttribute(null=True)
    # task events, completions, idempotency, dead letters
    from_status = UnicodeAttribute(null=True)
    to_status = UnicodeAttribute(null=True)
    actor = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    request_hash = UnicodeAttribute(null=True)
    # counters live in dynamic attributes of the stats shards (count_<status>, ...)


def task_key(network_id: str, task_id: str) -> tuple[str, str]:
    return f"NET#{network_id}", f"TASK#{task_id}"


def queue_pk(network_id: str, capability: str, shard: int) -> str:
    return f"NET#{network_id}#Q#{capability}#{shard}"


def held_pk(network_id: str, node_id: str) -> str:
    return f"NET#{network_id}#HELD#{node_id}"


def dlq_pk(network_id: str) -> str:
    return f"NET#{network_id}#DLQ"


def events_pk(network_id: str, task_id: str) -> str:
    return f"NET#{network_id}#TASK#{task_id}"


def completions_pk(network_id: str) -> str:
    return f"NET#{network_id}#DONE"


def node_stats_key(network_id: str, node_id: str) -> tuple[str, str]:
    return f"NET#{network_id}", f"STATS#N#{node_id}"


def read_counters(network_id: str) -> dict[str, int]:
    """Sum of the stats shards' counters (dynamic attribute names, read raw)."""
    response = TaskRecord._get_connection().query(
        f"NET#{network_id}", range_key_condition=TaskRecord.sk.startswith("STATS#"),
        consistent_read=True)
    totals: dict[str, int] = {}
    for item in response.get("Items", []):
        for name, value in item.items():
            if "N" in value and name not in ("pk", "sk"):
                totals[name] = totals.get(name, 0) + int(value["N"])
    return totals
