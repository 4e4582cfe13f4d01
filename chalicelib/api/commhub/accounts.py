"""CommHub /api/auth, /api/networks, /api/tokens, /api/users: translation only."""
from typing import Annotated, Literal

from chalice import Response
from msgspec import Meta

from chalicelib.api.commhub import Scoped, listing, router
from chalicelib.api.inputs import Cursor, Email, Id, Input, Limit, Line, Name, Secret, Text, Word
from chalicelib.api.routing import ADMIN, NETWORK_ADMIN, PUBLIC
from chalicelib.clock import sql_time
from chalicelib.errors import Forbidden, require
from chalicelib.services import identity
from chalicelib.services.people import sessions

TOKEN_KINDS = ("user_token", "network_token", "api_key")


class Registration(Input):
    username: Name
    password: Secret
    email: Email | None = None
    display_name: Line | None = None


class Login(Input):
    """A user with MFA sends the current code as `totp_code` (CommHub has no second step)."""
    username: Name
    password: Secret
    totp_code: Secret | None = None


class Profile(Input):
    """A new `email` needs `current_password` (or `old_password`, as /api/auth/password)."""
    display_name: Line | None = None
    email: Email | None = None
    current_password: Secret | None = None
    old_password: Secret | None = None


class PasswordChange(Input):
    old_password: Secret
    new_password: Secret


class NetworkFields(Input):
    """`network_name` (CommHub's name) or `name`."""
    name: Name | None = None
    network_name: Name | None = None
    description: Text | None = None


class NewInvite(Input):
    role: Literal["member", "admin"] = "member"
    max_uses: Annotated[int, Meta(ge=1, le=10_000)] = 1


class Join(Input):
    invite_code: Annotated[str, Meta(min_length=1, max_length=64)]


class NewToken(Input):
    network_id: Id | None = None
    name: Name | None = None


def user_view(user, member_role: str | None) -> dict:
    """CommHub's user: one `role` for one user in every answer — `admin` for a system
    administrator and for a network's owner or admins, else `member` — from the user's
    membership in the network the answer is about."""
    admin = user.role == "admin" or member_role in ("owner", "admin")
    return {"user_id": user.user_id, "username": user.username or user.email,
            "display_name": user.display_name, "role": "admin" if admin else "member"}


def user_in(user, network_id: str) -> dict:
    membership = identity.membership(network_id, user.user_id)
    return user_view(user, membership.role if membership else None)


def network_view(network, member_role: str | None = None) -> dict:
    view = {"network_id": network.network_id, "network_name": network.name,
            "description": network.description, "owner_id": network.owner_id,
            "visibility": network.visibility, "max_members": network.max_members,
            "created_at": sql_time(network.created_at)}
    if member_role:
        view["member_role"] = member_role
    return view


def _user_id(req) -> str:
    if not req.principal.user_id:
        raise Forbidden("this token does not belong to a user")
    return req.principal.user_id


@router.route("/api/auth/register", methods=["POST"], auth=ADMIN, body=Registration,
              audit="register")
def register(req):
    # Registration is gated by the bootstrap token: the new user joins that token's network.
    from chalicelib.services.people import security
    network_id, body = req.principal.network_id, req.body
    user, role = identity.enroll(network_id, username=body.username, password=body.password,
                                 email=body.email, display_name=body.display_name)
    token = sessions.start_login_token(user, network_id, security.governing(network_id),
                                       source_ip=req.source_ip, user_agent=req.user_agent)
    _, network_token = identity.issue_credential("network_token", network_id,
                                                 name=f"{user.username} network token",
                                                 roles=("member",))
    return {"ok": True, "user": user_in(user, network_id), "token": token,
            "network_token": network_token, "network_id": network_id}


@router.route("/api/auth/login", methods=["POST"], auth=PUBLIC, body=Login, audit="login")
def login(req):
    from chalicelib.services.people import login as logins
    body = req.body
    done = logins.password_login(body.username, body.password, code=body.totp_code,
                                 source_ip=req.source_ip, second_step=False)
    user = done.user
    network_id = identity.default_network_for(user.user_id)
    token = sessions.start_login_token(user, network_id, done.config, source_ip=req.source_ip,
                                       user_agent=req.user_agent, scopes=done.scopes)
    return {"ok": True, "user": user_in(user, network_id), "token": token,
            "network_id": network_id}


def _network_role(principal) -> str | None:
    roles = principal.roles
    return next((r for r in ("owner", "admin", "member") if r in roles), None)


def _me(req, user) -> dict:
    """The caller, and the networks they belong to (CommHub's dashboard lists them)."""
    networks = [network_view(n, m.role) for m, n in identity.list_user_networks(user.user_id)]
    return {**listing("networks", networks), "user": user_in(user, req.principal.network_id)}


@router.route("/api/auth/me", methods=["GET"])
def me(req):
    return _me(req, identity.get_user(_user_id(req)))


@router.route("/api/auth/me", methods=["PUT"], body=Profile)
def update_me(req):
    body = req.body
    return _me(req, identity.update_profile(
        _user_id(req), display_name=body.display_name, email=body.email,
        current_password=body.current_password or body.old_password, source_ip=req.source_ip))


@router.route("/api/auth/password", methods=["POST"], body=PasswordChange,
              audit="password.change")
