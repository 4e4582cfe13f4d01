"""The platform's `/ws` protocol: keepalive and event subscriptions.

`{"type":"ping"}` → `{"type":"pong"}`; `{"type":"subscribe","event":E}` adds E to the
connection's subscriptions (`unsubscribe` removes it); pushes carry
`{"type":"event","event":E,"data":{...}}`.
"""
from __future__ import annotations

from chalicelib.clock import iso, now_ms
from chalicelib.services import connections, events, fanout


def reject(record, message: str) -> None:
    connections.deliver(record.connection_id, {"type": "error", "message": message})


def handle(record, frame: dict) -> None:
    kind = str(frame.get("type") or "").lower()
    if kind == "ping":
        connections.deliver(record.connection_id, {"type": "pong", "timestamp": iso(now_ms())})
    elif kind in ("subscribe", "unsubscribe"):
        wanted = frame.get("event") or frame.get("events")
        names = [wanted] if isinstance(wanted, str) else wanted
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            return reject(record, "subscribe needs an 'event' name")
        unknown = [n for n in names if not events.known_type(n)]
        if unknown:
            return reject(record, f"unknown event type: {', '.join(unknown)}")
        current = set(record.subscriptions or ())
        current = current | set(names) if kind == "subscribe" else current - set(names)
        connections.update(record, subscriptions=current)
        fanout.forget_subscribers(record.network_id)
        connections.deliver(record.connection_id, {"type": f"{kind}d", "events": sorted(current)})
    else:
        reject(record, f"unknown message type: {frame.get('type')!r}")
