"""Botocore calls this process makes to the local stack's own services, answered in process.

The app talks to AWS through boto3 everywhere, locally too; only endpoints differ. Where the
service lives in this same process (the DynamoDB emulator, the gateway's Management API), a
call aimed at its endpoint is handed to it directly: no socket, no signing, no HTTP parsing,
and the same parsed response or botocore error that the HTTP answer would have given. A
handler answers `PASS` to let a call go over HTTP as usual (an operation it does not serve).
"""
from __future__ import annotations

from typing import Any, Callable

PASS = object()
Handler = Callable[[Any, str, dict], Any]     # (client, operation, params) -> response | PASS

_routes: dict[tuple[str, str], Handler] = {}
_original = None


def route(service: str, endpoint: str, handler: Handler) -> None:
    """Answer `service` calls aimed at `endpoint` with `handler` (replacing an earlier one)."""
    _install()
    _routes[(service, endpoint.rstrip("/"))] = handler


def unroute(service: str, endpoint: str) -> None:
    _routes.pop((service, endpoint.rstrip("/")), None)


def _install() -> None:
    global _original
    if _original is not None:
        return
    import botocore.client
    _original = original = botocore.client.BaseClient._make_api_call

    def _make_api_call(client, operation_name, api_params):
        meta = client.meta
        handler = _routes.get((meta.service_model.service_name, (meta.endpoint_url or "").rstrip("/")))
        if handler is not None:
            answer = handler(client, operation_name, api_params)
            if answer is not PASS:
                return answer
        return original(client, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = _make_api_call
