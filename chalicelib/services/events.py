"""The per-network event log: every change worth watching is appended here once, and every
stream (Hub2d SSE, CommHub SSE, platform /ws) reads from it.

Ordering: ids carry the writer's clock, and a write lands a few milliseconds after its id
was taken. A reader that returned the newest events at once could skip one still in
flight, so reads stop at `now - settle` (SWITCHBOARD_EVENT_SETTLE_MS): resuming after the
last id seen then never misses or repeats an event.
"""
from __future__ import annotations

import time

from chalicelib.clock import now_ms
from chalicelib.config import settings
from chalicelib.ids import stream_id
from chalicelib.services import fanout
from chalicelib.store.events import RETENTION_S, EventRecord as E


# Event types a platform `/ws` client may subscribe to; families add theirs on import.
_types = {"agent.status", "task.created", "task.updated", "task.completed", "task.failed",
          "worker.online", "worker.offline", "message.new", "notification", "system.alert"}


def register_types(*names: str) -> None:
    _types.update(names)


def known_type(name: str) -> bool:
    """An event type, `*`, or a family wildcard such as `agent.*`."""
    if _known(name):
        return True
    if not _every_family_loaded:
        _load_every_family()
        return _known(name)
    return False


def _known(name: str) -> bool:
    if name == "*" or name in _types:
        return True
    return name.endswith(".*") and any(t.startswith(name[:-1]) for t in _types)


_every_family_loaded = False


def _load_every_family() -> None:
    """Families declare their types when imported, and services load on first use
    (chalicelib/services/__init__.py): before refusing a type, load them all, once."""
    global _every_family_loaded
    import importlib
    import pkgutil

    import chalicelib.services as package
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        importlib.import_module(module.name)
    _every_family_loaded = True


def record(network_id: str, event_type: str, data: dict, *, target: str | None = None,
           source: str | None = None) -> E:
    """An unsaved event, for writers that save it inside their own transaction."""
    stamp = now_ms()
    return E(f"NET#{network_id}", stream_id(stamp), type=event_type, target=target, source=source,
             data=data, created_at=stamp, expires_at=stamp // 1000 + RETENTION_S)


def publish(network_id: str, event_type: str, data: dict, *, target: str | None = None,
            source: str | None = None) -> E:
    event = record(network_id, event_type, data, target=target, source=source)
    event.save()
    fanout.announce(network_id, [event])
    return event


def _horizon() -> str:
    return f"{now_ms() - settings().event_settle_ms:013d}-~"


def read(network_id: str, after: str | None = None, *, target: str | None = None,
         types: tuple[str, ...] | None = None, limit: int = 100, budget: int = 1000) -> tuple[list[E], str | None]:
    """Settled events after `after`, oldest first, and the id to resume from.

    `target` keeps events addressed to it or to everyone; `types` keeps those types. The
    resume id advances past events read but filtered out, so a reader never re-reads them;
    at most `budget` items are read per call.
    """
    horizon = _horizon()
    if after is None:
        condition = E.sk <= horizon
    elif after >= horizon:
        return [], after
    else:
        condition = E.sk.between(after + "\x00", horizon)
    kept, cursor, read_count = [], after, 0
    for record in E.query(f"NET#{network_id}", condition, consistent_read=True,
                          page_size=min(budget, 200)):
        read_count += 1
        cursor = record.sk
        if (target is None or record.target in (None, target)) and \
                (types is None or record.type in types):
            kept.append(record)
        if len(kept) >= limit or read_count >= budget:
            break
    return kept, cursor


def recent(network_id: str, *, types: tuple[str, ...], limit: int = 50,
           budget: int = 1000) -> list[E]:
    """The newest settled events of some types, newest first (bounded reading)."""
    kept = []
    for position, record in enumerate(E.query(f"NET#{network_id}", E.sk <= _horizon(),
                                              scan_index_forward=False, consistent_read=True,
                                              page_size=min(budget, 200))):
        if record.type in types:
            kept.append(record)
        if len(kept) >= limit or position + 1 >= budget:
            break
    return kept


def latest_id(network_id: str) -> str | None:
    """The newest settled id: where a new subscriber that wants only new events starts."""
    newest = list(E.query(f"NET#{network_id}", E.sk <= _horizon(), scan_index_forward=False,
                          limit=1, consistent_read=True))
    return newest[0].sk if newest else None


def start_position(network_id: str) -> str:
    """Where a reader with no position yet starts: after the newest settled event, so it
    sees what happens from now on."""
    return latest_id(network_id) or f"{now_ms() - settings().event_settle_ms:013d}-"


def wait(network_id: str, after: str | None, *, timeout_s: float, poll_s: float = 0.1,
         **filters) -> tuple[list[E], str | None]:
    """`read`, waiting up to `timeout_s` for something to arrive."""
    deadline = time.monotonic() + timeout_s
    while True:
        events, cursor = read(network_id, after, **filters)
        if events or time.monotonic() >= deadline:
            return events, cursor
        after = cursor
        time.sleep(poll_s)
