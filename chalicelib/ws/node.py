"""The GemmaNet node protocol on `/ws/node`: envelopes `{msg_id, msg_type, payload, sender_id,
timestamp}`. This module renders envelopes and errors; message types are dispatched by
`handle`.
"""
from __future__ import annotations

from chalicelib.clock import iso, now_ms
from chalicelib.ids import ulid
from chalicelib.services import connections

HUB_SENDER = "coordinator"


def envelope(msg_type: str, payload: dict) -> dict:
    return {"msg_id": ulid(), "msg_type": msg_type, "payload": payload,
            "sender_id": HUB_SENDER, "timestamp": iso(now_ms())}


def reject(record, message: str) -> None:
    connections.deliver(record.connection_id, envelope("ERROR", {"error": message}))


HANDLERS: dict = {}


def handle(record, frame: dict) -> None:
    msg_type = str(frame.get("msg_type") or "").upper()
    handler = HANDLERS.get(msg_type)
    if handler is None:
        return reject(record, f"unsupported msg_type: {frame.get('msg_type')!r}")
    handler(record, frame)
