"""Files on the real local stack: upload and download latency by size, and the presigned
path for a file larger than any Lambda payload. `.venv/bin/python -m bench.files`

Targets (local stack, one client, loopback): a 1 MiB round trip under 250 ms at the median,
a 4 MiB (inline limit) round trip under 1 s. Numbers from a laptop-class machine say
nothing about Lambda cold starts or S3 latency in AWS; they catch regressions in our code
(parsing, base64, hashing), which dominates locally.
"""
from __future__ import annotations

import os
import statistics
import time

import requests

from bench import local_stack
from tests.localstack import STACK_CREDENTIALS, RunningStack

SIZES = {"1 KiB": 1024, "1 MiB": 1024 ** 2, "4 MiB": 4 * 1024 ** 2}
ROUNDS = 15


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - started) * 1000


def run(stack: RunningStack) -> dict:
    auth = {"Authorization": f"Bearer {STACK_CREDENTIALS['SWITCHBOARD_ADMIN_TOKEN']}"}
    session = requests.Session()
    results = {}
    for label, size in SIZES.items():
        data = os.urandom(size)
        ups, downs = [], []
        for _ in range(ROUNDS):
            up, ms = timed(lambda: session.post(stack.url("/api/v1/files/upload"), headers=auth,
                                                files={"file": ("b.bin", data)}, timeout=60))
            assert up.status_code == 201, up.text
            ups.append(ms)
            got, ms = timed(lambda: session.get(stack.url(f"/api/v1/files/{up.json()['id']}/download"),
                                                headers=auth, timeout=60))
            assert got.content == data
            downs.append(ms)
        results[label] = (statistics.median(ups), max(ups), statistics.median(downs), max(downs))

    big = os.urandom(32 * 1024 ** 2)
    def presigned():
        issued = session.post(stack.url("/api/v1/files/upload-url"), headers=auth,
                              json={"filename": "big.bin", "size": len(big)}, timeout=60).json()
        assert requests.put(issued["upload_url"], data=big, timeout=120).status_code == 200
        done = session.post(stack.url(issued["complete_url"]), headers=auth, timeout=60)
        assert done.json()["size"] == len(big)
    _, ms = timed(presigned)
    results["32 MiB presigned (issue+PUT+confirm)"] = (ms, ms, None, None)
    return results


def main() -> None:
    with local_stack() as stack:
        results = run(stack)
    print(f"{'size':<38}{'upload median/max ms':>24}{'download median/max ms':>26}")
    for label, (up_med, up_max, down_med, down_max) in results.items():
        down = f"{down_med:.0f} / {down_max:.0f}" if down_med is not None else "-"
        print(f"{label:<38}{f'{up_med:.0f} / {up_max:.0f}':>24}{down:>26}")


if __name__ == "__main__":
    main()
