"""Outputs typed: a field documented as a number is a number (or null) in every answer,
and one documented as text is text, even for values stored before inputs were typed
(a worker's `cpu_cores` of "NaN", a task's `instructions` of 12345)."""
from __future__ import annotations

import math


def as_text(value) -> str | None:
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def as_number(value) -> int | float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number
