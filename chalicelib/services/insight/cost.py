"""Cost: what work cost, recorded from the work itself.

Two sources, both recorded in the transaction that completes the task (counters.py):
- LLM usage a worker reports in a task's result. Accepted shapes (liberal: workers differ):
  `usage: {...}` or a list of them (one per LLM call), or the fields at the top level of
  the result. Field names: provider|llm_provider, model|llm_model,
  input_tokens|prompt_tokens, output_tokens|completion_tokens (total_tokens|tokens_used
  alone counts as input), cost_usd|cost|total_cost_usd. The platform worker reports
  through `PATCH /api/v1/tasks/{id}` (`result`), GemmaNet nodes in TASK_RESULT's `usage`.
  Without a cost, the price table below prices the tokens.
- a synchronous call's credits (GemmaNet `POST /api/v1/request`), valued at
  SWITCHBOARD_CREDIT_USD each (0 by default: credits are the hub's own currency).

A usage that cannot be read is ignored, never an error: the result is the worker's, and
a completion is never refused over its accounting.

The budget: a monthly limit and alert thresholds (percentages). The month's spend is
counted in the transaction that records each cost, like every other counter: on sharded
`SPEND#<month>#<owner>` items beside the budget (the owner is the node whose item the move
already updates, else one of the shards), so no single item is contended. After the
commit `check_budget` sums them (one Query) and notifies every threshold the month's spend
has reached that was not notified yet: the alert is a conditional put (once per threshold
per month, whoever gets there first) written with its `system.alert` event. A process that
stops between the commit and the check loses nothing: the spend is counted, and the next
check (the next costly completion, or setting the budget) notifies what is due.
"""
from __future__ import annotations

import math
import re
import time
from typing import NamedTuple

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.operand import Path

from chalicelib import logs
from chalicelib.clock import iso, now_ms
from chalicelib.config import settings
from chalicelib.errors import ValidationFailed
from chalicelib.services import events, fanout
from chalicelib.store.base import cancelled_by_condition, in_parallel, transaction
from chalicelib.store.insight import (BUDGET_SK, BudgetRecord, alert_sk, budget_pk, read_prefix,
                                      spend_prefix)
from chalicelib.store.records import Record

log = logs.get("cost")
NANOS = 1_000_000_000
MAX_TOKENS = 10 ** 10
MAX_USD = 10 ** 6
MAX_USAGES = 50             # usage entries read from one result
DEFAULT_THRESHOLDS = (80, 90, 100)
# USD per 1K tokens (input, output), as the platform prices them; unknown models match by
# substring, else cost nothing unless the worker says what they cost.
PRICES = {
    "claude-opus-4-20250514": (0.015, 0.075),
    "claude-sonnet-4-20250514": (0.003, 0.015),
    "claude-3-5-haiku-20241022": (0.001, 0.005),
    "gpt-4o-mini": (0.00015, 0.0006),
    "gpt-4o": (0.005, 0.015),
    "gpt-4-turbo": (0.01, 0.03),
}
_PROVIDER_HINTS = (("claude", "anthropic"), ("gpt", "openai"), ("o1", "openai"),
                   ("o3", "openai"), ("gemini", "google"), ("llama", "ollama"),
                   ("mistral", "mistral"), ("gemma", "google"))
_NAME = r"[^A-Za-z0-9._:/@+-]"


class Usage(NamedTuple):
    """One cost: an LLM usage, or a call's credits. (A NamedTuple: cheaper to define than
    a dataclass, which every cold start would pay.)"""
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    usd_nanos: int
    credits: int = 0
    source: str = "usage"


# --------------------------------------------------------------------------- reading usage


def usages(result) -> list[Usage]:
    """The LLM usages a task result reports (see the module's notes); [] when none."""
    if not isinstance(result, dict):
        return []
    reported = result.get("usage", result.get("llm_usage", result.get("usages")))
    if isinstance(reported, list):
        found = [_usage(entry, result) for entry in reported[:MAX_USAGES]]
    elif isinstance(reported, dict):
        found = [_usage(reported, result)]
    else:
        found = [_usage(result, {})]
    return [usage for usage in found if usage is not None]


