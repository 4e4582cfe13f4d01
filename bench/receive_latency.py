"""Wake-up latency of a blocking SkyCetus receive on the local stack: how long after a send
completes does a receiver already waiting in `receive {blocking: true}` get the message.

    .venv/bin/python -m bench.receive_latency [rounds]

Each round: a receiver starts a blocking receive, waits until it is surely parked, then a
second client sends; the latency is from the send's answer to the receive's answer. The
long-poll checks the inbox every 50 ms, so that is the floor to expect (plus one query).
"""
from __future__ import annotations

import sys
import threading
import time

import requests

from bench import latency_summary, local_stack
from tests.localstack import STACK_CREDENTIALS, RunningStack

PARK_S = 0.3  # how long the receiver waits before the send, so it is already polling



def session() -> requests.Session:
    client = requests.Session()
    client.headers["X-Matrix-Secret"] = STACK_CREDENTIALS["SWITCHBOARD_SHARED_SECRET"]
    return client


def one_round(stack: RunningStack, sender: requests.Session, receiver: requests.Session,
              n: int) -> float:
    answered = {}

    def wait():
        reply = receiver.post(stack.url("/api/v1/message/receive"), timeout=30,
                              json={"node_id": "bench-waiter", "blocking": True, "timeout": 10})
        answered["at"] = time.perf_counter()
        answered["messages"] = reply.json()["messages"]

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(PARK_S)
    reply = sender.post(stack.url("/api/v1/message/send"),
                        json={"from_node": "bench", "to_node": "bench-waiter", "content": f"{n}"})
    sent_at = time.perf_counter()
    assert reply.status_code == 200, reply.text
    waiter.join()
    assert [m["content"] for m in answered["messages"]] == [f"{n}"], answered
    return (answered["at"] - sent_at) * 1000


def main(rounds: int) -> None:
    with local_stack() as stack:
        sender, receiver = session(), session()
        one_round(stack, sender, receiver, -1)  # warm up
        latencies = [one_round(stack, sender, receiver, n) for n in range(rounds)]
    print(f"blocking receive wake-up after a send, {rounds} rounds on the local stack: "
          f"{latency_summary(latencies)}")

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
