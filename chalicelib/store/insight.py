"""Insight items (records table, beside the platform families): the counters analytics and
cost are read from, the cost entries they are made of, and a network's budget.

Every counter is added to (DynamoDB ADD) in the transaction of the change it counts
(services/insight/counters.py); nothing here is ever computed by reading what it counts.

Keys
- day counters  pk NET#<net>#INSIGHT#DAY     sk <yyyy-mm-dd>#N#<node>   what happened that day
                                             in moves involving that node (the move already
                                             updates the node's item, so its counter adds
                                             no contention of its own)
                                             sk <yyyy-mm-dd>#S#<k>      the same for changes
                                             without a node, on one of SHARDS shards
- agent days    pk NET#<net>#INSIGHT#AGENT   sk <yyyy-mm-dd>#<agent>    an agent's day
                                             sk ~TOTAL#<agent>          an agent's lifetime
- model days    pk NET#<net>#INSIGHT#MODEL   sk <yyyy-mm-dd>#<provider>|<model>#<owner>
                                             cost by provider and model (owner: N#<node>
                                             or S#<k>, as above)
- cost entry    pk NET#<net>#INSIGHT#COST    sk <ulid>                  one recorded cost
                                             (LLM usage or a call's credits), kept 400 days
- budget        pk NET#<net>#INSIGHT#BUDGET  sk BUDGET                  monthly limit and
                                             thresholds
- month spend   pk NET#<net>#INSIGHT#BUDGET  sk SPEND#<yyyy-mm>#<owner> the month's cost
                                             (`usd_nanos`), counted in each costly move's
                                             transaction (owner as above)
- alert         pk NET#<net>#INSIGHT#BUDGET  sk ALERT#<yyyy-mm>#<pct>   a threshold notified
                                             (written once: conditional put)

A period's analytics is one Query per partition over a range of days: its cost grows with
the days asked for and the nodes (agents, models) active on them, never with the number
of tasks, messages or files.
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.store.records import Record

SHARDS = 8            # counter shards for changes that involve no node
TOTAL_PREFIX = "~TOTAL#"  # sorts after every day, so a range of days never reads it
BUDGET_SK = "BUDGET"


class CostEntry(Record):
    """One recorded cost: an LLM usage reported in a task result, or a call's credits."""
    task_id = UnicodeAttribute(null=True)
    agent_id = UnicodeAttribute(null=True)
    node_id = UnicodeAttribute(null=True)
    provider = UnicodeAttribute(null=True)
    model = UnicodeAttribute(null=True)
    input_tokens = NumberAttribute(null=True)
    output_tokens = NumberAttribute(null=True)
    usd_nanos = NumberAttribute(null=True)          # cost in USD × 10^9 (exact sums)
    credits = NumberAttribute(null=True)            # hub credits (synchronous calls)
    source = UnicodeAttribute(null=True)            # usage | call


class BudgetRecord(Record):
    """The budget item and the alert items (the month spend shards are counters:
    dynamic attributes, read raw)."""
    monthly_limit_nanos = NumberAttribute(null=True)
    alert_thresholds_json = UnicodeAttribute(null=True)  # [50, 80, 100]
    is_active = NumberAttribute(null=True)               # 1 or 0
    updated_by = UnicodeAttribute(null=True)
    threshold_data = JSONAttribute(null=True)            # an alert: what was notified


def day_pk(network_id: str) -> str:
    return f"NET#{network_id}#INSIGHT#DAY"


def agent_pk(network_id: str) -> str:
    return f"NET#{network_id}#INSIGHT#AGENT"


def model_pk(network_id: str) -> str:
    return f"NET#{network_id}#INSIGHT#MODEL"


def cost_pk(network_id: str) -> str:
    return f"NET#{network_id}#INSIGHT#COST"


def budget_pk(network_id: str) -> str:
    return f"NET#{network_id}#INSIGHT#BUDGET"


def owner_sk(node_id: str | None, shard: int) -> str:
    return f"N#{node_id}" if node_id else f"S#{shard}"


def spend_prefix(month: str) -> str:
    return f"SPEND#{month}#"


def alert_sk(month: str, threshold) -> str:
    return f"ALERT#{month}#{threshold:g}"


def read_days(pk: str, first_day: str, last_day: str) -> list[dict]:
    """The counter items of `pk` for the days first_day..last_day (inclusive), as plain
    dicts of their attributes (counters are dynamic attributes, so they are read raw)."""
    return _query(pk, Record.sk.between(f"{first_day}#", f"{last_day}#\uffff"))


def read_prefix(pk: str, prefix: str) -> list[dict]:
    return _query(pk, Record.sk.startswith(prefix))


def _query(pk: str, condition) -> list[dict]:
    connection = Record._get_connection()
    items, start = [], None
    while True:
        response = connection.query(pk, range_key_condition=condition, consistent_read=True,
                                    exclusive_start_key=start)
        items.extend(_plain(raw) for raw in response.get("Items", []))
        start = response.get("LastEvaluatedKey")
        if not start:
            return items


def _plain(raw: dict) -> dict:
    item = {}
    for name, value in raw.items():
        if "N" in value:
            number = float(value["N"])
            item[name] = int(number) if number.is_integer() else number
        elif "S" in value:
            item[name] = value["S"]
    return item
