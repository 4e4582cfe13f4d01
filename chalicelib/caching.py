"""A small per-container cache whose entries expire: what a Lambda container may keep
between requests for a few seconds (credential lookups, IP rules)."""
from __future__ import annotations

import threading
import time


class TtlCache:
    """Entries live `ttl_s` seconds; past `max_items` the cache starts over. Thread-safe
    (the local stack serves requests from threads)."""

    def __init__(self, ttl_s: float, max_items: int = 10_000):
        self.ttl_s, self.max_items = ttl_s, max_items
        self._items: dict = {}
        self._lock = threading.Lock()

    def get(self, key, default=None):
        entry = self._items.get(key)
        if entry and entry[0] > time.monotonic():
            return entry[1]
        return default

    def put(self, key, value) -> None:
        with self._lock:
            if len(self._items) >= self.max_items:
                self._items.clear()
            self._items[key] = (time.monotonic() + self.ttl_s, value)

    def forget(self, key) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
