"""Server-sent events: frames, and what a response says when it has no event to carry.

Every `data:` frame is a message. Many hand-written SSE readers ignore `event:` lines and
treat every `data:` frame as a message, so nothing else is ever sent as data — not a
heartbeat, not a position. A response or stream with nothing to deliver sends a comment
(`: ...`, ignored by every parser) and an `id:` line alone: per the SSE processing model a
block with an id and no data updates the reader's last event id and dispatches nothing.
Readers that only take ids from messages are covered on the server side (see
services/messaging.py `resume_point`).
"""
from __future__ import annotations

import json

HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
           "X-Accel-Buffering": "no"}


def frame(data, *, event_id: str | None = None, event: str | None = None) -> str:
    lines = []
    if event_id:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), default=str)
    lines.extend(f"data: {line}" for line in text.split("\n"))
    return "\n".join(lines) + "\n\n"


def position(event_id: str | None, note: str) -> str:
    """A comment and, when there is one, the resume position: no data, so no dispatch."""
    return f": {note}\n" + (f"id: {event_id}\n\n" if event_id else "\n")


def retry(milliseconds: int) -> str:
    return f"retry: {milliseconds}\n\n"
