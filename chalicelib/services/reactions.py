"""Reactions: work that follows a committed change (a workflow step whose task completed,
a chat reply, an event trigger), driven by the network's event log.

The event log is written in the same transaction as every change it records, so it is a
durable outbox. Two paths read it, and every handler is idempotent (its effect is a
conditional write), so an event handled twice has one effect:
- fast: `fanout.announce` hands each batch of committed events to `dispatch` in the
  process that made the change, right after the commit;
- durable: the `reaction_sweep` schedule (`catch_up`) reads each followed network's log
  after its checkpoint and dispatches again, so a crash between a commit and its fast
  path, or a handler that failed, is made good within a sweep interval.

Only networks that asked to be followed (`follow`, called when a network first creates
something that reacts: a workflow run, an event trigger, a chat) pay for reactions: the
fast path checks a per-instance cache of followed networks.
"""
from __future__ import annotations

import importlib
import threading
import time
from typing import Callable

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib import logs
from chalicelib.clock import now_ms
from chalicelib.services import events
from chalicelib.store.reactions import REACTOR_DUE, CheckpointRecord as C, checkpoint_key
from chalicelib.store.records import time_key

log = logs.get("reactions")
FOLLOWED_TTL_S = 30.0        # how long an instance trusts that a network is followed
UNFOLLOWED_TTL_S = 5.0       # ... or not (a miss is made good by the sweep)
SWEEP_BUDGET = 2000          # events one sweep reads per network

_handlers: list[tuple[tuple[str, ...], Callable]] = []
_loaders: list[Callable] = []
_caches: list[dict] = []
_lock = threading.Lock()


# The packages whose modules register handlers. Services load on first use
# (chalicelib/services/__init__.py), so a function may dispatch before any of them loaded.
REACTING_PACKAGES = ("chalicelib.services.orchestration",)


def load_with(loader: Callable) -> None:
    """`loader()` imports the modules that register handlers; it runs before the first
    dispatch (families load on first use: services/orchestration/__init__.py)."""
    _loaders.append(loader)


def _load() -> None:
    for package in REACTING_PACKAGES:
        importlib.import_module(package)  # a package registers its loader when imported
    while _loaders:
        _loaders.pop()()


def instance_cache() -> dict:
    """A per-instance cache of what reactions look up often (cleared by `forget`)."""
    cache: dict = {}
    _caches.append(cache)
    return cache


def forget() -> None:
    """Drop every instance cache (a fresh process; tests start each one so)."""
    for cache in _caches:
        cache.clear()


_followed = instance_cache()


def on(*event_types: str):
    """Register `handler(network_id, event)` for event types (`task.*` for a family,
    `*` for all)."""
    def register(handler):
        _handlers.append((event_types, handler))
        return handler
    return register


def _matches(patterns, event_type: str) -> bool:
    return any(p == "*" or p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1]))
               for p in patterns)


def dispatch(network_id: str, batch, *, fast: bool = True) -> None:
    if fast and not followed(network_id):
        return
    _load()
    for event in batch:
        for patterns, handler in _handlers:
            if _matches(patterns, event.type):
                try:
                    handler(network_id, event)
                except Exception:  # the next sweep dispatches it again
                    log.exception("reaction failed", extra={"network_id": network_id,
                                                            "event": event.type})


def followed(network_id: str) -> bool:
    entry = _followed.get(network_id)
    if entry and entry[0] > time.monotonic():
        return entry[1]
    try:
        C.get(*checkpoint_key(network_id), consistent_read=True)
        found = True
    except DoesNotExist:
        found = False
    with _lock:
        _followed[network_id] = (time.monotonic() + (FOLLOWED_TTL_S if found else
                                                     UNFOLLOWED_TTL_S), found)
    return found


def follow(network_id: str) -> None:
    """Start reacting to the network's events (from now on); idempotent."""
    entry = _followed.get(network_id)
    if entry and entry[1]:
        return
    position = events.latest_id(network_id) or f"{now_ms():013d}-"
    try:
        C(*checkpoint_key(network_id), kind="reactor", network_id=network_id,
          position=position, created_at=now_ms(), time_pk=REACTOR_DUE,
          time_sk=time_key(0, network_id)).save(condition=C.pk.does_not_exist())
    except PutError:
        pass  # followed already
    with _lock:
        _followed[network_id] = (time.monotonic() + FOLLOWED_TTL_S, True)


def catch_up(*, budget: int = SWEEP_BUDGET) -> dict:
    """The durable path: dispatch every followed network's events after its checkpoint."""
    networks = handled = 0
    for checkpoint in C.by_time.query(REACTOR_DUE):
        networks += 1
        network_id = checkpoint.network_id
        batch, position = events.read(network_id, checkpoint.position, limit=budget,
                                      budget=budget)
        if position == checkpoint.position:
            continue
        dispatch(network_id, batch, fast=False)
        handled += len(batch)
        try:  # a concurrent sweep that got further keeps its position
            C(*checkpoint_key(network_id)).update(
                actions=[C.position.set(position), C.updated_at.set(now_ms())],
                condition=C.position < position)
        except UpdateError:
            pass
    return {"networks": networks, "events": handled}