def _usage(fields, around: dict) -> Usage | None:
    if not isinstance(fields, dict):
        return None

    def pick(*names):
        for source in (fields, around):
            for name in names:
                if source.get(name) is not None:
                    return source[name]
        return None

    tokens_in = _count(pick("input_tokens", "prompt_tokens"))
    tokens_out = _count(pick("output_tokens", "completion_tokens"))
    if tokens_in is None and tokens_out is None:
        tokens_in = _count(pick("total_tokens", "tokens_used", "tokens"))
    usd = _amount(pick("cost_usd", "cost", "total_cost_usd"))
    if tokens_in is None and tokens_out is None and usd is None:
        return None
    model = _name(pick("model", "llm_model"), 64) or "unknown"
    provider = (_name(pick("provider", "llm_provider"), 32) or provider_of(model)).lower()
    tokens_in, tokens_out = tokens_in or 0, tokens_out or 0
    nanos = round(usd * NANOS) if usd is not None else price_nanos(model, tokens_in, tokens_out)
    return Usage(provider, model, tokens_in, tokens_out, nanos)


def _count(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return int(min(max(value, 0), MAX_TOKENS))


def _amount(value) -> float | None:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return min(max(float(value), 0.0), MAX_USD)


def _name(value, limit: int) -> str | None:
    """A provider or model name as it can sit in a key: printable, no separators."""
    if not isinstance(value, str):
        return None
    cleaned = re.sub(_NAME, "-", value.strip())[:limit].strip("-")
    return cleaned or None


def provider_of(model: str) -> str:
    lowered = model.lower()
    for hint, provider in _PROVIDER_HINTS:
        if lowered.startswith(hint) or f"/{hint}" in lowered:
            return provider
    return "unknown"


def price_nanos(model: str, tokens_in: int, tokens_out: int) -> int:
    prices = PRICES.get(model)
    if prices is None:
        lowered = model.lower()
        prices = next((p for name, p in PRICES.items() if name in lowered or lowered in name),
                      (0.0, 0.0)) if lowered != "unknown" else (0.0, 0.0)
    return round((tokens_in * prices[0] + tokens_out * prices[1]) / 1000 * NANOS)


def call_cost(task) -> Usage:
    """What a synchronous call cost its caller: its credits, valued in USD by setting."""
    credits = int(task.charged or 0)
    return Usage("hub", _name(task.task_type, 64) or "call", 0, 0,
                 round(credits * settings().credit_usd * NANOS), credits=credits, source="call")


def usd(nanos) -> float:
    return round((nanos or 0) / NANOS, 6)


# --------------------------------------------------------------------------- the budget


def month_of(ms: int) -> str:
    return time.strftime("%Y-%m", time.gmtime(ms / 1000))


def _budget_item(network_id: str) -> dict:
    found = read_prefix(budget_pk(network_id), BUDGET_SK)
    return found[0] if found else {}


def month_spend(network_id: str, month: str) -> int:
    """What the month's costs add up to (nano-dollars): its spend shards, one Query."""
    return int(sum(item.get("usd_nanos", 0)
                   for item in read_prefix(budget_pk(network_id), spend_prefix(month))))


def budget_view(network_id: str) -> dict:
    """GET /cost/budget: the platform's shape, for the current UTC month."""
    month = month_of(now_ms())
    item, spend = in_parallel(lambda: _budget_item(network_id),
                              lambda: month_spend(network_id, month))
    view = {"month_start": f"{month}-01T00:00:00Z", "current_spend": usd(spend)}
    if item.get("monthly_limit_nanos") is None or not item.get("is_active"):
        return {"has_budget": False, **view}
    limit = item["monthly_limit_nanos"]
    thresholds = _thresholds(item)
    percent = round(spend / limit * 100, 1) if limit else (100.0 if spend else 0.0)
    return {"has_budget": True, "monthly_limit": usd(limit), **view,
            "remaining": usd(max(limit - spend, 0)), "percent_used": percent,
            "alert_thresholds": thresholds, "is_over_budget": spend > limit}


def _thresholds(item: dict) -> list:
    import json
    raw = item.get("alert_thresholds_json")
    values = json.loads(raw) if raw else list(DEFAULT_THRESHOLDS)
    return [int(v) if float(v).is_integer() else v for v in values]


def set_budget(network_id: str, *, monthly_limit_usd, alert_thresholds=None,
               actor: str | None = None) -> dict:
    """PUT /cost/budget: the new limit replaces the old (the month's spend is kept).
    Thresholds already passed by this month's spend are notified now, once each."""
    import json
    limit = _amount(monthly_limit_usd)
    if limit is None or isinstance(monthly_limit_usd, str):
        raise ValidationFailed("monthly_limit_usd", "'monthly_limit_usd' must be a number ≥ 0")
    thresholds = sorted({float(t) for t in (alert_thresholds if alert_thresholds is not None
                                            else DEFAULT_THRESHOLDS)})
    if any(not 0 < t <= 1000 for t in thresholds):
        raise ValidationFailed("alert_thresholds", "thresholds are percentages above 0, at "
                                                   "most 1000")
    stamp = now_ms()
    values = {"monthly_limit_nanos": round(limit * NANOS), "is_active": 1,
              "alert_thresholds_json": json.dumps([t if not t.is_integer() else int(t)
                                                   for t in thresholds]),
              "updated_at": stamp, "updated_by": actor or ""}
    connection = Record._get_connection()
    response = connection.update_item(
        budget_pk(network_id), BUDGET_SK,
        actions=[Path(name).set(value) for name, value in values.items()] +
                [Path("created_at").set(Path("created_at") | stamp)],
        return_values="ALL_NEW")
    item = _plain_attributes(response)
    _notify_reached(network_id, item, month_of(stamp))
    return {"id": f"budget_{network_id}", "monthly_limit_usd": usd(item["monthly_limit_nanos"]),
            "alert_thresholds": _thresholds(item), "is_active": True,
            "created_at": iso(item.get("created_at")), "updated_at": iso(stamp)}


def check_budget(network_id: str, at_ms: int) -> None:
    """After a commit that recorded a cost: notify the thresholds the month has reached
    (see the module's notes). A failure here delays an alert to the next check."""
    try:
        _notify_reached(network_id, _budget_item(network_id), month_of(at_ms))
    except Exception:  # noqa: BLE001 - the cost is committed; the next check catches up
        log.exception("budget not checked", extra={"network_id": network_id})


def _plain_attributes(response: dict) -> dict:
    from chalicelib.store.insight import _plain
    return _plain(response.get("Attributes", {}))


def _notify_reached(network_id: str, item: dict, month: str) -> None:
    """Notify each threshold the month's spend has reached and nobody has notified yet."""
    limit = item.get("monthly_limit_nanos")
    if limit is None or not item.get("is_active"):
        return
    spent, notified = in_parallel(lambda: month_spend(network_id, month),
                                  lambda: {a["threshold"] for a in alerts(network_id, month)})
    for threshold in _thresholds(item):
        if threshold not in notified and spent > 0 and spent >= limit * threshold / 100:
            _notify(network_id, month, threshold, limit, spent)


def _notify(network_id: str, month: str, threshold, limit: int, spent: int) -> None:
    """One `system.alert` per threshold per month: the alert item is conditional, and the
    event is written in the same transaction, so it exists exactly when the alert does."""
    data = {"kind": "budget_threshold", "threshold": threshold, "month": month,
            "monthly_limit": usd(limit), "current_spend": usd(spent),
            "percent_used": round(spent / limit * 100, 1) if limit else None,
            "message": f"Spend this month reached {threshold}% of the budget "
                       f"(${usd(spent):.2f} of ${usd(limit):.2f})"}
    event = events.record(network_id, "system.alert", data, source="budget")
    try:
        with transaction() as tx:
            tx.save(BudgetRecord(budget_pk(network_id), alert_sk(month, threshold),
                                 kind="budget_alert", network_id=network_id,
                                 created_at=event.created_at, threshold_data=data),
                    condition=Record.pk.does_not_exist())
            tx.save(event)
    except TransactWriteError as error:
        if cancelled_by_condition(error):
            return  # notified already this month
        raise
    fanout.announce(network_id, [event])


def alerts(network_id: str, month: str) -> list[dict]:
    try:
        return [r.threshold_data for r in BudgetRecord.query(
            budget_pk(network_id), Record.sk.startswith(f"ALERT#{month}#"), consistent_read=True)]
    except DoesNotExist:
        return []
