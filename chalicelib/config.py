"""Deployment settings, read once from the environment.

Every knob lives here so a reader can see what a stage can change. Tests call
`reload()` after changing the environment.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

VERSION = "0.1.0"

DIALECTS = ("platform", "skycetus", "gemmanet", "hub2d", "commhub")


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_prefix: str
    files_bucket: str
    open_dialects: frozenset
    default_network_id: str
    token_pepper: bytes
    jwt_secret: bytes
    access_token_ttl_s: int
    heartbeat_window_s: int
    lease_s: int
    max_attempts: int
    queue_shards: int
    event_settle_ms: int
    starting_credits: int
    request_cost: int
    visibility_timeout_s: float
    stream_wait_s: float
    stream_retry_ms: int
    stream_max_s: float
    stream_keepalive_s: float
    request_timeout_s: float
    node_starting_credits: int
    files_inline_max: int
    files_upload_max: int
    ws_endpoint: str | None
    xray: bool
    log_level: str
    vault_key_id: str
    outbound_allow: tuple
    outbound_timeout_s: float
    deliveries_queue: str
    mail_from: str
    credit_usd: float
    metrics_token: str | None
    metrics_cache_s: float
    exports_inline_max: int
    cors_origins: tuple      # origins browsers may call from ("*": any, without credentials)
    hsts: bool               # Strict-Transport-Security on every answer (deployed stages)

    def is_open(self, dialect: str) -> bool:
        return dialect in self.open_dialects


def default_table_prefix(stage: str) -> str:
    """Tables are `<prefix><name>`; infra/ names the tables it creates the same way."""
    return f"switchboard-{stage}-"


def default_files_bucket(stage: str) -> str:
    return f"switchboard-{stage}-files"


def default_vault_key(stage: str) -> str:
    return f"alias/switchboard-{stage}-vault"


def default_deliveries_queue(stage: str) -> str:
    return f"switchboard-{stage}-deliveries"


def _cidrs(raw: str) -> tuple:
    """`10.1.0.0/16, 127.0.0.1` → ip_network objects (a bare address is a /32 or /128)."""
    import ipaddress
    networks = []
    for part in raw.split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ValueError(f"SWITCHBOARD_OUTBOUND_ALLOW: {part.strip()!r} is not a CIDR") from None
    return tuple(networks)


def _ws_endpoint(region: str) -> str | None:
    """The API Gateway Management API endpoint that `post_to_connection` calls.

    Explicit in the local stack (`SWITCHBOARD_WS_ENDPOINT`); in AWS derived from the
    WebSocket API id and stage, which infra/ hands to every function.
    """
    explicit = os.environ.get("SWITCHBOARD_WS_ENDPOINT")
    if explicit:
        return explicit.rstrip("/")
    api_id = os.environ.get("SWITCHBOARD_WS_API_ID")
    if not api_id:
        return None
    stage = os.environ.get("SWITCHBOARD_WS_STAGE", "api")
    suffix = ".com.cn" if region.startswith("cn-") else ".com"
    return f"https://{api_id}.execute-api.{region}.amazonaws{suffix}/{stage}"


@lru_cache(maxsize=1)
def settings() -> Settings:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    stage = os.environ.get("SWITCHBOARD_STAGE", "local")
    open_raw = os.environ.get("SWITCHBOARD_OPEN_DIALECTS", "")
    open_dialects = frozenset(d.strip().lower() for d in open_raw.split(",") if d.strip())
    unknown = open_dialects - set(DIALECTS)
    if unknown:
        raise ValueError(f"SWITCHBOARD_OPEN_DIALECTS names unknown dialects: {sorted(unknown)}")
    return Settings(
        stage=stage,
        region=region,
        table_prefix=os.environ.get("SWITCHBOARD_TABLE_PREFIX", default_table_prefix(stage)),
        files_bucket=os.environ.get("SWITCHBOARD_FILES_BUCKET", default_files_bucket(stage)),
        open_dialects=open_dialects,
        default_network_id=os.environ.get("SWITCHBOARD_DEFAULT_NETWORK", "net_default"),
        token_pepper=os.environ.get("SWITCHBOARD_TOKEN_PEPPER", "").encode(),
        jwt_secret=os.environ.get("SWITCHBOARD_JWT_SECRET", "").encode(),
        access_token_ttl_s=_int("SWITCHBOARD_ACCESS_TOKEN_TTL", 3600),
        heartbeat_window_s=_int("SWITCHBOARD_HEARTBEAT_WINDOW", 90),
        lease_s=_int("SWITCHBOARD_LEASE_SECONDS", 300),
        max_attempts=_int("SWITCHBOARD_MAX_ATTEMPTS", 3),
        queue_shards=max(1, _int("SWITCHBOARD_QUEUE_SHARDS", 1)),
        event_settle_ms=_int("SWITCHBOARD_EVENT_SETTLE_MS", 500),
        starting_credits=_int("SWITCHBOARD_STARTING_CREDITS", 1000),
        request_cost=_int("SWITCHBOARD_REQUEST_COST", 10),
        visibility_timeout_s=float(os.environ.get("SWITCHBOARD_VISIBILITY_TIMEOUT") or 30),
        stream_wait_s=float(os.environ.get("SWITCHBOARD_STREAM_WAIT") or 20),
        stream_retry_ms=_int("SWITCHBOARD_STREAM_RETRY_MS", 500),
        # Streamed responses (where the invoker offers a stream): API Gateway ends those
        # after 15 minutes and after 5 idle minutes; a keepalive keeps proxies from idling.
        stream_max_s=float(os.environ.get("SWITCHBOARD_STREAM_MAX") or 900),
        stream_keepalive_s=float(os.environ.get("SWITCHBOARD_STREAM_KEEPALIVE") or 15),
        request_timeout_s=float(os.environ.get("SWITCHBOARD_REQUEST_TIMEOUT") or 25),
        node_starting_credits=_int("SWITCHBOARD_NODE_STARTING_CREDITS", 0),
        # A file's bytes travel base64 in the Lambda event (and back), which must stay
        # under 6 MB: 4 MiB of file leaves room for the encoding and the headers.
        files_inline_max=_int("SWITCHBOARD_FILES_INLINE_MAX", 4 * 1024 * 1024),
        files_upload_max=_int("SWITCHBOARD_FILES_UPLOAD_MAX", 512 * 1024 * 1024),
        ws_endpoint=_ws_endpoint(region),
        xray=_flag("SWITCHBOARD_XRAY"),
        log_level=os.environ.get("SWITCHBOARD_LOG_LEVEL", "INFO").upper(),
        vault_key_id=os.environ.get("SWITCHBOARD_VAULT_KEY") or default_vault_key(stage),
        outbound_allow=_cidrs(os.environ.get("SWITCHBOARD_OUTBOUND_ALLOW", "")),
        outbound_timeout_s=float(os.environ.get("SWITCHBOARD_OUTBOUND_TIMEOUT") or 10),
        deliveries_queue=os.environ.get("SWITCHBOARD_DELIVERIES_QUEUE")
        or default_deliveries_queue(stage),
        mail_from=os.environ.get("SWITCHBOARD_MAIL_FROM") or f"noreply@{stage}.switchboard.invalid",
        # insight: a call credit's value in USD (cost reports, budgets); /metrics' token
        # (unset: open) and how long its DynamoDB-read gauges are cached; the largest
        # export answered inline (larger ones go to S3 behind a presigned URL)
        credit_usd=float(os.environ.get("SWITCHBOARD_CREDIT_USD") or 0),
        metrics_token=os.environ.get("SWITCHBOARD_METRICS_TOKEN") or None,
        metrics_cache_s=float(os.environ.get("SWITCHBOARD_METRICS_CACHE_S") or 15),
        exports_inline_max=_int("SWITCHBOARD_EXPORTS_INLINE_MAX", 4 * 1024 * 1024),
        cors_origins=tuple(o.strip().rstrip("/") for o in
                           os.environ.get("SWITCHBOARD_CORS_ORIGINS", "").split(",") if o.strip()),
        # API Gateway serves HTTPS only; the local stack and tests serve plain HTTP.
        hsts=_flag("SWITCHBOARD_HSTS", stage not in ("local", "test")),
    )


def reload() -> Settings:
    settings.cache_clear()
    return settings()
