"""Benchmarks. Shared here: a throwaway local stack, how latencies are summarized, and the
DynamoDB request meter for the in-process (moto) benchmarks."""
from __future__ import annotations

import collections
import contextlib
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path


def offline_aws() -> None:
    """The environment for running the app in this process on moto: set before chalicelib
    is imported (it reads its settings and defines its tables on import)."""
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "SWITCHBOARD_STAGE": "bench"})
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)


BENCH_TOKEN, BENCH_SECRET = "bench-token", "bench-secret"


@contextlib.contextmanager
def in_process_hub():
    """The app's services in this process, on moto, with the default network bootstrapped
    (its admin token BENCH_TOKEN, its shared secret BENCH_SECRET)."""
    offline_aws()
    from moto import mock_aws

    from infra.local import dynamodb, moto_patches
    moto_patches.apply()  # the local stack's DynamoDB: moto, indexed, reached in process
    dynamodb.install_transport(dynamodb.LocalDynamoDB(os.environ["AWS_DEFAULT_REGION"]))
    with mock_aws():
        from chalicelib.services import identity
        from chalicelib.store import tables
        tables.create_all()
        identity.bootstrap(admin_email="bench@example.test", admin_password="bench-password",
                           shared_secret=BENCH_SECRET, admin_token=BENCH_TOKEN)
        yield


class Meter:
    """Counts DynamoDB calls and the items they read, by wrapping botocore's one call path
    (`BaseClient._make_api_call`), and notes when each ran, to tell calls made one after
    another from calls made at once.

    In process, moto answers without ever letting another thread run, so calls made at
    once would still look sequential: each call first waits `LATENCY_S` (as a network
    would, letting other threads go), and `measure` takes that wait out of its timings."""

    LATENCY_S = 0.002

    def __init__(self):
        import botocore.client
        self.calls = collections.Counter()
        self.items = 0
        self.timeline: list[tuple[str, float, float]] = []
        self._lock = threading.Lock()
        original = botocore.client.BaseClient._make_api_call
        meter = self

        def counted(client, operation, params):
            if client.meta.service_model.service_name != "dynamodb":
                return original(client, operation, params)
            issued = time.perf_counter()
            time.sleep(meter.LATENCY_S)
            started = time.perf_counter()
            response = original(client, operation, params)
            meter.record(operation, response, issued, started, time.perf_counter())
            return response
        botocore.client.BaseClient._make_api_call = counted

    def record(self, operation: str, response: dict, issued: float, started: float,
               ended: float) -> None:
        with self._lock:
            self.calls[operation] += 1
            self.timeline.append((operation, issued, started, ended))
            if operation in ("Query", "Scan"):
                self.items += response.get("ScannedCount", 0)
            elif operation == "GetItem":
                self.items += 1 if response.get("Item") else 0
            elif operation == "BatchGetItem":
                self.items += sum(len(v) for v in response.get("Responses", {}).values())

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.timeline.clear()
            self.items = 0

    def measure(self, action):
        """(calls by operation, items read, sequential round trips, ms) of `action()`."""
        self.reset()
        started = time.perf_counter()
        action()
        elapsed = time.perf_counter() - started - sum(waited for waited in _round_waits(self.timeline))
        return dict(self.calls), self.items, round_trips(self.timeline), elapsed * 1000


def _round_waits(timeline):
    """For each round trip (calls issued while another was in flight join its round), the
    simulated network wait of the call that opened it."""
    busy_until = None
    for _, issued, started, ended in sorted(timeline, key=lambda call: call[1]):
        if busy_until is None or issued >= busy_until:
            yield started - issued
            busy_until = ended
        else:
            busy_until = max(busy_until, ended)


def round_trips(timeline) -> int:
    """How many of these calls ran one after another: calls made at once count as one."""
    return sum(1 for _ in _round_waits(timeline))


@contextlib.contextmanager
def local_stack(**env):
    """A local stack on a free port with its data in a temporary directory."""
    from tests.localstack import RunningStack

    with tempfile.TemporaryDirectory() as scratch:
        stack = RunningStack(Path(scratch) / "data", **env).start()
        try:
            yield stack
        finally:
            stack.stop()


def latency_summary(latencies_ms: list[float]) -> str:
    ordered = sorted(latencies_ms)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (f"median {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms, "
            f"max {ordered[-1]:.1f} ms")
