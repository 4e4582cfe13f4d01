"""End-to-end latency of a synchronous call on the local stack:
client → POST /api/v1/request → TASK_ASSIGN push → node → TASK_RESULT → client.

    .venv/bin/python -m bench.request_latency [calls]

Starts a local stack, connects one echo node over /ws/node, and times sequential calls.
"""
from __future__ import annotations

import asyncio
import sys
import time

import requests

from tests.gemmanet_peer import Peer
from bench import latency_summary, local_stack
from tests.localstack import STACK_CREDENTIALS, RunningStack



async def measure(stack: RunningStack, calls: int) -> list[float]:
    peer = await Peer(f"{stack.ws_url}/ws/node", "bench-echo", ["echo"],
                      node_id="bench-echo").connect()
    await peer.register()
    peer.serve()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {STACK_CREDENTIALS['SWITCHBOARD_ADMIN_TOKEN']}"

    def one(i):
        started = time.perf_counter()
        response = session.post(stack.url("/api/v1/request"),
                                json={"task_type": "echo", "content": f"ping {i}"}, timeout=30)
        assert response.status_code == 200 and response.json()["status"] == "completed", response.text
        return (time.perf_counter() - started) * 1000

    await asyncio.to_thread(one, -1)  # warm up
    latencies = [await asyncio.to_thread(one, i) for i in range(calls)]
    await peer.close()
    return latencies


def main(calls: int) -> None:
    with local_stack(SWITCHBOARD_STARTING_CREDITS="1000000") as stack:
        latencies = asyncio.run(measure(stack, calls))
    print(f"synchronous call, end to end, {calls} calls on the local stack: "
          f"{latency_summary(latencies)}")

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
