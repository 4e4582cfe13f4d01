"""DynamoDB requests and items read per task operation, with 1k and 50k tasks in the table,
then claims per second over HTTP on the local stack.

    .venv/bin/python -m bench.tasks [sizes...]

The request counts run in process on moto: every DynamoDB call the service makes (by
operation, counted where botocore makes it) and the items each read touched (ScannedCount
for queries, 1 per item fetched). Creating, pulling, completing and listing cost the same
number of requests and read the same number of items whatever the table holds, because
each is a GetItem, a Query on a bounded partition page, or a conditional write, never a
Scan. Targets: at most 3 requests per uncontended pull.

The claims figure: 50 nodes pull 300 tasks over HTTP from a fresh local stack until none
is left, once with the tasks queued before the nodes registered (every pull claims from
the queue), once with the nodes online while the tasks are created (some are routed at
creation and handed by the pull). Target: 50 claims/s.
"""
from __future__ import annotations

import collections
import sys
import time

from bench import BENCH_SECRET, Meter, in_process_hub, offline_aws

offline_aws()


def load(network_id: str, count: int) -> None:
    """`count` finished tasks, written directly (the bench is about reading around them)."""
    from chalicelib.store.tasks import TaskRecord as T
    stamp = 1_700_000_000_000
    with T.batch_write() as batch:
        for i in range(count):
            task_id = f"task-old-{i:08d}"
            batch.save(T(f"NET#{network_id}", f"TASK#{task_id}", task_id=task_id,
                         network_id=network_id, title=f"old {i}", status="completed",
                         priority="medium", rank=3, attempts=1, max_attempts=3,
                         created_at=stamp + i, updated_at=stamp + i))


def run(size: int) -> list[tuple]:
    with in_process_hub():
        from chalicelib.services import identity, nodes, tasks
        principal = identity.resolve_secret(BENCH_SECRET)
        network = principal.network_id
        load(network, size)
        for i in range(100):  # a queue with work in it
            tasks.create(principal, title=f"queued {i}", source="bench")
        nodes.register(principal, "bench-node", kind="bench")
        meter = Meter()
        rows = []
        created = {}
        claimed = {}
        rows.append(("create (routed to a node)", *meter.measure(
            lambda: created.setdefault("task", tasks.create(principal, title="new", source="bench")[0]))))
        rows.append(("create (queued)", *meter.measure(
            lambda: tasks.create(principal, title="queued", source="bench", route=False))))
        rows.append(("pull: hand an assigned task", *meter.measure(
            lambda: claimed.setdefault("routed", tasks.claim(network, "bench-node")))))
        rows.append(("pull: claim from the queue", *meter.measure(
            lambda: claimed.setdefault("queued", tasks.claim(network, "bench-node")))))
        assert claimed["routed"].task_id == created["task"].task_id
        assert claimed["queued"].title == "queued 0", "the oldest of the most urgent"
        rows.append(("complete", *meter.measure(lambda: tasks.complete(
            network, claimed["queued"].task_id, node_id="bench-node", result={}, actor="bench"))))
        rows.append(("list 50 (newest first)", *meter.measure(
            lambda: tasks.list_tasks(network, limit=50))))
        rows.append(("list 50 status=pending", *meter.measure(
            lambda: tasks.list_tasks(network, tasks.TaskFilter(status="pending"), limit=50))))
        rows.append(("get", *meter.measure(lambda: tasks.get(network, created["task"].task_id))))
        return rows


def http_claims(claimers: int = 50, count: int = 300, *, online: bool) -> dict:
    """`claimers` nodes pull `count` tasks over HTTP until the queue is empty.

    online=False: the tasks wait in the queue before any node registers (every pull is a
    claim from the queue). online=True: the nodes register first, so creating routes some
    tasks to them at once, and their pulls hand those out before claiming from the queue.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from bench import local_stack
    from tests.localstack import STACK_CREDENTIALS

    def session():
        client = requests.Session()
        client.headers["X-Matrix-Secret"] = STACK_CREDENTIALS["SWITCHBOARD_SHARED_SECRET"]
        return client

    node_ids = [f"claimer-{n:02d}" for n in range(claimers)]
    statuses = collections.Counter()
    lock = threading.Lock()
    with local_stack(SWITCHBOARD_HEARTBEAT_WINDOW="3600") as stack:
        def register_all():
            client = session()
            for node_id in node_ids:
                client.post(stack.url("/api/v1/node/register"),
                            json={"node_id": node_id, "name": node_id}).raise_for_status()

        def create_all():
            client = session()
            def one(i):
                return client.post(stack.url("/api/v1/task/create"), json={
                    "title": f"t{i}", "description": "d",
                    "priority": ["high", "medium", "low"][i % 3]}).json()["task_id"]
            with ThreadPoolExecutor(8) as pool:
                return list(pool.map(one, range(count)))

        if online:
            register_all()
            created = create_all()
        else:
            created = create_all()
            register_all()

        def claimer(node_id):
            client, taken = session(), []
            while True:
                response = client.post(stack.url("/api/v1/task/pull"), json={"node_id": node_id})
                with lock:
                    statuses[response.status_code] += 1
                if response.status_code != 200:
                    continue
                task = response.json()["task"]
                if task is None:
                    return taken
                taken.append(task["task_id"])

        started = time.perf_counter()
        with ThreadPoolExecutor(claimers) as pool:
            taken = [t for batch in pool.map(claimer, node_ids) for t in batch]
        elapsed = time.perf_counter() - started
    return {"claims": len(taken), "distinct": len(set(taken)), "created": len(set(created)),
            "seconds": elapsed, "per_second": len(taken) / elapsed, "statuses": dict(statuses)}


def main(sizes: list[int]) -> None:
    print(f"{'operation':28} {'tasks':>7} {'requests':>9} {'round trips':>12} {'items read':>11} "
          f"{'ms (moto)':>10}  calls")
    for size in sizes:
        for name, calls, items, rounds, ms in run(size):
            print(f"{name:28} {size:>7} {sum(calls.values()):>9} {rounds:>12} {items:>11} "
                  f"{ms:>10.1f}  {', '.join(f'{k}×{v}' for k, v in sorted(calls.items()))}")
    for online in (False, True):
        result = http_claims(online=online)
        how = "created while the nodes are online" if online else "created before the nodes"
        print(f"claims over HTTP, 50 claimers, 300 tasks {how}: {result['per_second']:.1f} claims/s "
              f"({result['claims']} handed out, {result['distinct']} distinct, in "
              f"{result['seconds']:.1f} s; answers {result['statuses']})")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1_000, 50_000])
