"""The hub's dependencies, really probed: DynamoDB (a read of the default network's item),
S3 (HeadBucket on the files bucket) and the WebSocket Management API (a GetConnection for
a connection that does not exist: "gone" means the endpoint answered and the role may
call it). Probes run side by side with short timeouts and no retries, so the whole check
ends within about PROBE_TIMEOUT_S. A failure reports the error's code, never its text.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from chalicelib.clock import iso, now_ms
from chalicelib.config import settings

PROBE_TIMEOUT_S = 3


def _client(service: str, **kwargs):
    import boto3
    from botocore.config import Config
    config = Config(connect_timeout=PROBE_TIMEOUT_S, read_timeout=PROBE_TIMEOUT_S,
                    retries={"max_attempts": 0, "mode": "standard"})
    return boto3.session.Session().client(service, region_name=settings().region,
                                          config=config, **kwargs)


def _database() -> dict:
    from chalicelib.store.identity import IdentityRecord
    _client("dynamodb").get_item(TableName=IdentityRecord.Meta.table_name,
                                 Key={"pk": {"S": f"NET#{settings().default_network_id}"},
                                      "sk": {"S": "NETWORK"}})
    return {"type": "DynamoDB", "table": IdentityRecord.Meta.table_name}


def _storage() -> dict:
    _client("s3").head_bucket(Bucket=settings().files_bucket)
    return {"type": "S3", "bucket": settings().files_bucket}


def _websocket() -> dict:
    endpoint = settings().ws_endpoint
    if not endpoint:
        raise LookupError("not_configured")
    client = _client("apigatewaymanagementapi", endpoint_url=endpoint)
    try:
        client.get_connection(ConnectionId="c2JwcmJlLXByb2Jl")
    except client.exceptions.GoneException:
        pass  # the endpoint answered: there is no such connection, as expected
    return {"type": "API Gateway Management API", "endpoint": endpoint}


PROBES = {"database": _database, "storage": _storage, "websocket": _websocket}


def _timed(probe) -> dict:
    started = time.perf_counter()
    try:
        facts = probe()
        status, error = "healthy", None
    except Exception as failure:  # any failure is the finding, reported by its code
        code = getattr(failure, "response", {}).get("Error", {}).get("Code") if \
            hasattr(failure, "response") else None
        facts, status = {}, "unhealthy"
        error = code or (failure.args[0] if isinstance(failure, LookupError)
                         else type(failure).__name__)
    result = {"status": status, **facts,
              "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    if error:
        result["error"] = error
    return result


def check() -> dict:
    with ThreadPoolExecutor(max_workers=len(PROBES)) as pool:
        futures = {name: pool.submit(_timed, probe) for name, probe in PROBES.items()}
        components = {name: future.result() for name, future in futures.items()}
    healthy = all(c["status"] == "healthy" for c in components.values())
    return {"overall": "healthy" if healthy else "degraded", "components": components,
            "checked_at": iso(now_ms())}
