"""Benchmarks. Shared here: a throwaway local stack, and how latencies are summarized."""
from __future__ import annotations

import contextlib
import statistics
import tempfile
from pathlib import Path


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
