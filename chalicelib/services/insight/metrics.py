"""/metrics: Prometheus text exposition (prometheus_client's), of two kinds of numbers.

- Per instance: requests by dialect, route template, method and status, and their latency
  (a histogram), counted by `observe` in the HTTP middleware. On Lambda every instance
  (container) keeps its own, from its cold start until it is recycled, and a scrape reaches
  whichever instance API Gateway picks: sum them with `sum by (...)`, rate them with
  `rate()` (a counter going back to zero is a new instance, which rate() handles), and read
  `switchboard_instance_start_time_seconds`/`switchboard_instance_id` to tell instances
  apart. They are the recent traffic of one instance, never the deployment's totals.
- Deployment-wide, read from DynamoDB (the same counters as `/tasks/stats`): tasks by
  state, queue depth, nodes registered and online, outbound deliveries given up, per
  network; deliveries waiting for an attempt, in all networks. These are the same whichever
  instance answers; each instance caches them for SWITCHBOARD_METRICS_CACHE_S (15 s).
  The networks shown are those with any activity (and the default one): the events
  table's stream consumer adds every network it sees an event of to one item (a set), as
  does the fleet job for networks with nodes, so a scrape reads that item and then one
  counter Query and one nodes Query per network, never a Scan.

This module is imported by the middleware at cold start: prometheus_client itself is
imported only when /metrics is rendered.
"""
from __future__ import annotations

import bisect
import threading
import time
import uuid

from chalicelib.config import settings

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
NETWORKS_KEY = ("METRICS", "NETWORKS")
NETWORKS_ATTRIBUTE = "networks"     # a string set of network ids
PENDING_COUNT_LIMIT = 10_000  # pending deliveries counted at most (the gauge saturates)
_lock = threading.Lock()
_requests: dict[tuple, list] = {}   # (dialect, route, method, status) -> [count, sum, buckets...]
_started = time.time()
_instance = uuid.uuid4().hex[:12]
_gauges: dict = {"at": 0.0, "value": None}
_route_dialects: dict[tuple[str, str], str] = {}
_remembered: set[str] = set()       # networks this instance has added to the list


def observe(dialect: str, route: str, method: str, status: int, seconds: float) -> None:
    """Count one request (the HTTP middleware calls this for every answer)."""
    key = (dialect, route, method, str(status))
    slot = bisect.bisect_left(LATENCY_BUCKETS_S, seconds)
    with _lock:
        entry = _requests.get(key)
        if entry is None:
            entry = _requests[key] = [0, 0.0] + [0] * (len(LATENCY_BUCKETS_S) + 1)
        entry[0] += 1
        entry[1] += seconds
        entry[2 + slot] += 1


def dialect_of(route: str, method: str, path: str) -> str:
    """The dialect of a route template (as the route table declares it), else the one the
    path belongs to (unknown routes, wrong methods)."""
    if not _route_dialects:
        from chalicelib.api.routing import ROUTES
        for spec in ROUTES:
            _route_dialects[(spec.path, spec.method)] = spec.dialect
            _route_dialects.setdefault((spec.path, "*"), spec.dialect)
    found = _route_dialects.get((route, method)) or _route_dialects.get((route, "*"))
    if found:
        return found
    from chalicelib.api.dialects import for_path
    return for_path(path).name


def authorized(headers, query: dict) -> bool:
    """Open unless SWITCHBOARD_METRICS_TOKEN is set; then its bearer token or ?token=."""
    expected = settings().metrics_token
    if not expected:
        return True
    import hmac
    header = headers.get("authorization") or ""
    presented = header[7:].strip() if header.lower().startswith("bearer ") else query.get("token")
    return bool(presented) and hmac.compare_digest(presented.encode(), expected.encode())


# --------------------------------------------------------------------------- gauges


def remember_networks(network_ids) -> None:
    """Add networks to the list /metrics reports on (the events stream consumer and the
    fleet job call this). An atomic ADD to a string set, so writers never undo each
    other; each instance writes a network once."""
    new = {n for n in network_ids if n} - _remembered
    if not new:
        return
    from pynamodb.expressions.operand import Path

    from chalicelib.store.records import Record
    Record(*NETWORKS_KEY).update(actions=[Path(NETWORKS_ATTRIBUTE).add({"SS": sorted(new)})])
    _remembered.update(new)


def _known_networks() -> set[str]:
    from chalicelib.store.records import Record
    item = Record._get_connection().get_item(*NETWORKS_KEY, consistent_read=True).get("Item")
    return set((item or {}).get(NETWORKS_ATTRIBUTE, {}).get("SS", []))


