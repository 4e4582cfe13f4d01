"""AWS clients for the services the outbound context uses (KMS, SES, SQS): made on first
use, once per container, the endpoint taken from the environment (`AWS_ENDPOINT_URL_<SVC>`
in the local stack), so most cold starts never build one."""
from __future__ import annotations

import threading

from chalicelib.config import settings

_clients: dict[str, object] = {}
_lock = threading.Lock()


def aws(service: str):
    """The boto3 client for `service` (boto3's default session is not thread-safe: one
    client per service, made under a lock, shared afterwards)."""
    client = _clients.get(service)
    if client is None:
        with _lock:
            client = _clients.get(service)
            if client is None:
                import boto3
                client = boto3.client(service, region_name=settings().region)
                _clients[service] = client
    return client


def reset() -> None:
    """Forget every client (tests and the local stack change endpoints)."""
    with _lock:
        _clients.clear()
