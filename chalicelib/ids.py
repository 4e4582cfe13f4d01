"""Identifiers that sort by creation time, so a partition read in key order is time order.

Within one millisecond, ids from the same process keep their creation order too (the
random part counts up, as monotonic ULIDs do): one writer's events and messages are read
back in the order it wrote them.
"""
from __future__ import annotations

import os
import secrets
import string
import threading

from chalicelib.clock import now_ms

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE36 = string.digits + string.ascii_lowercase


def _encode_time(ms: int) -> str:
    return _base(ms, _CROCKFORD, 10)


class _Monotonic:
    """Per-millisecond sequence: a fresh random start for each millisecond, then +1.
    A few recent milliseconds are remembered, since threads may interleave stamps."""

    KEEP = 64

    def __init__(self, fresh):
        self._fresh, self._lock, self._last = fresh, threading.Lock(), {}

    def next(self, ms: int) -> int:
        with self._lock:
            value = self._last[ms] + 1 if ms in self._last else self._fresh()
            self._last[ms] = value
            if len(self._last) > self.KEEP:
                del self._last[next(iter(self._last))]  # the least recently started
            return value


_ULID_RANDOM_BITS = 80
_ulid_sequence = _Monotonic(lambda: int.from_bytes(os.urandom(10), "big") >> 1)
# Stream ids: 6 base-36 characters; a random start in the lower half leaves room to count.
_STREAM_SUFFIX_SPACE = 36 ** 6
_stream_sequence = _Monotonic(lambda: secrets.randbelow(_STREAM_SUFFIX_SPACE // 2))


def _base(value: int, alphabet: str, width: int) -> str:
    chars = []
    for _ in range(width):
        value, rem = divmod(value, len(alphabet))
        chars.append(alphabet[rem])
    return "".join(reversed(chars))


def ulid(ms: int | None = None) -> str:
    """A ULID: 10 characters of millisecond time, 16 of randomness (monotonic in-process)."""
    ms = now_ms() if ms is None else ms
    rand = _ulid_sequence.next(ms) % (1 << _ULID_RANDOM_BITS)
    return _encode_time(ms) + _base(rand, _CROCKFORD, 16)


def ulid_time(value: str) -> int:
    """The millisecond time a ULID was made at; ValueError when it is not a ULID."""
    head = value[:10].upper()
    if len(head) != 10 or any(c not in _CROCKFORD for c in head):
        raise ValueError(f"not a ULID: {value!r}")
    ms = 0
    for char in head:
        ms = ms * 32 + _CROCKFORD.index(char)
    return ms


def new_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"


def stream_id(ms: int | None = None) -> str:
    """Hub2d's `<ms>-<suffix>` form (`1771683702115-xh5vuj`); 13-digit ms sort as text."""
    ms = now_ms() if ms is None else ms
    suffix = _base(_stream_sequence.next(ms) % _STREAM_SUFFIX_SPACE, _BASE36, 6)
    return f"{ms:013d}-{suffix}"


def stream_id_time(value: str) -> int | None:
    head = value.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def short_id(prefix: str, length: int = 12) -> str:
    """Opaque, unordered ids in the style CommHub prints (`net_xxxxxxxx`, `u_abc123`)."""
    return prefix + "".join(secrets.choice(_BASE36) for _ in range(length))
