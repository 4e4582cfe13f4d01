"""What durability costs on the local stack, and how fast it comes back.

    .venv/bin/python -m bench.durability

- write latency over HTTP (`POST /api/v1/task/create`, one client, then eight at once)
  with the journal off, and on with fsync `batch` (the default) and `always`;
- the journal's own cost per write, in process (a PutItem with and without it);
- start-up time (process start to `/health` answering) with 50,000 tasks in a snapshot
  generation, and with the same 50,000 as journal records to replay.
"""
from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench import latency_summary, local_stack
from tests.localstack import STACK_CREDENTIALS, RunningStack

WRITES = 300
ITEMS = 50_000


def _create(session, stack, i) -> float:
    started = time.perf_counter()
    answer = session.post(stack.url("/api/v1/task/create"),
                          json={"title": f"bench {i}", "description": "d"})
    assert answer.status_code == 200, answer.text
    return (time.perf_counter() - started) * 1000


def write_latency(label: str, **env) -> None:
    with local_stack(**env) as stack:
        session = requests.Session()
        session.headers["X-Matrix-Secret"] = STACK_CREDENTIALS["SWITCHBOARD_SHARED_SECRET"]
        for i in range(20):
            _create(session, stack, i)
        sequential = [_create(session, stack, i) for i in range(WRITES)]
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: _create(session, stack, i), range(WRITES)))
        rate = WRITES / (time.perf_counter() - started)
        print(f"  {label:28} one client: {latency_summary(sequential)}; "
              f"8 clients: {rate:.0f} creates/s")


def journal_cost_per_write() -> None:
    """PutItem through the emulator with and without appending and awaiting the journal."""
    from moto import mock_aws

    from infra.local import dynamodb, moto_patches
    from infra.local.journal import Journal
    moto_patches.apply()
    with mock_aws(), tempfile.TemporaryDirectory() as scratch:
        import boto3
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName="bench", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        for mode in (None, "off", "batch", "always"):
            journal = Journal(Path(scratch) / str(mode), 1, mode) if mode else None
            engine = dynamodb.LocalDynamoDB("us-east-1", journal=journal)
            timings = []
            for i in range(2000):
                params = {"TableName": "bench", "Item": {"pk": {"S": f"k{i}"},
                                                         "body": {"S": "x" * 500}}}
                started = time.perf_counter()
                engine.execute("PutItem", params, json.dumps(params), engine.headers_for("PutItem"))
                timings.append((time.perf_counter() - started) * 1e6)
            if journal:
                journal.close()
            print(f"  PutItem, journal {mode or 'none':6}   median {statistics.median(timings):6.0f} µs")


def _task_images(count: int) -> list[tuple[dict, dict]]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from chalicelib.store.tasks import TaskRecord as T
    stamp = 1_700_000_000_000
    rows = []
    for i in range(count):
        task_id = f"task-old-{i:08d}"
        item = T(f"NET#net_default", f"TASK#{task_id}", task_id=task_id,
                 network_id="net_default", title=f"old task {i}", description="d" * 200,
                 status="completed", priority="medium", rank=3, attempts=1, max_attempts=3,
                 result={"output": "done"}, created_at=stamp + i, updated_at=stamp + i)
        image = item.serialize()
        image["pk"], image["sk"] = {"S": item.pk}, {"S": item.sk}
        rows.append(({"pk": image["pk"], "sk": image["sk"]}, image))
    return rows


def start_up(label: str, prepare) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "data"
        prepare(data)
        started = time.perf_counter()
        stack = RunningStack(data).start(timeout=300)
        elapsed = time.perf_counter() - started
        stack.stop()
        print(f"  {label:44} {elapsed:5.1f} s to /health")


def _as_generation(data: Path) -> None:
    from infra.local import storage
    rows = {json.dumps(key, sort_keys=True): [key, image] for key, image in _task_images(ITEMS)}
    storage.DataDirectory(data).write_generation(0, {"switchboard-local-tasks": rows}, {})


def _as_journal(data: Path) -> None:
    from infra.local.journal import Journal
    journal = Journal(data / "journal", 1, "off")
    for key, image in _task_images(ITEMS):
        journal.append({"d": [["switchboard-local-tasks", key, image]]})
    journal.wait(ITEMS)
    journal.close()


def main() -> None:
    print("Write latency, POST /api/v1/task/create over HTTP:")
    write_latency("journal off", SWITCHBOARD_LOCAL_JOURNAL="off")
    write_latency("journal, fsync batch", SWITCHBOARD_LOCAL_FSYNC="batch")
    write_latency("journal, fsync always", SWITCHBOARD_LOCAL_FSYNC="always")
    print("The journal's cost per write, in process (500-byte items):")
    journal_cost_per_write()
    print(f"Start-up with {ITEMS:,} tasks:")
    start_up("from a snapshot generation", _as_generation)
    start_up("from the journal alone (replay)", _as_journal)


if __name__ == "__main__":
    main()
