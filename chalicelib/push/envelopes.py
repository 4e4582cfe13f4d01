"""The frames pushed to WebSocket clients, in each protocol's shape.

GemmaNet envelopes: `{msg_id, msg_type, payload, sender_id, timestamp}`. We send msg_type
in lower case, the values of the GemmaNet SDK's MsgType enum (`task_assign`,
`credit_update`, ...), which its pydantic models require; we accept any case.
Platform events: `{"type": "event", "event": <name>, "data": {...}, "id": <event id>}`.
"""
from __future__ import annotations

from chalicelib.clock import iso, now_ms
from chalicelib.ids import ulid

HUB_SENDER = "coordinator"


def node_envelope(msg_type: str, payload: dict) -> dict:
    return {"msg_id": ulid(), "msg_type": msg_type.lower(), "payload": payload,
            "sender_id": HUB_SENDER, "timestamp": iso(now_ms())}


def platform_event(event) -> dict:
    return {"type": "event", "event": event.type, "id": event.event_id, "data": event.data,
            "timestamp": iso(event.created_at)}
