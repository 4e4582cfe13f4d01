"""DynamoDB requests and items read per task operation, with 1k and 50k tasks in the table.

    .venv/bin/python -m bench.tasks [sizes...]

Runs in-process on moto. Counts every DynamoDB call the service makes (by operation) and
the items each read touched (ScannedCount for queries, 1 per item fetched). What it shows:
creating, claiming, completing and listing cost the same number of requests and read the
same number of items whatever the table holds, because every one is a GetItem, a Query on
a bounded partition page, or a conditional write — never a Scan.
"""
from __future__ import annotations

import collections
import os
import sys
import time

os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                   "AWS_DEFAULT_REGION": "us-east-1", "SWITCHBOARD_STAGE": "bench"})
for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(name, None)


class Meter:
    """Counts DynamoDB calls and items read, by patching botocore's one call path."""

    def __init__(self):
        import botocore.client
        self.calls = collections.Counter()
        self.items = 0
        self._original = botocore.client.BaseClient._make_api_call
        meter = self

        def counted(client, operation, params):
            response = meter._original(client, operation, params)
            if client.meta.service_model.service_name == "dynamodb":
                meter.calls[operation] += 1
                if operation in ("Query", "Scan"):
                    meter.items += response.get("ScannedCount", 0)
                elif operation == "GetItem":
                    meter.items += 1 if response.get("Item") else 0
                elif operation == "BatchGetItem":
                    meter.items += sum(len(v) for v in response.get("Responses", {}).values())
            return response
        botocore.client.BaseClient._make_api_call = counted

    def measure(self, action):
        self.calls.clear()
        self.items = 0
        started = time.perf_counter()
        action()
        return dict(self.calls), self.items, (time.perf_counter() - started) * 1000


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
    from moto import mock_aws

    from infra.local import dynamodb, moto_patches
    moto_patches.apply()  # the local stack's DynamoDB: moto, indexed, reached in process
    dynamodb.install_transport(dynamodb.LocalDynamoDB(os.environ["AWS_DEFAULT_REGION"]))
    with mock_aws():
        from chalicelib.services import identity, nodes, tasks
        from chalicelib.store import tables
        tables.create_all()
        identity.bootstrap(admin_email="bench@example.test", admin_password="bench-password",
                           shared_secret="bench-secret", admin_token="bench-token")
        principal = identity.resolve_secret("bench-secret")
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
        rows.append(("claim", *meter.measure(
            lambda: claimed.setdefault("task", tasks.claim(network, "bench-node")))))
        rows.append(("complete", *meter.measure(lambda: tasks.complete(
            network, claimed["task"].task_id, node_id="bench-node", result={}, actor="bench"))))
        rows.append(("list 50 (newest first)", *meter.measure(
            lambda: tasks.list_tasks(network, limit=50))))
        rows.append(("list 50 status=pending", *meter.measure(
            lambda: tasks.list_tasks(network, tasks.TaskFilter(status="pending"), limit=50))))
        rows.append(("get", *meter.measure(lambda: tasks.get(network, created["task"].task_id))))
        return rows


def main(sizes: list[int]) -> None:
    print(f"{'operation':28} {'tasks':>7} {'requests':>9} {'items read':>11} {'ms (moto)':>10}  calls")
    for size in sizes:
        for name, calls, items, ms in run(size):
            print(f"{name:28} {size:>7} {sum(calls.values()):>9} {items:>11} {ms:>10.1f}  "
                  f"{', '.join(f'{k}×{v}' for k, v in sorted(calls.items()))}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1_000, 50_000])
