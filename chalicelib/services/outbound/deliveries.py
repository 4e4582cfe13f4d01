"""Durable deliveries: one record per (event, target), sent by the queue consumer, retried
with exponential backoff and jitter, dead after the last attempt, logged attempt by attempt.

Life of a delivery
1. `start` puts the record (conditioned on not existing: an event matched twice is one
   delivery) with its body — exactly the bytes that will be signed and sent — and its
   first attempt due now, in the by_time index (`DUE#DELIVERY`), and sends its key to the
   deliveries queue (SQS).
2. The queue consumer (`handle_messages`) runs `attempt` for each message:
   - a message that arrives before the delivery is due goes back on the queue with the
     remaining delay (SQS delays are whole seconds, 15 minutes at most; the last second
     is waited out in process), so a retry is sent when it is due, to the second;
   - the attempt is claimed with a conditional write (a lease): duplicates of a message,
     the sweep and a crashed worker's leftovers can never send it twice at once;
   - the target's circuit breaker is asked first: while it is open the delivery waits
     (rescheduled to when the breaker lets a trial through, no attempt spent);
   - the attempt is recorded (status code, latency, error, response excerpt); on success
     the delivery is done; on failure the next attempt is due after
     `backoff × 2^(attempt-1)` (±10 % jitter, at most MAX_BACKOFF) and queued with that
     delay; after the last attempt, or a target the guard refuses, it is `dead`.
3. `sweep` (a schedule, every minute) re-queues deliveries overdue by more than a
   minute: a lost queue message or a worker that died holding a lease delays a delivery,
   it never loses it.

Targets (webhooks, channels) register how to send to them (`register`); deliveries know
nothing of URLs or secrets.
"""
from __future__ import annotations

import importlib
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib import clients, logs
from chalicelib.clock import iso, now_ms
from chalicelib.config import settings
from chalicelib.ids import stream_id
from chalicelib.services.outbound import breakers
from chalicelib.services.insight import counters
from chalicelib.services.outbound.http import Outcome
from chalicelib.services.records import COUNT_BUDGET, Page
from chalicelib.store.base import page, transaction
from chalicelib.store.outbound import DUE_DELIVERY, DeliveryRecord as D, delivery_pk
from chalicelib.store.records import time_key
from chalicelib.limits import (WEBHOOK_DEFAULT_BACKOFF_S as DEFAULT_BACKOFF_S,
                               WEBHOOK_DEFAULT_MAX_RETRIES as DEFAULT_MAX_RETRIES,
                               WEBHOOK_MAX_RETRIES as MAX_RETRIES)

log = logs.get("deliveries")
PENDING, RETRYING, SUCCEEDED, DEAD = "pending", "retrying", "succeeded", "dead"
MAX_BACKOFF_MS = 8 * 3600 * 1000
JITTER = 0.1
SQS_MAX_DELAY_S = 900
SWEEP_GRACE_MS = 60_000            # overdue by this much: its queue message was lost
SWEEP_LIMIT = 500
MAX_BODY_BYTES = 200_000
RESPONSE_EXCERPT = 200
ID_PREFIX = "dlv_"


class TargetGone(Exception):
    """The target was deleted or switched off: the delivery is dead without an attempt."""


@dataclass
class Send:
    breaker: str                            # the circuit breaker guarding the target
    perform: Callable[[], Outcome]          # one attempt, through the one outbound path


@dataclass
class TargetKind:
    prepare: Callable[[D], Send]            # raises TargetGone
    settle: Callable[[D], None]             # after success or death: the target's health


_kinds: dict[str, TargetKind] = {}
# The module that registers each kind when imported: services load on first use
# (chalicelib/services/__init__.py), so a worker may meet a kind before its module loaded.
KIND_MODULES = {"webhook": "chalicelib.services.outbound.webhooks",
                "channel": "chalicelib.services.outbound.channels"}


def register(kind: str, *, prepare, settle) -> None:
    _kinds[kind] = TargetKind(prepare, settle)


def _kind(name: str) -> TargetKind:
    if name not in _kinds:
        importlib.import_module(KIND_MODULES[name])
    return _kinds[name]


# --------------------------------------------------------------------------- policy


def policy(retry_policy: dict | None) -> tuple[int, int]:
    """(max_attempts, first backoff in ms) from a `{max_retries, backoff_seconds}` policy."""
    retry_policy = retry_policy or {}
    retries = retry_policy.get("max_retries", DEFAULT_MAX_RETRIES)
    backoff = retry_policy.get("backoff_seconds", DEFAULT_BACKOFF_S)
    return int(retries) + 1, int(float(backoff) * 1000)


def backoff_ms(first_ms: int, attempt: int) -> int:
    """The wait after failed attempt number `attempt` (1-based): doubling, capped, with
    ±10 % jitter so that deliveries failing together do not retry together."""
    base = min(MAX_BACKOFF_MS, first_ms * 2 ** (attempt - 1))
    return max(1, int(base * (1 + random.uniform(-JITTER, JITTER))))


# --------------------------------------------------------------------------- creating


