"""Platform /api/v1/security (configuration, password policy, sessions, IP rules) and
/api/v1/admin/audit: translation only. (Services are imported in the routes that use
them: each module is paid for at cold start.)"""
from typing import Annotated, Literal

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Cursor, Input, Limit, Line, Object, Offset, Word
from chalicelib.api.platform import router
from chalicelib.api.routing import ADMIN
from chalicelib.clock import iso

MAX_RULES = 500   # as services/people/ip_rules.py refuses more


class SecurityChange(Input):
    """Any subset of the sections `GET /security` shows."""
    password_policy: Object | None = None
    lockout: Object | None = None
    session: Object | None = None
    mfa: Object | None = None


class PolicyChange(Input):
    """The `password_policy` section on its own (its ranges: services/people/settings.py)."""
    min_length: int | None = None
    require_uppercase: bool | None = None
    require_lowercase: bool | None = None
    require_numbers: bool | None = None
    require_special: bool | None = None
    history_count: int | None = None
    reject_common: bool | None = None


class Rule(Input):
    cidr: Annotated[str, Meta(max_length=64)]
    action: Literal["allow", "deny", "block"] = "allow"
    description: Line | None = None


Cidrs = Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=MAX_RULES)]


class RulesChange(Input):
    """`rules: [{cidr, action, description}]`, or the lists `allow` and `deny` (`block`).
    `force: true` saves rules that refuse the caller's own address."""
    rules: Annotated[list[Rule], Meta(max_length=MAX_RULES)] | None = None
    allow: Cidrs | None = None
    deny: Cidrs | None = None
    block: Cidrs | None = None
    force: bool = False


class AuditQuery(Input):
    limit: Limit = 100
    offset: Offset = 0
    cursor: Cursor | None = None
    action: Word | None = None
    actor_id: Annotated[str, Meta(max_length=200)] | None = None


@router.route("/api/v1/security", auth=ADMIN)
def get_security(req):
    from chalicelib.services.people import security
    return security.view(req.principal.network_id)


@router.route("/api/v1/security", methods=["PUT"], auth=ADMIN, body=SecurityChange,
              audit="security.update")
def put_security(req):
    from chalicelib.services.people import security
    sections = {name: getattr(req.body, name) for name in security.SECTIONS
                if getattr(req.body, name) is not None}
    return security.update(req.principal.network_id, sections, actor=req.principal.account_id)


@router.route("/api/v1/security/password-policy", auth=ADMIN)
def get_password_policy(req):
    from chalicelib.services.people import security
    return security.password_policy_view(security.for_network(req.principal.network_id))


@router.route("/api/v1/security/password-policy", methods=["PUT"], auth=ADMIN, body=PolicyChange,
              audit="password_policy.update")
def put_password_policy(req):
    from chalicelib.services.people import security
    change = {name: getattr(req.body, name) for name in PolicyChange.__struct_fields__
              if getattr(req.body, name) is not None}
    security.update(req.principal.network_id, {"password_policy": change},
                    actor=req.principal.account_id, sectioned=False)
    policy = security.password_policy_view(security.for_network(req.principal.network_id))
    return {"status": "updated", "policy": policy}


def session_view(record, current: str | None) -> dict:
    return {"id": record.token_id, "user_id": record.user_id,
            "kind": "platform" if record.kind == "refresh_token" else "commhub",
            "ip_address": record.source_ip, "user_agent": record.user_agent,
            "created_at": iso(record.created_at),
            "last_seen_at": iso(max(record.last_used_at or 0, record.created_at or 0)),
            "expires_at": iso(record.expires_at), "current": record.token_id == current}


@router.route("/api/v1/security/sessions")
def list_sessions(req):
    """Administrators see every session in their organisation; others their own."""
    from chalicelib.services.people import sessions
    principal = req.principal
    found = sessions.list_sessions(principal, everyone=principal.is_admin)
    return {"items": [session_view(r, principal.token_id) for r in found], "total": len(found)}


@router.route("/api/v1/security/sessions/{session_id}", methods=["DELETE"],
              audit="session.revoke")
def revoke_session(req, session_id):
    from chalicelib.services.people import sessions
    sessions.revoke_session(req.principal, session_id)
    return Response(body="", status_code=204)


@router.route("/api/v1/security/ip-rules", auth=ADMIN)
def get_ip_rules(req):
    from chalicelib.services.people import ip_rules
    return ip_rules.view(req.principal.network_id, req.source_ip)


@router.route("/api/v1/security/ip-rules", methods=["PUT"], auth=ADMIN, body=RulesChange,
              audit="ip_rules.update")
def put_ip_rules(req):
    from chalicelib.services.people import ip_rules
    body = req.body
    # `at`: where each address was sent, for a refusal to name
    entries = [{"cidr": r.cidr, "action": r.action, "description": r.description,
                "at": ("rules", i, "cidr")} for i, r in enumerate(body.rules or [])]
    for name, action in (("allow", "allow"), ("deny", "deny"), ("block", "deny")):
        entries += [{"cidr": c, "action": action, "at": (name, i)}
                    for i, c in enumerate(getattr(body, name) or [])]
    return ip_rules.replace(req.principal, entries, source_ip=req.source_ip, force=body.force)


def audit_view(entry) -> dict:
    """The platform's audit row, plus what we record beyond it (outcome, route, ...)."""
    return {"id": entry.id, "action": entry.action, "resource_type": entry.target_type,
            "resource_id": entry.target_id, "actor_type": entry.actor_type,
            "actor_id": entry.actor_id, "credential": entry.credential,
            "outcome": entry.outcome, "status_code": entry.status_code,
            "ip_address": entry.source_ip, "dialect": entry.dialect, "method": entry.method,
            "route": entry.route, "request_id": entry.request_id, "details": entry.details,
            "network_id": entry.network_id, "created_at": iso(entry.created_at)}


@router.route("/api/v1/admin/audit", auth=ADMIN, query=AuditQuery)
def admin_audit(req):
    from chalicelib.services import audit
    params = req.params
    entries, cursor = audit.entries(req.principal.network_id, limit=params.limit,
                                    offset=params.offset, before=params.cursor,
                                    action=params.action, actor_id=params.actor_id)
    headers = {"X-Next-Cursor": cursor} if cursor else {}
    return Response(body=[audit_view(e) for e in entries], headers=headers)
