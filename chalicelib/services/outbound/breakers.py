"""Circuit breakers: one per target host and network (`host:port` for HTTP and SSH, `ses`
for email), fed by every outbound attempt.

closed ──N failures within the window──▶ open ──cooldown over: one trial──▶ half_open
  ▲                                                                            │
  └──────────────── success_threshold trials succeed ◀─────────────────────────┘
                    (a failed trial opens it again)

- The failure window is fixed: it starts at the first failure and lasts `window_s`; a
  failure after it starts a new one. Only what says the host is unwell counts (no answer,
  5xx, 408, 429), never a 4xx or a target the guard refused.
- While open, `admit` says no and when to come back: deliveries wait (rescheduled, no
  attempt spent) instead of hammering the target. After the cooldown one caller becomes
  the trial (a conditional write: exactly one wins); the others keep waiting until it
  reports.
- Every state change is one conditional write together with a `system.alert` event (so
  `/ws` subscribers and webhooks hear of it) and tells the network's administrators with
  a notification. Counters are atomic ADDs with no event, so a failing delivery cannot
  feed itself.
- Operators: `force_open` holds a breaker open until `force_close` or `reset`;
  `force_close` closes it and clears the failure window; `reset` also clears the totals.
  Thresholds are per breaker (`configure`), with the defaults below.
"""
from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError

from chalicelib import logs
from chalicelib.clock import now_ms
from chalicelib.errors import ValidationFailed
from chalicelib.services import events, fanout
from chalicelib.services.records import Family, Page
from chalicelib.store.base import transaction
from chalicelib.store.outbound import BreakerRecord as B
from chalicelib.limits import BREAKER_LIMITS as LIMITS

log = logs.get("breakers")
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
DEFAULTS = {"failure_threshold": 5, "recovery_timeout_s": 60, "success_threshold": 1,
            "window_s": 120}
TRIAL_LEASE_MS = 30_000      # a half-open trial that never reports frees its slot after this
MAX_NAME_CHARS = 255

BREAKERS = Family(B, kind="breaker", id_prefix="brk", label="Circuit breaker")


@dataclass(frozen=True)
class Admission:
    allowed: bool
    trial: bool = False              # this attempt is the half-open trial
    retry_at: int | None = None      # when to come back (epoch ms) if not allowed


def setting(record: B | None, name: str) -> int:
    value = getattr(record, name, None) if record is not None else None
    return int(value) if value is not None else DEFAULTS[name]


def _name(name) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS or \
            any(ord(c) < 32 for c in name):
        raise ValidationFailed("name", f"a breaker name is 1-{MAX_NAME_CHARS} printable characters")
    return name.strip().lower()


def get(network_id: str, name: str) -> B | None:
    try:
        return B.get(*BREAKERS.key(network_id, _name(name)), consistent_read=True)
    except DoesNotExist:
        return None


def ensure(network_id: str, name: str) -> B:
    """The breaker, created (closed, default thresholds) on first use."""
    name = _name(name)
    found = get(network_id, name)
    if found is not None:
        return found
    stamp = now_ms()
    record = B(*BREAKERS.key(network_id, name), kind="breaker", id=name, network_id=network_id,
               created_at=stamp, updated_at=stamp, version=1, name=name, state=CLOSED,
               failure_count=0, total_successes=0, total_failures=0)
    try:
        return BREAKERS.create(record, event={"name": name})
    except TransactWriteError:  # created by a concurrent caller
        return get(network_id, name)


def list_breakers(network_id: str, *, limit: int = 50, offset: int = 0,
                  cursor: str | None = None) -> Page:
    return BREAKERS.list(network_id, limit=limit, offset=offset, cursor=cursor,
                         newest_first=False)


def configure(network_id: str, name: str, **thresholds) -> B:
    """Create a breaker or change its thresholds (None leaves one as it is)."""
    sets = {}
    for field, value in thresholds.items():
        if value is None:
            continue
        low, high = LIMITS[field]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationFailed(field, f"'{field}' must be an integer from {low} to {high}")
        sets[field] = value
    record = ensure(network_id, name)
    return BREAKERS.update(record, sets, event={"name": record.name}) if sets else record


# --------------------------------------------------------------------------- the path


def admit(network_id: str, name: str) -> Admission:
    """May an attempt go to this target now?"""
    record = get(network_id, name)
    now = now_ms()
    if record is None or (record.state == CLOSED and record.forced != OPEN):
        return Admission(True)
    cooldown = setting(record, "recovery_timeout_s") * 1000
    if record.forced == OPEN:
        return Admission(False, retry_at=now + cooldown)
    if record.state == OPEN:
        if now < (record.open_until or 0):
            return Admission(False, retry_at=int(record.open_until))
        if _transition(record, OPEN, HALF_OPEN, "cooldown over: trying one request",
                       sets={"probe_until": now + TRIAL_LEASE_MS, "half_open_successes": 0},
                       condition=B.open_until <= now):
            return Admission(True, trial=True)
        return Admission(False, retry_at=now + 1000)
    if (record.probe_until or 0) <= now:  # half-open, no trial running: this is the next one
        try:
            record.update(actions=[B.probe_until.set(now + TRIAL_LEASE_MS)],
                          condition=(B.state == HALF_OPEN) &
                          (B.probe_until.does_not_exist() | (B.probe_until <= now)))
            return Admission(True, trial=True)
        except UpdateError:
            pass
    return Admission(False, retry_at=int(record.probe_until or now + 1000))


