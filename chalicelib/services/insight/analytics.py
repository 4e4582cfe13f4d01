"""Analytics and cost reports, read from the counters (counters.py), never from the
records they count: a report over N days is one Query per counter partition over those
days, whatever the network holds.

Periods are whole UTC days ending today: `days=1` is today, `days=30` today and the 29
before it.
"""
from __future__ import annotations

import time
from collections import defaultdict

from chalicelib.clock import now_ms
from chalicelib.errors import ValidationFailed
from chalicelib.services import nodes
from chalicelib.services.insight import cost
from chalicelib.services.insight.counters import DURATION_BUCKETS_S, bucket_name, day_of
from chalicelib.store.base import in_parallel
from chalicelib.store.insight import (TOTAL_PREFIX, agent_pk, day_pk, model_pk, read_days,
                                      read_prefix)
from chalicelib.limits import ANALYTICS_MAX_DAYS as MAX_DAYS

SUMMED = ("created", "completed", "failed", "dur_ms", "dur_n", "usd_nanos", "credits",
          "in_tokens", "out_tokens", "cost_n", "messages", "files", "file_bytes")


def period(days: int) -> tuple[str, str, list[str]]:
    """(first day, last day, every day) of the `days` days ending today (UTC)."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed("days", f"'days' must be 1-{MAX_DAYS}")
    today = now_ms() // 86_400_000
    every = [time.strftime("%Y-%m-%d", time.gmtime((today - back) * 86400))
             for back in range(days - 1, -1, -1)]
    return every[0], every[-1], every


def _day(sk: str) -> str:
    return sk.split("#", 1)[0]


def _add(into: dict, item: dict) -> dict:
    for name, value in item.items():
        if name not in ("pk", "sk") and isinstance(value, (int, float)):
            into[name] = into.get(name, 0) + value
    return into


def _by_day(items: list[dict]) -> dict[str, dict]:
    days: dict[str, dict] = defaultdict(dict)
    for item in items:
        _add(days[_day(item["sk"])], item)
    return days


def created_on(network_id: str, day: str) -> int:
    return int(sum(item.get("created", 0) for item in read_prefix(day_pk(network_id), f"{day}#")))


# --------------------------------------------------------------------------- analytics


def quantile(counts: dict, q: float) -> float | None:
    """The q-quantile (seconds) of the durations in the histogram `counts`, interpolated
    within its bucket as Prometheus' histogram_quantile does; None without data."""
    buckets = [int(counts.get(bucket_name(i), 0)) for i in range(len(DURATION_BUCKETS_S) + 1)]
    total = sum(buckets)
    if not total:
        return None
    rank, seen = q * total, 0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            if index == len(DURATION_BUCKETS_S):
                return float(DURATION_BUCKETS_S[-1])  # beyond the last bound: that bound
            lower = DURATION_BUCKETS_S[index - 1] if index else 0.0
            upper = DURATION_BUCKETS_S[index]
            return round(lower + (upper - lower) * (rank - seen) / count, 3)
        seen += count
    return None


def task_summary(totals: dict) -> dict:
    created, completed, failed = (int(totals.get(k, 0)) for k in ("created", "completed", "failed"))
    n = totals.get("dur_n", 0)
    priorities = sorted({k.split("_p_", 1)[1] for k in totals if "_p_" in k})
    return {"total": created, "completed": completed, "failed": failed,
            "success_rate": round(completed / max(created, 1) * 100, 1),
            "avg_completion_seconds": round(totals.get("dur_ms", 0) / n / 1000, 3) if n else 0,
            "p50_completion_seconds": quantile(totals, 0.5),
            "p95_completion_seconds": quantile(totals, 0.95),
            "by_status": {k[3:]: int(v) for k, v in sorted(totals.items()) if k.startswith("st_")},
            "by_priority": {p: {kind: int(totals.get(f"{kind}_p_{p}", 0))
                                for kind in ("created", "completed", "failed")}
                            for p in priorities}}


