"""Server-sent events, as a Lambda behind API Gateway REST can send them.

A Lambda cannot hold a stream open: each response carries what is pending (after waiting
a bounded time for something to arrive), then a `retry:` hint, and ends. A standard
EventSource reconnects and sends `Last-Event-ID`, so the stream resumes where it left off
without loss or repeats. Every response names a position: if it carried no event, a
`heartbeat` event carries the resume id (EventSource dispatches named events only to
listeners of that name, so `onmessage` handlers never see it).
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


def body(frames: list[str], *, retry_ms: int, heartbeat: dict | None = None,
         position: str | None = None) -> str:
    """A whole response: the frames, then (when there were none) a heartbeat naming the
    resume position, then the reconnection delay."""
    parts = list(frames)
    if not parts and heartbeat is not None:
        parts.append(frame(heartbeat, event_id=position, event="heartbeat"))
    parts.append(f"retry: {retry_ms}\n\n")
    return "".join(parts)
