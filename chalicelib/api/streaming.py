"""Server-sent event responses for the dialects that stream (Hub2d `/v1/events`, CommHub
`/events/{alias}`): resume position, bounded wait, reader presence. Each dialect supplies
how an event looks on its wire."""
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
                 render: Callable[[object], str | None], heartbeat: dict,
                 subscriber: str) -> Response:
    cfg = settings()
    header = req.headers.get("last-event-id")
    last = check_value(Id, header, ("header", "last-event-id")) if header \
        else req.params.last_event_id
    wait_s = max(0.0, req.deadline(cfg.stream_wait_s) - time.monotonic())
    network_id = req.principal.network_id
    messaging.seen(network_id, subscriber, ttl_s=wait_s + cfg.stream_retry_ms / 1000 + 15)
    found, position = events.follow(network_id, last, wait_s=wait_s, target=target, types=types)
    frames = [text for text in map(render, found) if text]
    return Response(body=sse.body(frames, retry_ms=cfg.stream_retry_ms, heartbeat=heartbeat,
                                  position=position), headers=dict(sse.HEADERS))