def overview(network_id: str, days: int = 7) -> dict:
    """The platform's overview (`tasks`, `messages`, `files`) plus durations' p50/p95,
    counts by status and priority, and cost."""
    first, last, _ = period(days)
    totals: dict = {}
    for item in read_days(day_pk(network_id), first, last):
        _add(totals, item)
    return {"period_days": days, "from": first, "to": last, "tasks": task_summary(totals),
            "messages": {"total": int(totals.get("messages", 0))},
            "files": {"total": int(totals.get("files", 0)),
                      "total_size_bytes": int(totals.get("file_bytes", 0))},
            "cost": {"total_usd": cost.usd(totals.get("usd_nanos")),
                     "credits": int(totals.get("credits", 0)),
                     "requests": int(totals.get("cost_n", 0))}}


def timeline(network_id: str, days: int = 30) -> list[dict]:
    """Days with activity, oldest first: `{date, total, completed, failed}` (+ more)."""
    first, last, _ = period(days)
    by_day = _by_day(read_days(day_pk(network_id), first, last))
    return [{"date": day, "total": int(t.get("created", 0)), "completed": int(t.get("completed", 0)),
             "failed": int(t.get("failed", 0)),
             "avg_completion_seconds": round(t["dur_ms"] / t["dur_n"] / 1000, 3)
             if t.get("dur_n") else 0, "cost_usd": cost.usd(t.get("usd_nanos"))}
            for day, t in sorted(by_day.items())]


def agent_counters(network_id: str, days: int | None = None) -> dict[str, dict]:
    """Counters per agent id: lifetime (days=None), or over the last `days` days."""
    if days is None:
        items = read_prefix(agent_pk(network_id), TOTAL_PREFIX)
        return {i["sk"][len(TOTAL_PREFIX):]: i for i in items}
    first, last, _ = period(days)
    found: dict[str, dict] = defaultdict(dict)
    for item in read_days(agent_pk(network_id), first, last):
        _add(found[item["sk"].split("#", 1)[1]], item)
    return found


def agent_totals(network_id: str, agent_ids: list[str]) -> dict[str, dict]:
    """The lifetime counters of these agents (what /analytics/agents reads): one Query,
    of one agent's item for one, of the network's agent totals for several."""
    if not agent_ids:
        return {}
    prefix = TOTAL_PREFIX + (agent_ids[0] if len(agent_ids) == 1 else "")
    found = {item["sk"][len(TOTAL_PREFIX):]: item
             for item in read_prefix(agent_pk(network_id), prefix)}
    return {agent_id: found.get(agent_id, {}) for agent_id in agent_ids}


def agent_view(agent_id: str, counts: dict, agent=None) -> dict:
    completed, failed = int(counts.get("completed", 0)), int(counts.get("failed", 0))
    settings = (getattr(agent, "settings", None) or {}) if agent is not None else {}
    n = counts.get("dur_n", 0)
    return {"id": agent_id, "name": getattr(agent, "name", None),
            "role": getattr(agent, "role", None), "status": getattr(agent, "status", None),
            "tasks_completed": completed, "tasks_failed": failed,
            "total_tasks": int(counts.get("created", 0)),
            "success_rate": round(completed / max(completed + failed, 1) * 100, 1),
            "avg_completion_seconds": round(counts.get("dur_ms", 0) / n / 1000, 3) if n else 0,
            "total_cost_usd": cost.usd(counts.get("usd_nanos")),
            "total_tokens": int(counts.get("in_tokens", 0) + counts.get("out_tokens", 0)),
            "llm_provider": settings.get("llm_provider"), "llm_model": settings.get("llm_model")}


