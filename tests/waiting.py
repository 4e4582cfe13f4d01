"""Waiting in tests for what happens elsewhere (a consumer thread, a local stack, a node)."""
from __future__ import annotations

import time


def eventually(check, timeout_s: float = 10.0, every_s: float = 0.05):
    """The first truthy value `check()` returns within `timeout_s`; fails the test otherwise,
    showing the last value seen."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout_s} s; last seen: {value!r}")
        time.sleep(every_s)
