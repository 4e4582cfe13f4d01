"""What every HTTP request passes through at the edge, whichever dialect it speaks:

- the caller's address, as API Gateway reports it (`requestContext.identity.sourceIp`);
- the deployment's IP rules, before routing (services/people/ip_rules.py);
- CORS: allowed origins from `SWITCHBOARD_CORS_ORIGINS`; every path answers the OPTIONS
  preflight (api/fallback.py declares it), in AWS as locally;
- security headers on every response, and `X-Response-Time`;
- the audit record of every state-changing request (`audit_request`, called by the
  router, which knows the route, the principal and the outcome).
"""
from __future__ import annotations

from chalicelib import logs
from chalicelib.config import settings
from chalicelib.services import audit

log = logs.get("edge")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-site",
}
HSTS = "max-age=63072000; includeSubDomains"
CORS_ALLOW_HEADERS = ("Authorization", "Content-Type", "Accept", "Origin", "X-API-Key",
                      "X-Matrix-Secret", "X-Request-ID", "Idempotency-Key", "X-Idempotency-Key",
                      "Last-Event-ID", "X-Switchboard-Dialect")
CORS_EXPOSE_HEADERS = "X-Request-Id, X-Response-Time, X-Next-Cursor, Retry-After, Location, ETag"
CORS_MAX_AGE = "600"


def source_ip(context: dict | None) -> str | None:
    return ((context or {}).get("identity") or {}).get("sourceIp")


# --------------------------------------------------------------------------- CORS


def allowed_origin(origin: str | None) -> str | None:
    """The `Access-Control-Allow-Origin` to send for `origin`, or None (not allowed)."""
    if not origin:
        return None
    origins = settings().cors_origins
    if "*" in origins:
        return "*"
    return origin if origin.rstrip("/") in origins else None


def cors_headers(origin: str | None) -> dict:
    allowed = allowed_origin(origin)
    if allowed is None:
        return {}
    headers = {"Access-Control-Allow-Origin": allowed,
               "Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS}
    if allowed != "*":  # credentials are never combined with a wildcard
        headers.update({"Access-Control-Allow-Credentials": "true", "Vary": "Origin"})
    return headers


def preflight_headers(methods: list[str], requested_headers: str | None) -> dict:
    """A preflight's answer for a path with `methods`: what it may send and for how long."""
    wanted = [h.strip() for h in (requested_headers or "").split(",") if h.strip()]
    known = {h.lower() for h in CORS_ALLOW_HEADERS}
    allowed = list(CORS_ALLOW_HEADERS) + [h for h in wanted if h.lower() in known
                                          and h not in CORS_ALLOW_HEADERS]
    return {"Access-Control-Allow-Methods": ", ".join(methods),
            "Access-Control-Allow-Headers": ", ".join(allowed),
            "Access-Control-Max-Age": CORS_MAX_AGE}


# --------------------------------------------------------------------------- headers


def finish(response, *, origin: str | None, elapsed_ms: float) -> None:
    """Headers every response carries (a handler's own choices are kept)."""
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if settings().hsts:
        headers.setdefault("Strict-Transport-Security", HSTS)
    headers.update(cors_headers(origin))
    headers["X-Response-Time"] = f"{elapsed_ms:.1f}ms"


# --------------------------------------------------------------------------- audit

API_PREFIXES = ("/api/v1/", "/api/", "/v1/")
VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}


def _parts(template: str) -> list[str]:
    for prefix in API_PREFIXES:
        if template.startswith(prefix):
            template = template[len(prefix):]
            break
    return [s for s in template.strip("/").split("/") if s]


def action_for(method: str, template: str) -> str:
    """A route's audit action when it names none: its literal path segments and a verb
    (`tasks.create`, `tasks.update`); a POST whose last segment follows another is that
    verb (`task.complete`, `tasks.cancel`, `networks.join`)."""
    parts = _parts(template)
    literals = [s.replace("-", "_") for s in parts if not s.startswith("{")]
    if method == "POST" and len(parts) >= 2 and not parts[-1].startswith("{"):
        return ".".join(literals)
    return ".".join(literals + [VERBS.get(method, method.lower())])


def _target(template: str, path_params: dict) -> tuple[str | None, str | None]:
    parts = _parts(template)
    literals = [s for s in parts if not s.startswith("{")]
    names = [s[1:-1] for s in parts if s.startswith("{")]
    return (literals[0].replace("-", "_") if literals else None,
            path_params.get(names[-1]) if names else None)


def audit_request(req, *, method: str, template: str, action: str | None, status: int,
                  path_params: dict, note: audit.Note) -> None:
    """Append the request's audit record. Never raises: a lost record is logged, and the
    request's answer stands (the change it made is not undone)."""
    try:
        principal = req.principal
        actor_id, actor_type, credential = audit.actor_of(principal)
        if note.actor_id:
            actor_id, actor_type = note.actor_id, note.actor_type or "token"
        target_type, target_id = _target(template, path_params)
        audit.append(note.network_id or (principal.network_id if credential
                                         else settings().default_network_id),
                     action=note.action or action or action_for(method, template),
                     outcome=audit.outcome_of(status), status_code=status,
                     actor_type=actor_type, actor_id=actor_id, credential=credential,
                     target_type=note.target_type or target_type,
                     target_id=note.target_id or target_id,
                     source_ip=source_ip(req.context), dialect=req.dialect.name, method=method,
                     route=template, request_id=req.context.get("requestId"),
                     details=note.details)
    except Exception:
        log.exception("audit record not written", extra={"route": template, "method": method})
