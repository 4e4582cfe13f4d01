"""Time: one clock for the whole core, and liberal parsing of the timestamps clients send.

We send ISO 8601 UTC with a `Z` (CommHub and Hub2d get their `YYYY-MM-DD HH:MM:SS`
form from their adapters). We accept ISO with or without zone (no zone means UTC),
with a space or a `T`, and epoch seconds or milliseconds, within the years 1970-9999:
anything else is a ValueError (never an OverflowError).
"""
from __future__ import annotations

import math
import time
from datetime import datetime, timezone

# The instants we accept and print: 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z.
MIN_MS, MAX_MS = 0, 253_402_300_799_999


_offset_ms = 0


def now_ms() -> int:
    return int(time.time() * 1000) + _offset_ms


def advance(ms: int) -> int:
    """Move this process's clock forward by `ms` (never back: ids and event positions sort
    by time). Tests drive time with it; the local stack offers it as `POST /@clock` when
    SWITCHBOARD_LOCAL_CLOCK_CONTROL is set. Nothing in a deployment calls it."""
    global _offset_ms
    if ms < 0:
        raise ValueError("the clock only moves forward")
    _offset_ms += int(ms)
    return now_ms()


def _format(ms, pattern: str) -> str | None:
    # A stored value outside the range we accept (written before it was enforced) prints
    # as null rather than failing the whole answer.
    if ms is None or not MIN_MS <= ms <= MAX_MS:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime(pattern)


def iso(ms: int | None) -> str | None:
    return _format(ms, "%Y-%m-%dT%H:%M:%SZ")


def sql_time(ms: int | None) -> str | None:
    """`2026-04-12 10:00:00` (UTC): the SQLite-style form CommHub and Hub2d print."""
    return _format(ms, "%Y-%m-%d %H:%M:%S")


def parse_time(value) -> int | None:
    """Epoch milliseconds from whatever a client sent; None when absent; ValueError when
    unreadable or outside 1970-9999."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a timestamp cannot be a boolean")
    if isinstance(value, datetime):
        zoned = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return _in_range(round(zoned.timestamp() * 1000))
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a timestamp must be a finite number")
    if isinstance(value, (int, float)):
        # Heuristic: anything below 10^11 is seconds (that is the year 5138 in ms terms).
        return _in_range(int(value * 1000) if abs(value) < 10 ** 11 else int(value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        return parse_time(int(text) if text.lstrip("+-").isdigit() else number)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text.replace(" ", "T", 1))
    return parse_time(parsed)


def _in_range(ms: int) -> int:
    if not MIN_MS <= ms <= MAX_MS:
        raise ValueError("a timestamp must be within the years 1970-9999")
    return ms