def all_agents(network_id: str) -> list:
    """Every live agent record, newest first (a network has agents, not millions)."""
    from chalicelib.services import orchestration
    found, cursor = [], None
    while True:
        page = orchestration.agents.list_agents(network_id, limit=500, cursor=cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found


def agents(network_id: str) -> list[dict]:
    """Every live agent with its lifetime counters."""
    counts = agent_counters(network_id)
    return [agent_view(a.id, counts.get(a.id, {}), a) for a in all_agents(network_id)]


def utilization(network_id: str) -> list[dict]:
    """Per online worker, from its latest heartbeat (what it reported of its machine) and
    what it holds now; plus what it finished today."""
    today = day_of(now_ms())
    fleet, items = in_parallel(lambda: nodes.list_nodes(network_id, online_only=True),
                               lambda: read_prefix(day_pk(network_id), f"{today}#N#"))
    done = {item["sk"].split("#N#", 1)[1]: item for item in items}
    views = []
    for node in fleet:
        meta = node.metadata or {}
        held, room = int(node.active_tasks), int(node.max_concurrent)
        mine = done.get(node.node_id, {})
        views.append({"id": node.node_id, "name": node.name, "ip_address": meta.get("ip_address"),
                      "cpu_percent": meta.get("cpu_usage_percent"),
                      "memory_percent": meta.get("memory_usage_percent"),
                      "disk_percent": meta.get("disk_usage_percent"),
                      "agents_active": held, "agents_busy": held, "max_agents": room,
                      "capacity_percent": round(held / max(room, 1) * 100, 1),
                      "load": float(node.load or 0), "last_heartbeat_ms": node.last_heartbeat,
                      "tasks_completed_today": int(mine.get("completed", 0)),
                      "tasks_failed_today": int(mine.get("failed", 0))})
    return views


# --------------------------------------------------------------------------- cost reports


def cost_summary(network_id: str) -> dict:
    first, last, _ = period(30)
    by_day = _by_day(read_days(day_pk(network_id), first, last))
    spent = [t["usd_nanos"] for t in by_day.values() if t.get("cost_n")]
    total = sum(spent)
    return {"total_30_days": cost.usd(total),
            "daily_average": cost.usd(total / len(spent)) if spent else 0.0,
            "days_with_data": len(spent), "credits_30_days": int(sum(
                t.get("credits", 0) for t in by_day.values())),
            "budget": cost.budget_view(network_id)}


def cost_daily(network_id: str, days: int = 30) -> dict:
    first, last, _ = period(days)
    totals, models = in_parallel(lambda: _by_day(read_days(day_pk(network_id), first, last)),
                                 lambda: read_days(model_pk(network_id), first, last))
    providers: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for item in models:
        day, rest = item["sk"].split("#", 1)
        provider = rest.split("|", 1)[0]
        for name in ("usd_nanos", "in_tokens", "out_tokens"):
            providers[day][provider][name] += item.get(name, 0)
    items = [{"date": day, "total_cost": cost.usd(t.get("usd_nanos")),
              "request_count": int(t.get("cost_n", 0)), "credits": int(t.get("credits", 0)),
              "by_provider": {p: {"cost": cost.usd(v["usd_nanos"]),
                                  "input_tokens": int(v["in_tokens"]),
                                  "output_tokens": int(v["out_tokens"])}
                              for p, v in sorted(providers[day].items())}}
             for day, t in sorted(totals.items()) if t.get("cost_n")]
    return {"items": items, "days": days, "total": len(items)}


def cost_by_agent(network_id: str, days: int = 30) -> dict:
    counts = agent_counters(network_id, days)
    items = [{"agent_id": agent_id, "total_cost": cost.usd(c.get("usd_nanos")),
              "total_input_tokens": int(c.get("in_tokens", 0)),
              "total_output_tokens": int(c.get("out_tokens", 0)),
              "request_count": int(c.get("cost_n", 0)), "credits": int(c.get("credits", 0))}
             for agent_id, c in sorted(counts.items()) if c.get("cost_n")]
    items.sort(key=lambda i: -i["total_cost"])
    return {"items": items, "period_days": days}


def cost_by_provider(network_id: str, days: int = 30) -> dict:
    first, last, _ = period(days)
    pairs: dict[tuple[str, str], dict] = defaultdict(dict)
    for item in read_days(model_pk(network_id), first, last):
        provider, model = item["sk"].split("#", 2)[1].split("|", 1)
        _add(pairs[(provider, model)], item)
    items = [{"provider": provider, "model": model, "total_cost": cost.usd(c.get("usd_nanos")),
              "total_input_tokens": int(c.get("in_tokens", 0)),
              "total_output_tokens": int(c.get("out_tokens", 0)),
              "request_count": int(c.get("cost_n", 0)), "credits": int(c.get("credits", 0)),
              "avg_cost_per_request": cost.usd(c.get("usd_nanos", 0) / max(c.get("cost_n", 1), 1))}
             for (provider, model), c in sorted(pairs.items())]
    items.sort(key=lambda i: -i["total_cost"])
    return {"items": items, "period_days": days}