def new(network_id: str, target_kind: str, target_id: str, *, body: str, event_id: str | None,
        event_type: str, retry_policy: dict | None = None) -> D:
    """An unsaved delivery, due now. The sort key is the event id (a test gets a fresh
    one), so the delivery log reads in event order and a second match is a no-op."""
    stamp = now_ms()
    sort_id = event_id or stream_id(stamp)
    if len(body.encode()) > MAX_BODY_BYTES:
        raise ValueError(f"a delivery body is limited to {MAX_BODY_BYTES} bytes")
    max_attempts, first_backoff = policy(retry_policy)
    return D(delivery_pk(network_id, target_kind, target_id), sort_id, kind="delivery",
             id=ID_PREFIX + sort_id, network_id=network_id, created_at=stamp, updated_at=stamp,
             target_kind=target_kind, target_id=target_id, event_id=event_id,
             event_type=event_type, body=body, status=PENDING, attempts=[], attempt_count=0,
             max_attempts=max_attempts, backoff_ms=first_backoff, next_attempt_at=stamp,
             time_pk=DUE_DELIVERY, time_sk=time_key(stamp, sort_id))


def start(records: list[D]) -> list[D]:
    """Store new deliveries (skipping any already stored) and queue them."""
    stored = []
    for record in records:
        try:
            record.save(condition=D.pk.does_not_exist())
            stored.append(record)
        except PutError:
            existing = _get(record.pk, record.sk)
            if existing is not None and existing.status in (PENDING, RETRYING):
                stored.append(existing)  # matched again before it was sent: queue it again
    enqueue(stored)
    return stored