def change_password(req):
    ended = identity.change_password(_user_id(req), req.body.old_password, req.body.new_password,
                                     keep_token=req.principal.token_id, source_ip=req.source_ip)
    return {"ok": True, "sessions_ended": ended}


@router.route("/api/networks", methods=["GET"])
def list_networks(req):
    if not req.principal.user_id:
        network = identity.get_network(req.principal.network_id)
        return listing("networks", [network_view(network, "member")])
    pairs = identity.list_user_networks(req.principal.user_id)
    return listing("networks", [network_view(n, m.role) for m, n in pairs])


@router.route("/api/networks", methods=["POST"], body=NetworkFields)
def create_network(req):
    body = req.body
    network = identity.create_network(_user_id(req), require(body.name or body.network_name, "name"),
                                      body.description)
    return Response(body={"ok": True, "network_id": network.network_id,
                          "network_name": network.name}, status_code=201)


def _visible_network(req, network_id):
    principal = identity.scope_to_network(req.principal, network_id)
    return principal, identity.get_network(network_id)


@router.route("/api/networks/{network_id}", methods=["GET"])
def get_network(req, network_id):
    principal, network = _visible_network(req, network_id)
    return {"ok": True, "network": network_view(network, _network_role(principal))}


@router.route("/api/networks/{network_id}", methods=["PUT"], body=NetworkFields)
def update_network(req, network_id):
    body = req.body
    network = identity.update_network(req.principal, network_id, body.network_name or body.name,
                                      body.description)
    return {"ok": True, "network": network_view(network)}


@router.route("/api/networks/{network_id}", methods=["DELETE"])
def delete_network(req, network_id):
    identity.delete_network(req.principal, network_id)
    return {"ok": True}


@router.route("/api/networks/{network_id}/members", methods=["GET"])
def list_members(req, network_id):
    _visible_network(req, network_id)
    members = identity.list_members(network_id)
    return listing("members", [
        {**user_view(identity.get_user(m.user_id), m.role), "member_role": m.role,
         "joined_at": sql_time(m.created_at)} for m in members])


@router.route("/api/networks/{network_id}/invite", methods=["POST"], body=NewInvite)
def invite(req, network_id):
    principal, _ = _visible_network(req, network_id)
    invite = identity.create_invite(principal, network_id, req.body.role, req.body.max_uses)
    return {"ok": True, "invite_code": invite.pk.split("#", 1)[1], "network_id": network_id,
            "role": invite.role, "max_uses": invite.max_uses}


@router.route("/api/networks/join", methods=["POST"], body=Join)
def join(req):
    network = identity.join(_user_id(req), req.body.invite_code)
    return {"ok": True, "network_id": network.network_id, "network_name": network.name}


def token_view(record, token: str | None = None) -> dict:
    view = {"token_id": record.token_id, "name": record.name, "type": record.kind,
            "network_id": record.network_id, "prefix": record.prefix,
            "created_at": sql_time(record.created_at)}
    if token:
        view["token"] = token  # shown once, at creation
    return view


@router.route("/api/tokens", methods=["POST"], body=NewToken)
def create_token(req):
    # A CommHub API token is a network token: what agents use to reach /api/status, /mcp, SSE.
    principal = identity.scope_to_network(req.principal, req.body.network_id)
    record, token = identity.issue_credential(
        "network_token", principal.network_id, user_id=principal.user_id,
        name=req.body.name or "api token", roles=("member",))
    return Response(body={"ok": True, **token_view(record, token)}, status_code=201)


@router.route("/api/tokens", methods=["GET"])
def list_tokens(req):
    return listing("tokens", [token_view(r) for r in
                              identity.list_tokens(req.principal, TOKEN_KINDS)])


@router.route("/api/tokens/{token_id}", methods=["DELETE"])
def revoke_token(req, token_id):
    identity.revoke_token(req.principal, token_id, TOKEN_KINDS)
    return {"ok": True}


@router.route("/api/users", methods=["GET"], auth=ADMIN)
def list_users(req):
    members = identity.list_members(req.principal.network_id)
    return listing("users", [user_view(identity.get_user(m.user_id), m.role) for m in members])


class AuditQuery(Scoped):
    limit: Limit = 50
    cursor: Cursor | None = None
    action: Word | None = None


def audit_view(entry) -> dict:
    return {"id": entry.id, "action": entry.action, "outcome": entry.outcome,
            "status_code": entry.status_code,
            "user_id": entry.actor_id if entry.actor_type == "user" else None,
            "actor_type": entry.actor_type, "actor_id": entry.actor_id,
            "target_type": entry.target_type, "target_id": entry.target_id,
            "ip_address": entry.source_ip, "method": entry.method, "path": entry.route,
            "details": entry.details, "created_at": sql_time(entry.created_at)}


@router.route("/api/audit-log", auth=NETWORK_ADMIN, query=AuditQuery)
def audit_log(req):
    """The network's audit trail, newest first: owners and administrators only."""
    from chalicelib.services import audit
    principal = identity.scope_to_network(req.principal, req.params.network_id)
    if not principal.is_admin:
        raise Forbidden("only the network's owners and administrators can read its audit log")
    entries, cursor = audit.entries(principal.network_id, limit=req.params.limit,
                                    before=req.params.cursor, action=req.params.action)
    return listing("logs", [audit_view(e) for e in entries], next_cursor=cursor)
