"""Time: one clock for the whole core, and liberal parsing of the timestamps clients send.

We send ISO 8601 UTC with a `Z` (CommHub and Hub2d get their `YYYY-MM-DD HH:MM:SS`
form from their adapters). We accept ISO with or without zone (no zone means UTC),
with a space or a `T`, and epoch seconds or milliseconds.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone


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


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sql_time(ms: int | None) -> str | None:
    """`2026-04-12 10:00:00` (UTC): the SQLite-style form CommHub and Hub2d print."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def parse_time(value) -> int | None:
    """Epoch milliseconds from whatever a client sent; None when absent; ValueError when unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a timestamp cannot be a boolean")
    if isinstance(value, (int, float)):
        # Heuristic: anything below 10^11 is seconds (that is the year 5138 in ms terms).
        return int(value * 1000) if abs(value) < 1e11 else int(value)
    text = str(value).strip()
    try:
        return parse_time(float(text))
    except ValueError:
        pass
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text.replace(" ", "T", 1))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)
