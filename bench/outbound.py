"""The outbound path: delivery latency and retry timing on the local stack, and what each
operation costs in AWS calls.

    .venv/bin/python -m bench.outbound [rounds]

1. On a local stack over HTTP (a receiver on 127.0.0.1): from a SkyCetus task create's
   answer to the webhook request reaching the receiver (stream consumer → delivery record →
   queue → signed POST), `rounds` times one at a time; then a burst of 200 tasks from 8
   clients; then one webhook with `backoff_seconds: 1` whose receiver fails twice.
2. In process (moto): the AWS calls (DynamoDB, KMS, SQS, SES) made by matching an event to
   a webhook, one successful attempt, a vault seal and reveal, and notification
   bookkeeping — the same whatever the tables hold (keys and indexes, never a Scan).
"""
from __future__ import annotations

import collections
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench import latency_summary, local_stack
from tests.localstack import STACK_CREDENTIALS
from tests.receivers import Receiver

SKY = {"X-Matrix-Secret": STACK_CREDENTIALS["SWITCHBOARD_SHARED_SECRET"]}
ADMIN = {"Authorization": f"Bearer {STACK_CREDENTIALS['SWITCHBOARD_ADMIN_TOKEN']}"}


def _webhook(stack, url: str, **fields) -> dict:
    made = requests.post(stack.url("/api/v1/webhooks"), headers=ADMIN, timeout=10,
                         json={"name": f"bench {time.monotonic()}", "url": url, **fields})
    assert made.status_code == 201, made.text
    return made.json()


def _create_task(session: requests.Session, stack, title: str) -> float:
    answer = session.post(stack.url("/api/v1/task/create"), timeout=10,
                          json={"title": title, "description": "bench"})
    assert answer.status_code in (200, 201), answer.text
    return time.monotonic()


def over_http(rounds: int) -> None:
    with local_stack() as stack, Receiver([200]) as receiver:
        hook = _webhook(stack, receiver.url, events=["task.created"])
        session = requests.Session()
        session.headers.update(SKY)
        _create_task(session, stack, "warm-up")
        receiver.wait_for(1)
        latencies = []
        for n in range(rounds):
            answered = _create_task(session, stack, f"t{n}")
            arrived = receiver.wait_for(n + 2)[-1].at
            latencies.append((arrived - answered) * 1000)
        print(f"task create answered → signed webhook at the receiver, {rounds} rounds: "
              f"{latency_summary(latencies)}")

        burst, clients = 200, 8
        before = len(receiver.received)
        started = time.monotonic()
        with ThreadPoolExecutor(clients) as pool:
            sessions = [requests.Session() for _ in range(clients)]
            for s in sessions:
                s.headers.update(SKY)
            list(pool.map(lambda n: _create_task(sessions[n % clients], stack, f"b{n}"),
                          range(burst)))
        created = time.monotonic() - started
        receiver.wait_for(before + burst, timeout_s=120)
        delivered = time.monotonic() - started
        print(f"burst of {burst} tasks from {clients} clients: created in {created:.1f} s, "
              f"all {burst} delivered {delivered:.1f} s after the first create "
              f"({burst / delivered:.0f} deliveries/s)")
        requests.delete(stack.url(f"/api/v1/webhooks/{hook['id']}"), headers=ADMIN, timeout=10)

        with Receiver([500, 500, 200]) as flaky:
            _webhook(stack, flaky.url, events=["task.created"],
                     retry_policy={"max_retries": 3, "backoff_seconds": 1})
            answered = _create_task(session, stack, "retried")
            attempts = flaky.wait_for(3, timeout_s=30)
            offsets = ", ".join(f"{(a.at - answered) * 1000:.0f} ms" for a in attempts)
            print(f"backoff_seconds 1, receiver fails twice: attempts at {offsets} after the "
                  f"create (retries due after ~1 s and ~2 s, ±10 % jitter)")


class Meter:
    """Counts AWS calls by service and operation, through botocore's one call path."""

    def __init__(self):
        import botocore.client
        self.calls = collections.Counter()
        original = botocore.client.BaseClient._make_api_call
        meter = self

        def counted(client, operation, params):
            meter.calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
            return original(client, operation, params)
        botocore.client.BaseClient._make_api_call = counted

    def measure(self, action) -> str:
        self.calls.clear()
        action()
        return ", ".join(f"{name} {count}" for name, count in sorted(self.calls.items()))


def in_process() -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "SWITCHBOARD_STAGE": "bench",
                       "SWITCHBOARD_OUTBOUND_ALLOW": "127.0.0.0/8"})
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)
    from moto import mock_aws

    from infra.local import dynamodb, moto_patches, outbound as local
    moto_patches.apply()
    dynamodb.install_transport(dynamodb.LocalDynamoDB("us-east-1"))
    with mock_aws(), Receiver([200]) as receiver:
        from chalicelib.services import events, notifications, vault
        from chalicelib.services.outbound import deliveries, matcher, webhooks
        from chalicelib.store import tables
        tables.create_all()
        local.provision("us-east-1")
        meter = Meter()
        hook, _ = webhooks.create_webhook("net_b", actor="a", owner="a", name="w",
                                          url=receiver.url, events=["task.*"])
        for n in range(2):  # the first to a host also creates its breaker; the second is typical
            event = events.publish("net_b", "task.created", {"task_id": f"t{n}"})
            matched = meter.measure(lambda: matcher.match([event]))
            delivery = webhooks.list_deliveries("net_b", hook.id).items[0]
            attempted = meter.measure(lambda: deliveries.attempt(delivery.pk, delivery.sk))
        report("match one event (1 webhook, no rules)", matched)
        report("one successful attempt", attempted)
        made = {}
        report("create a secret", meter.measure(lambda: made.update(
            secret=vault.create_secret("net_b", actor="a", name="s", value="v"))))
        report("reveal it", meter.measure(lambda: vault.reveal("net_b", made["secret"].id,
                                                               actor="a")))
        report("an in-app notification", meter.measure(lambda: notifications.create(
            "net_b", "u", subject="s")))
        inbox = [notifications.create("net_b", "u", subject=f"s{i}") for i in range(24)]
        report("read one", meter.measure(lambda: notifications.mark_read(
            "net_b", "u", notifications.public_id(inbox[0]))))
        report("read-all (24 unread)", meter.measure(lambda: notifications.mark_all_read("net_b", "u")))


def report(label: str, calls: str) -> None:
    print(f"  {label}: {calls}")

def main(rounds: int) -> None:
    over_http(rounds)
    print("AWS calls per operation (in process):")
    in_process()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