def _network_gauges(network_id: str) -> dict:
    from chalicelib.services import nodes, tasks
    from chalicelib.store.tasks import read_counters
    totals, fleet = read_counters(network_id), nodes.list_nodes(network_id)
    return {"tasks": {s: max(0, totals.get(f"count_{s}", 0)) for s in tasks.STATUSES},
            "nodes": len(fleet), "online": sum(1 for n in fleet if nodes.is_online(n)),
            "deliveries_dead": totals.get("deliveries_dead", 0)}


def _deliveries_pending() -> int:
    """Outbound deliveries waiting for an attempt, in every network: the due-time index's
    deliveries partition (bounded: it holds only what is still to be sent)."""
    from chalicelib.store.outbound import DUE_DELIVERY, DeliveryRecord
    return DeliveryRecord.by_time.count(DUE_DELIVERY, limit=PENDING_COUNT_LIMIT)


def gauges() -> dict:
    """Per network: tasks by state, nodes registered and online, dead deliveries; and the
    deliveries pending in all networks (cached briefly)."""
    now = time.monotonic()
    with _lock:
        if _gauges["value"] is not None and now - _gauges["at"] < settings().metrics_cache_s:
            return _gauges["value"]
    from chalicelib.store.base import in_parallel
    networks = sorted(_known_networks() | {settings().default_network_id})
    pending, *values = in_parallel(_deliveries_pending,
                                   *[(lambda n=n: _network_gauges(n)) for n in networks])
    found = {"networks": dict(zip(networks, values)), "deliveries_pending": pending}
    with _lock:
        _gauges.update(at=now, value=found)
    return found


def clear_cache() -> None:
    with _lock:
        _gauges.update(at=0.0, value=None)
    _remembered.clear()


# --------------------------------------------------------------------------- exposition


def render() -> tuple[bytes, str]:
    """(the exposition, its content type)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Collector:
    def collect(self):
        from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                            HistogramMetricFamily)
        labels = ["dialect", "route", "method", "status"]
        requests = CounterMetricFamily("switchboard_http_requests", "HTTP requests answered by "
                                       "this instance", labels=labels)
        latency = HistogramMetricFamily("switchboard_http_request_duration_seconds",
                                        "Time to answer HTTP requests, on this instance",
                                        labels=labels)
        with _lock:
            snapshot = {key: list(entry) for key, entry in _requests.items()}
        for key, entry in sorted(snapshot.items()):
            requests.add_metric(list(key), entry[0])
            cumulative, buckets = 0, []
            for bound, count in zip(LATENCY_BUCKETS_S + (float("inf"),), entry[2:]):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            latency.add_metric(list(key), buckets, entry[1])
        yield requests
        yield latency
        started = GaugeMetricFamily("switchboard_instance_start_time_seconds",
                                    "When this instance started (its per-instance counters "
                                    "count from here)", labels=["instance"])
        started.add_metric([_instance], _started)
        yield started
        yield from self._deployment()

    def _deployment(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        gauges_now = gauges()
        tasks = GaugeMetricFamily("switchboard_tasks", "Tasks by state (the counters behind "
                                  "/tasks/stats)", labels=["network", "state"])
        queue = GaugeMetricFamily("switchboard_queue_depth", "Tasks waiting in the queue",
                                  labels=["network"])
        registered = GaugeMetricFamily("switchboard_nodes", "Nodes registered",
                                       labels=["network"])
        online = GaugeMetricFamily("switchboard_nodes_online", "Nodes whose heartbeat is "
                                   "within the window", labels=["network"])
        dead = CounterMetricFamily("switchboard_deliveries_dead", "Outbound deliveries "
                                   "(webhooks, channels) given up after their last attempt",
                                   labels=["network"])
        for network, values in sorted(gauges_now["networks"].items()):
            for state, count in values["tasks"].items():
                tasks.add_metric([network, state], count)
            queue.add_metric([network], values["tasks"].get("pending", 0))
            registered.add_metric([network], values["nodes"])
            online.add_metric([network], values["online"])
            dead.add_metric([network], values["deliveries_dead"])
        pending = GaugeMetricFamily("switchboard_deliveries_pending", "Outbound deliveries "
                                    "waiting for an attempt, all networks (counted up to "
                                    f"{PENDING_COUNT_LIMIT})")
        pending.add_metric([], gauges_now["deliveries_pending"])
        age = GaugeMetricFamily("switchboard_gauges_age_seconds", "How old the DynamoDB-read "
                                "gauges above are (they are cached briefly)")
        age.add_metric([], round(time.monotonic() - _gauges["at"], 3))
        yield from (tasks, queue, registered, online, dead, pending, age)