def enqueue(records: list[D], delay_ms: int = 0) -> None:
    """Send the deliveries' keys to the queue (a failure only delays them: see sweep)."""
    if not records:
        return
    delay = max(0, min(SQS_MAX_DELAY_S, int(delay_ms // 1000)))
    try:
        queue = _queue_url()
        for start_at in range(0, len(records), 10):
            chunk = records[start_at:start_at + 10]
            answer = clients.aws("sqs").send_message_batch(QueueUrl=queue, Entries=[
                {"Id": str(i), "MessageBody": json.dumps({"pk": r.pk, "sk": r.sk}),
                 "DelaySeconds": delay} for i, r in enumerate(chunk)])
            if answer.get("Failed"):
                log.error("some deliveries were not queued", extra={
                    "count": len(answer["Failed"]), "code": answer["Failed"][0].get("Code")})
    except Exception:  # noqa: BLE001 - the sweep re-queues what is due and unsent
        log.exception("queueing deliveries failed", extra={"count": len(records)})


_queue_urls: dict[str, str] = {}


def _queue_url() -> str:
    name = settings().deliveries_queue
    if name not in _queue_urls:
        _queue_urls[name] = clients.aws("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return _queue_urls[name]


def _get(pk: str, sk: str) -> D | None:
    try:
        return D.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


# --------------------------------------------------------------------------- sending


def handle_messages(bodies: list[str]) -> dict:
    """The queue consumer: attempt every delivery of a batch, in parallel (a slow target
    must not hold up the others)."""
    keys = []
    for body in bodies:
        try:
            message = json.loads(body)
            keys.append((message["pk"], message["sk"]))
        except (ValueError, KeyError, TypeError):
            log.error("unreadable delivery message dropped", extra={"body": body[:200]})
    if not keys:
        return {}
    with ThreadPoolExecutor(max_workers=min(10, len(keys))) as pool:
        results = list(pool.map(lambda key: _attempt_safely(*key), keys))
    return {status: results.count(status) for status in set(results)}


def _attempt_safely(pk: str, sk: str) -> str:
    try:
        return attempt(pk, sk)
    except Exception:  # noqa: BLE001 - the lease runs out and the sweep retries it
        log.exception("delivery attempt failed", extra={"pk": pk, "sk": sk})
        return "error"


def attempt(pk: str, sk: str) -> str:
    """One attempt of a delivery, if it is due and nobody else is making it; its status."""
    record = _get(pk, sk)
    if record is None or record.status in (SUCCEEDED, DEAD):
        return "gone" if record is None else record.status
    wait = int(record.next_attempt_at or 0) - now_ms()
    if wait > 1000:
        enqueue([record], delay_ms=wait)
        return "early"
    if wait > 0:
        time.sleep(wait / 1000)
    now = now_ms()
    lease = now + int(settings().outbound_timeout_s * 1000) + 20_000
    try:
        record.update(actions=[D.lease_until.set(lease)],
                      condition=D.status.is_in(PENDING, RETRYING) &
                      (D.lease_until.does_not_exist() | (D.lease_until < now)))
    except UpdateError:
        return "busy"
    kind = _kind(record.target_kind)
    try:
        send = kind.prepare(record)
    except TargetGone as gone:
        _finish(record, lease, Outcome(error=str(gone)), dead=True, counted=False)
        return DEAD
    admission, outcome = _through_breaker(record, send)
    if outcome is None:  # wait for the breaker (spread a little, not all at once)
        due = int(admission.retry_at or now + 1000)
        due += random.randint(0, max(50, min(1000, (due - now) // 10)))
        _reschedule(record, lease, due)
        enqueue([record], delay_ms=due - now_ms())
        return "waiting"
    number = int(record.attempt_count or 0) + 1
    dead = not outcome.ok and (outcome.refused or number >= int(record.max_attempts or 1))
    _finish(record, lease, outcome, dead=dead)
    if record.status == RETRYING:
        enqueue([record], delay_ms=int(record.next_attempt_at) - now_ms())
    else:
        kind.settle(record)
    return record.status


def _through_breaker(record: D, send: Send) -> tuple[breakers.Admission, Outcome | None]:
    """The attempt, if the target's breaker lets it through (the outcome is None if not),
    and its result counted by the breaker."""
    admission = breakers.admit(record.network_id, send.breaker)
    if not admission.allowed:
        return admission, None
    outcome = send.perform()
    if not outcome.refused:
        breakers.record_result(record.network_id, send.breaker, ok=not outcome.host_failed,
                               trial=admission.trial, error=outcome.error or
                               (f"HTTP {outcome.status_code}" if outcome.status_code else None))
    return admission, outcome


def _reschedule(record: D, lease: int, due: int) -> None:
    record.update(actions=[D.next_attempt_at.set(due), D.time_sk.set(time_key(due, record.sk)),
                           D.lease_until.remove(), D.updated_at.set(now_ms())],
                  condition=D.lease_until == lease)


def _finish(record: D, lease: int, outcome: Outcome, *, dead: bool, counted: bool = True) -> None:
    """Record an attempt's outcome and what follows (done, next attempt, or dead)."""
    now = now_ms()
    attempts = list(record.attempts or [])
    if counted:
        attempts.append({"attempt": len(attempts) + 1, "at": iso(now),
                         "status_code": outcome.status_code, "latency_ms": outcome.latency_ms,
                         "error": outcome.error, "response": outcome.excerpt[:RESPONSE_EXCERPT]})
    status = SUCCEEDED if outcome.ok else DEAD if dead else RETRYING
    actions = [D.status.set(status), D.attempts.set(attempts), D.attempt_count.set(len(attempts)),
               D.updated_at.set(now), D.lease_until.remove()]
    if outcome.status_code is not None:
        actions.append(D.last_status_code.set(outcome.status_code))
    actions.append(D.last_error.set(outcome.error) if outcome.error else D.last_error.remove())
    if status == RETRYING:
        due = now + backoff_ms(int(record.backoff_ms), len(attempts))
        actions += [D.next_attempt_at.set(due), D.time_sk.set(time_key(due, record.sk))]
    else:
        actions += [D.time_pk.remove(), D.time_sk.remove()]
        if status == SUCCEEDED:
            actions.append(D.delivered_at.set(now))
    if status != DEAD:
        record.update(actions=actions, condition=D.lease_until == lease)
        return
    with transaction() as tx:  # a dead delivery is counted with it (/metrics)
        tx.update(record, actions=actions, condition=D.lease_until == lease)
        counters.delivery_dead(tx, record.network_id)
    record.refresh(consistent_read=True)  # as update() would have left it (rare: dead only)


# --------------------------------------------------------------------------- now, and later


def deliver_now(record: D) -> tuple[D, Outcome | None]:
    """Store a one-attempt delivery (a webhook test) and make its attempt in this request;
    the outcome is None when the target's breaker is open (the delivery is then dead)."""
    lease = now_ms() + int(settings().outbound_timeout_s * 1000) + 20_000
    record.max_attempts, record.lease_until = 1, lease
    record.save(condition=D.pk.does_not_exist())
    send = _kind(record.target_kind).prepare(record)
    admission, outcome = _through_breaker(record, send)
    if outcome is None:
        _finish(record, lease, Outcome(error=f"circuit breaker {send.breaker} is open until "
                                             f"{iso(admission.retry_at)}"), dead=True,
                counted=False)
        return record, None
    _finish(record, lease, outcome, dead=not outcome.ok)
    return record, outcome


def sweep(limit: int = SWEEP_LIMIT) -> dict:
    """Re-queue deliveries overdue by more than SWEEP_GRACE_MS (one Query on the index)."""
    horizon = time_key(now_ms() - SWEEP_GRACE_MS, "~")
    overdue = list(D.by_time.query(DUE_DELIVERY, D.time_sk < horizon, limit=limit))
    enqueue(overdue)
    return {"requeued": len(overdue)}


def list_deliveries(network_id: str, target_kind: str, target_id: str, *, status: str | None = None,
                    limit: int = 50, offset: int = 0, cursor: str | None = None) -> Page:
    pk = delivery_pk(network_id, target_kind, target_id)
    condition = D.status == status if status else None
    items, next_cursor = page(D, pk, limit=limit, offset=offset, cursor=cursor,
                              filter_condition=condition, newest_first=True)
    total = D.count(pk, filter_condition=condition, consistent_read=True, limit=COUNT_BUDGET)
    return Page(items, next_cursor, total)