def record_result(network_id: str, name: str, *, ok: bool, trial: bool = False,
                  error: str | None = None) -> B:
    """Count one attempt's result and move the breaker if it must."""
    now = now_ms()
    if ok:
        record = _count(network_id, name, [B.total_successes.add(1), B.last_success_at.set(now)])
        if record.state == HALF_OPEN and trial:
            record.update(actions=[B.half_open_successes.add(1), B.probe_until.set(0)])
            if int(record.half_open_successes) >= setting(record, "success_threshold"):
                _transition(record, HALF_OPEN, CLOSED, "the trial request succeeded",
                            sets={"failure_count": 0}, removals=("window_started_at",
                                                                 "probe_until", "open_until"))
        return record
    record = _count(network_id, name, [B.total_failures.add(1), B.last_failure_at.set(now),
                                       B.last_error.set((error or "failed")[:300])])
    cooldown = setting(record, "recovery_timeout_s") * 1000
    if record.state == HALF_OPEN:
        _transition(record, HALF_OPEN, OPEN, f"the trial request failed: {error or 'failed'}",
                    sets={"opened_at": now, "open_until": now + cooldown, "probe_until": 0})
    elif record.state == CLOSED:
        _count_failure(record, now)
        if int(record.failure_count or 0) >= setting(record, "failure_threshold"):
            _transition(record, CLOSED, OPEN,
                        f"{int(record.failure_count)} failures within "
                        f"{setting(record, 'window_s')} s: {error or 'failed'}",
                        sets={"opened_at": now, "open_until": now + cooldown})
    return record


def _count(network_id: str, name: str, actions: list) -> B:
    """Apply counter actions to the breaker (made on first use) and read it back."""
    record = B(*BREAKERS.key(network_id, _name(name)))
    try:
        record.update(actions=actions, condition=B.pk.exists())
    except UpdateError:
        record = ensure(network_id, name)
        record.update(actions=actions)
    return record


def _count_failure(record: B, now: int) -> None:
    window = setting(record, "window_s") * 1000
    started = record.window_started_at
    if started is None or now - started >= window:
        unchanged = B.window_started_at.does_not_exist() if started is None \
            else B.window_started_at == started
        try:  # the first failure of a new window (unless a concurrent failure started it)
            record.update(actions=[B.window_started_at.set(now), B.failure_count.set(1)],
                          condition=unchanged)
            return
        except UpdateError:
            pass
    record.update(actions=[B.failure_count.add(1)])


def _transition(record: B, current: str, new: str, reason: str, *, sets: dict | None = None,
                removals=(), condition=None, forced: str | None = None) -> bool:
    """Move the breaker from `current` to `new` with its alert, atomically; False when
    another caller moved it first."""
    now = now_ms()
    sets = {"state": new, "updated_at": now, **(sets or {})}
    actions = [getattr(B, k).set(v) for k, v in sets.items()] + \
              [getattr(B, k).remove() for k in removals]
    actions.append(B.forced.set(forced) if forced else B.forced.remove())
    guard = B.state == current
    if condition is not None:
        guard = guard & condition
    alert = None
    if new != current:
        alert = events.record(record.network_id, "system.alert", {
            "source": "circuit_breaker", "breaker": record.name, "from": current, "to": new,
            "reason": reason, "failure_count": int(record.failure_count or 0)})
    try:
        with transaction() as tx:
            tx.update(record, actions=actions, condition=guard)
            if alert is not None:
                tx.save(alert)
    except TransactWriteError:
        return False
    for name, value in sets.items():
        setattr(record, name, value)
    for name in removals:
        setattr(record, name, None)
    record.forced = forced
    if alert is None:  # an operator's action on a breaker already in that state
        return True
    fanout.announce(record.network_id, [alert])
    log.warning("circuit breaker moved", extra={"network_id": record.network_id,
                                                "breaker": record.name, "from": current,
                                                "to": new, "reason": reason})
    from chalicelib.services import notifications
    notifications.notify_admins(
        record.network_id, subject=f"Circuit breaker {record.name} is {new.replace('_', '-')}",
        body=f"{record.name}: {current} → {new} ({reason}). "
             f"Deliveries to it wait while it is open.",
        severity="warning" if new == OPEN else "info",
        metadata={"breaker": record.name, "from": current, "to": new})
    return True


# --------------------------------------------------------------------------- operators


def force_open(network_id: str, name: str) -> B:
    record = ensure(network_id, name)
    now = now_ms()
    _transition(record, record.state or CLOSED, OPEN, "forced open by an operator",
                sets={"opened_at": now, "open_until": now + setting(record, "recovery_timeout_s")
                      * 1000}, forced=OPEN)
    return get(network_id, record.name)


def force_close(network_id: str, name: str) -> B:
    record = ensure(network_id, name)
    _transition(record, record.state or CLOSED, CLOSED, "forced closed by an operator",
                sets={"failure_count": 0, "half_open_successes": 0},
                removals=("window_started_at", "open_until", "probe_until"))
    return get(network_id, record.name)


def reset(network_id: str, name: str) -> B:
    record = ensure(network_id, name)
    _transition(record, record.state or CLOSED, CLOSED, "reset by an operator",
                sets={"failure_count": 0, "half_open_successes": 0, "total_successes": 0,
                      "total_failures": 0},
                removals=("window_started_at", "open_until", "probe_until", "opened_at",
                          "last_failure_at", "last_success_at", "last_error"))
    return get(network_id, record.name)

