"""Delivery to live WebSocket connections through the API Gateway Management API.

The same boto3 call in AWS and in the local stack; only the endpoint differs
(`SWITCHBOARD_WS_ENDPOINT` locally, derived from the WebSocket API id in AWS).
"""
from __future__ import annotations

import json
import threading

from chalicelib import logs
from chalicelib.config import settings

log = logs.get("push")
_client = None
_lock = threading.Lock()


def _management_client():
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                import boto3  # imported on first push: most invocations never push
                endpoint = settings().ws_endpoint
                if not endpoint:
                    raise RuntimeError("no WebSocket endpoint configured (SWITCHBOARD_WS_ENDPOINT "
                                       "or SWITCHBOARD_WS_API_ID)")
                _client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint,
                                       region_name=settings().region)
    return _client


def reset() -> None:
    """Forget the client (tests and the local stack change the endpoint)."""
    global _client
    _client = None


def send(connection_id: str, payload: dict | str) -> bool:
    """Post to one connection; False when API Gateway says it is gone (410)."""
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"),
                                                                default=str)
    client = _management_client()
    try:
        client.post_to_connection(ConnectionId=connection_id, Data=data.encode("utf-8"))
        return True
    except client.exceptions.GoneException:
        log.info("connection gone", extra={"connection_id": connection_id})
        return False


def disconnect(connection_id: str) -> None:
    client = _management_client()
    try:
        client.delete_connection(ConnectionId=connection_id)
    except client.exceptions.GoneException:
        pass
