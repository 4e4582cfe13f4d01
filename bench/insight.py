"""What analytics cost to read, with 1k and 50k tasks in the network.

    .venv/bin/python -m bench.insight [sizes...]

Tasks are created through the task service (so the counters are the ones real work
keeps), spread over the last 30 days by moving the service's clock, one in four taken and
completed by one of five nodes and one in twenty failed for good. Then each report is
metered in process (bench.Meter: DynamoDB requests and items read). The reads depend on
the days asked for and the nodes active on them, not on how many tasks there are.
"""
from __future__ import annotations

import sys
import time

from bench import BENCH_SECRET, Meter, in_process_hub, offline_aws

offline_aws()
DAY_MS = 86_400_000
NODES = 5


def populate(size: int) -> str:
    from chalicelib.services import identity, nodes, tasks
    principal = identity.resolve_secret(BENCH_SECRET)
    network = principal.network_id
    real_now = tasks.now_ms
    start = real_now() - 29 * DAY_MS
    for n in range(NODES):
        nodes.register(principal, f"node-{n}", kind="bench", max_concurrent=10 ** 6)
    try:
        for i in range(size):
            at = start + (i * 29 * DAY_MS) // max(size - 1, 1)
            tasks.now_ms = lambda at=at: at
            task, _ = tasks.create(principal, title=f"t{i}", source="bench",
                                   priority=("high", "medium", "low")[i % 3], route=False)
            if i % 4 == 0:
                node = f"node-{i % NODES}"
                tasks.start(network, task.task_id, node)
                tasks.now_ms = lambda at=at: at + 1000 * (1 + i % 600)
                tasks.complete(network, task.task_id, node_id=node, actor="bench",
                               result={"usage": {"model": "gpt-4o", "prompt_tokens": 100,
                                                 "completion_tokens": 50}})
            elif i % 20 == 1:
                tasks.start(network, task.task_id, f"node-{i % NODES}")
                tasks.fail(network, task.task_id, node_id=f"node-{i % NODES}", error="no",
                           actor="bench", retry=False)
    finally:
        tasks.now_ms = real_now
    for n in range(NODES):
        nodes.heartbeat(network, f"node-{n}")
    return network


def run(size: int) -> list[tuple]:
    with in_process_hub():
        from chalicelib.services import tasks
        from chalicelib.services.insight import analytics
        started = time.perf_counter()
        network = populate(size)
        loaded_s = time.perf_counter() - started
        meter = Meter()
        reports = {
            "overview?days=30": lambda: analytics.overview(network, 30),
            "overview?days=7": lambda: analytics.overview(network, 7),
            "tasks/timeline?days=30": lambda: analytics.timeline(network, 30),
            "workers/utilization": lambda: analytics.utilization(network),
            "cost/summary": lambda: analytics.cost_summary(network),
            "cost/by-provider?days=30": lambda: analytics.cost_by_provider(network, 30),
            "tasks/stats": lambda: tasks.stats(network),
        }
        rows = [(name, *meter.measure(report)) for name, report in reports.items()]
        overview = analytics.overview(network, 30)["tasks"]
        assert overview["total"] == size, overview
        return [(name, calls, items, rounds, ms, loaded_s) for name, calls, items, rounds, ms in rows]


def main(sizes: list[int]) -> None:
    print(f"{'report':26} {'tasks':>7} {'requests':>9} {'round trips':>12} {'items read':>11} "
          f"{'ms (moto)':>10}  calls")
    for size in sizes:
        rows = run(size)
        for name, calls, items, rounds, ms, _ in rows:
            print(f"{name:26} {size:>7} {sum(calls.values()):>9} {rounds:>12} {items:>11} "
                  f"{ms:>10.1f}  {', '.join(f'{k}×{v}' for k, v in sorted(calls.items()))}")
        print(f"  ({size} tasks created through the service in {rows[0][5]:.0f} s)")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 50_000])
