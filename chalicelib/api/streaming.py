"""Server-sent event responses for the dialects that stream (Hub2d `/v1/events`, CommHub
`/events/{alias}`): resume position, reader presence, and two ways to answer.

- Windowed (API Gateway REST, whose Lambda proxy buffers a whole response): answer at once
  with what is pending, or wait up to SWITCHBOARD_STREAM_WAIT for something, then end with
  `retry:`; the reader reconnects and resumes with Last-Event-ID.
- Streamed (when the invoker hands the handler a response stream, as the local gateway
  does): headers at once, then frames as events arrive and a keepalive comment with the
  position every SWITCHBOARD_STREAM_KEEPALIVE seconds, for up to SWITCHBOARD_STREAM_MAX
  seconds (API Gateway's limit for streamed responses is 15 minutes).

Each dialect supplies how an event looks on its wire (`render`; None skips an event).
"""
from __future__ import annotations

import time
from typing import Callable

from chalice import Response

from chalicelib.api.inputs import Id, Input, check_value
from chalicelib.config import settings
from chalicelib.push import sse
from chalicelib.services import events, messaging


class StreamQuery(Input):
    """Where to resume: `?last_event_id=`, for readers that cannot send `Last-Event-ID`."""
    last_event_id: Id | None = None


def sse_response(req, *, target: str | None, types: tuple[str, ...],
                 render: Callable[[object], str | None], subscriber: str) -> Response:
    header = req.headers.get("last-event-id")
    last = check_value(Id, header, ("header", "last-event-id")) if header \
        else req.params.last_event_id
    network_id = req.principal.network_id
    start = messaging.resume_point(network_id, subscriber, last) or \
        events.start_position(network_id)
    reader = _Reader(network_id, subscriber, start, target, types, render)
    if req.response_stream is not None:
        return _stream(req.response_stream, reader)
    cfg = settings()
    wait_s = max(0.0, req.deadline(cfg.stream_wait_s) - time.monotonic())
    frames = reader.next_window(wait_s, ttl_s=wait_s + cfg.stream_retry_ms / 1000 + 15)
    body = "".join(frames) or sse.position(reader.position, "nothing new in this window")
    return Response(body=body + sse.retry(cfg.stream_retry_ms), headers=dict(sse.HEADERS))


class _Reader:
    """One reader's walk along its network's event log."""

    def __init__(self, network_id, subscriber, start, target, types, render):
        self.network_id, self.subscriber, self.position = network_id, subscriber, start
        self.target, self.types, self.render = target, types, render

    def next_window(self, wait_s: float, *, ttl_s: float) -> list[str]:
        """Frames for what arrives within `wait_s` (nothing if nothing does). Events the
        dialect does not show (a CommHub reader is not told of others' tasks) do not end
        the window. Where it ended is remembered for the reader's return
        (messaging.resume_point)."""
        messaging.seen(self.network_id, self.subscriber, ttl_s=ttl_s)
        ends = time.monotonic() + wait_s
        frames, delivered = [], self.position
        while True:
            found, position = events.wait(self.network_id, self.position,
                                          timeout_s=max(0.0, ends - time.monotonic()),
                                          target=self.target, types=self.types)
            for event in found:
                text = self.render(event)
                if text:
                    frames.append(text)
                    delivered = event.event_id
            self.position = position or self.position
            if frames or time.monotonic() >= ends:
                break
        messaging.seen(self.network_id, self.subscriber, ttl_s=ttl_s,
                       read=(delivered, self.position))
        return frames


def _stream(stream, reader: _Reader) -> Response:
    cfg = settings()
    stream.start(200, dict(sse.HEADERS))
    stream.write(sse.position(reader.position, "connected"))
    ends = time.monotonic() + cfg.stream_max_s
    while not stream.closed and time.monotonic() < ends:
        wait_s = min(cfg.stream_keepalive_s, max(0.0, ends - time.monotonic()))
        frames = reader.next_window(wait_s, ttl_s=wait_s + 15)
        stream.write("".join(frames) or sse.position(reader.position, "keepalive"))
    if not stream.closed:
        stream.write(sse.retry(cfg.stream_retry_ms))
    return Response(body="", status_code=200)
