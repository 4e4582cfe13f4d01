"""Identifiers that sort by creation time, so a partition read in key order is time order."""
from __future__ import annotations

import os
import secrets
import string

from chalicelib.clock import now_ms

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE36 = string.digits + string.ascii_lowercase


def _encode_time(ms: int) -> str:
    chars = []
    for _ in range(10):
        ms, rem = divmod(ms, 32)
        chars.append(_CROCKFORD[rem])
    return "".join(reversed(chars))


def ulid(ms: int | None = None) -> str:
    """A ULID: 10 characters of millisecond time, 16 of randomness."""
    rand = int.from_bytes(os.urandom(10), "big")
    tail = []
    for _ in range(16):
        rand, rem = divmod(rand, 32)
        tail.append(_CROCKFORD[rem])
    return _encode_time(now_ms() if ms is None else ms) + "".join(tail)


def new_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"


def stream_id(ms: int | None = None) -> str:
    """Hub2d's `<ms>-<suffix>` form (`1771683702115-xh5vuj`); 13-digit ms sort as text."""
    suffix = "".join(secrets.choice(_BASE36) for _ in range(6))
    return f"{now_ms() if ms is None else ms:013d}-{suffix}"


def stream_id_time(value: str) -> int | None:
    head = value.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def short_id(prefix: str, length: int = 12) -> str:
    """Opaque, unordered ids in the style CommHub prints (`net_xxxxxxxx`, `u_abc123`)."""
    return prefix + "".join(secrets.choice(_BASE36) for _ in range(length))
