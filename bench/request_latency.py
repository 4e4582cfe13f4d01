"""Synchronous calls (`POST /api/v1/request`) end to end, next to the GemmaNet coordinator
they replace: client → request → TASK_ASSIGN push → node → TASK_RESULT → client.

    .venv/bin/python -m bench.request_latency [calls]

1. The critical path in DynamoDB round trips, counted in process on moto (bench.Meter):
   the calls made one after another from the request to the push, by the node's result
   until it is committed, and the poll that sees it. Calls made at once count once.
2. Side by side, in one run, with the same GemmaNet SDK (`gemmanet==0.1.0a1`): its
   `Client` calling and its `Node` echoing, against
   - the GemmaNet coordinator of that release, started here on 127.0.0.1 with a Redis of
     its own (`redis-server`; without it this half is skipped, saying so) and SQLite for
     its credits (its default is a PostgreSQL server); its rate limit (60 requests a
     minute) is switched off, or this would time the limiter;
   - our local stack (`python -m infra.local`).
   Calls alternate between the two in blocks, so machine noise hits both alike.
   Target: our median at most 3x the coordinator's.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import requests

from bench import BENCH_TOKEN, Meter, in_process_hub, latency_summary, local_stack, round_trips
from tests.localstack import STACK_CREDENTIALS, free_port

BLOCK = 25
PEER_CREDITS_PER_KEY = 1000  # the coordinator's grant to a registered key: 100 calls at 10
PEER = """
import sys, uvicorn
from gemmanet.coordinator import server
server.limiter.enabled = False  # 60 requests a minute per address: it would time the limiter
uvicorn.run(server.app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


# --------------------------------------------------------------------------- round trips


def critical_path() -> dict:
    """One call, in process, with a node that answers inside the push: the DynamoDB calls
    on the critical path, in round trips, and all the calls the call costs."""
    with in_process_hub():
        from chalicelib import ws
        from chalicelib.push import sockets
        from chalicelib.services import calls, connections, identity
        principal = identity.resolve_secret(BENCH_TOKEN)
        marks = {}

        def frame(msg_type, payload):
            ws.message(SimpleNamespace(connection_id="bench-conn", body=json.dumps(
                {"msg_type": msg_type, "payload": payload})))

        def node(connection_id, data):
            sent = json.loads(data) if isinstance(data, str) else data
            if sent["msg_type"] == "task_assign":
                marks["pushed"] = time.perf_counter()
                frame("task_result", {"task_id": sent["payload"]["task_id"],
                                      "status": "completed", "result": "pong"})
                marks["answered"] = time.perf_counter()
            return True
        sockets.send = node
        connections.open_connection("bench-conn", "node", principal)
        frame("node_register", {"node_id": "bench-echo", "name": "echo",
                                "capabilities": ["echo"]})

        def one_call():
            answer = calls.call(principal, task_type="echo", content="ping", params={},
                                max_cost=None, deadline=time.monotonic() + 5)
            assert answer["status"] == "completed", answer
        one_call()  # warm: the account exists, the subscriber cache is filled
        meter = Meter()
        meter.measure(one_call)
        timeline = meter.timeline
        caller = [c for c in timeline if c[1] < marks["pushed"]]
        by_node = [c for c in timeline if marks["pushed"] <= c[1] < marks["answered"]]
        committed = next(c[3] for c in by_node if c[0] == "TransactWriteItems")
        node_until_commit = [c for c in by_node if c[3] <= committed]
        poll = [c for c in timeline if c[1] >= marks["answered"]][:1]
        return {"caller": round_trips(caller), "node": round_trips(node_until_commit),
                "poll": len(poll), "requests": sum(meter.calls.values()),
                "by_operation": dict(meter.calls)}


# --------------------------------------------------------------------------- side by side


@contextlib.contextmanager
def gemmanet_coordinator():
    """The GemmaNet coordinator with its own Redis: (base_url, ws_url), or None (and why)."""
    redis = shutil.which("redis-server")
    if redis is None:
        yield None, "redis-server not found (Debian: apt-get install redis-server)"
        return
    with tempfile.TemporaryDirectory() as scratch:
        redis_port, port = free_port(), free_port()
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        store = subprocess.Popen([redis, "--port", str(redis_port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--dir", scratch], **quiet)
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{scratch}/credits.db",
               "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "LOG_LEVEL": "WARNING"}
        server = subprocess.Popen([sys.executable, "-c", PEER, str(port)], cwd=scratch, env=env,
                                  **quiet)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    yield None, "the coordinator did not start (is gemmanet==0.1.0a1 installed?)"
                    return
                try:
                    if requests.get(f"{base}/api/v1/status", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.2)
            yield (base, f"ws://127.0.0.1:{port}/ws/node"), None
        finally:
            for process in (server, store):
                process.terminate()
                process.wait(timeout=10)


class Side:
    """One hub, called by the SDK's Client, served by the SDK's Node, echoing."""

    def __init__(self, name: str, base: str, ws_url: str, keys):
        from gemmanet.sdk.client import Client

        from tests.gemmanet_sdk import RunningNode
        self.name, self.latencies = name, []
        self.node = RunningNode(ws_url, f"{name}-echo", ["echo"],
                                {"echo": lambda content, **params: f"Echo: {content}"})
        self.node.__enter__()
        self.node.listed_by(base, "echo")
        self.clients = [Client(key, coordinator_url=base) for key in keys]

    def call(self, n: int) -> float:
        client = self.clients[n // 90 % len(self.clients)]
        started = time.perf_counter()
        result = client.request("echo", f"ping {n}")
        elapsed = (time.perf_counter() - started) * 1000
        assert result.status.value == "completed" and result.result == f"Echo: ping {n}", result
        return elapsed

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.node.__exit__(None, None, None)


def side_by_side(calls: int) -> dict:
    logging.getLogger("gemmanet").setLevel(logging.CRITICAL)  # it cannot parse node_registered
    with gemmanet_coordinator() as (peer, skipped), \
            local_stack(SWITCHBOARD_STARTING_CREDITS="1000000") as stack:
        sides = [Side("switchboard", stack.base_url, f"{stack.ws_url}/ws/node",
                      [STACK_CREDENTIALS["SWITCHBOARD_ADMIN_TOKEN"]])]
        if peer:
            base, ws_url = peer
            keys = [requests.post(f"{base}/api/v1/register", json={}).json()["api_key"]
                    for _ in range(math.ceil((calls + 10) / 90))]
            sides.insert(0, Side("gemmanet", base, ws_url, keys))
        try:
            for side in sides:
                for n in range(5):  # warm up
                    side.call(calls + n)
            for start in range(0, calls, BLOCK):
                for side in sides:
                    side.latencies += [side.call(n) for n in range(start, min(start + BLOCK, calls))]
        finally:
            for side in sides:
                side.close()
    return {"sides": {side.name: side.latencies for side in sides}, "skipped": skipped}


def main(calls: int) -> None:
    path = critical_path()
    print(f"DynamoDB on a synchronous call's critical path: "
          f"{path['caller'] + path['node'] + path['poll']} sequential round trips "
          f"(caller {path['caller']} to the push, node {path['node']} to commit its result, "
          f"{path['poll']} poll); {path['requests']} requests in all per call "
          f"({', '.join(f'{k}×{v}' for k, v in sorted(path['by_operation'].items()))})")
    result = side_by_side(calls)
    print(f"synchronous call, end to end, {calls} calls each, the GemmaNet SDK's Client and Node:")
    medians = {}
    for name, latencies in result["sides"].items():
        label = ("GemmaNet coordinator 0.1.0a1 (Redis, SQLite)" if name == "gemmanet"
                 else "Switchboard local stack")
        medians[name] = statistics.median(latencies)
        print(f"  {label:46} {latency_summary(latencies)}")
    if result["skipped"]:
        print(f"  GemmaNet coordinator skipped: {result['skipped']}")
    else:
        ratio = medians["switchboard"] / medians["gemmanet"]
        print(f"  ratio of medians {ratio:.1f}x (target <= 3x)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
