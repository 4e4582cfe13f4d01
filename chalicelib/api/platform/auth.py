"""Platform /api/v1/auth, /security/api-keys and /admin/users: translation only.

(The people services that only some routes use are imported in those routes: each module
is paid for at cold start.)"""
from typing import Literal

from chalice import Response

from chalicelib.api.inputs import Email, Input, Line, Name, Secret, Timestamp
from chalicelib.api.platform import router
from chalicelib.api.routing import ADMIN, PUBLIC
from chalicelib.clock import iso, parse_time
from chalicelib.errors import Forbidden, require
from chalicelib.services import identity
from chalicelib.services.people import sessions

Scope = Literal["read", "write", "admin"]


class Login(Input):
    """`email` from the platform's UI; `username` from OAuth2 password forms. A user with
    MFA may send the code here too (`totp_code`), or in the second step."""
    password: Secret
    email: Email | None = None
    username: Email | None = None
    totp_code: Secret | None = None


class MfaLogin(Input):
    """The login's second step: the temporary token and a TOTP or recovery code."""
    temp_token: Secret
    totp_code: Secret | None = None
    code: Secret | None = None
    recovery_code: Secret | None = None


class Register(Input):
    email: Email
    password: Secret
    username: Name | None = None
    full_name: Line | None = None


class Refresh(Input):
    refresh_token: Secret


class Profile(Input):
    """A new `email` needs `current_password` (or `old_password`, as change-password)."""
    full_name: Line | None = None
    email: Email | None = None
    current_password: Secret | None = None
    old_password: Secret | None = None


class ChangePassword(Input):
    """`current_password` (the platform's name) or `old_password`."""
    new_password: Secret
    current_password: Secret | None = None
    old_password: Secret | None = None


class MfaCode(Input):
    code: Secret | None = None
    totp_code: Secret | None = None


class MfaOff(Input):
    password: Secret
    code: Secret | None = None
    totp_code: Secret | None = None


class NewApiKey(Input):
    """No `scopes`: the key acts with its creator's role; with them, no more than they say."""
    name: Name | None = None
    scopes: list[Scope] | None = None
    expires_at: Timestamp | None = None


class NewUser(Input):
    """`role: admin` makes an administrator of this organisation; any other role a member."""
    email: Email
    password: Secret
    full_name: Line | None = None
    role: Literal["admin", "operator", "viewer", "member", "user"] | None = None


def user_view(user) -> dict:
    return {"id": user.user_id, "email": user.email, "username": user.username,
            "full_name": user.display_name, "role": user.role, "is_active": True,
            "mfa_enabled": bool(user.mfa_enabled), "created_at": iso(user.created_at)}


def _user_of(req):
    if not req.principal.user_id:
        raise Forbidden("this credential does not belong to a user")
    return identity.get_user(req.principal.user_id)


def _session(req, done) -> dict:
    """Tokens for a login (services/people/login.Login)."""
    session = sessions.start_session(done.user, config=done.config, source_ip=req.source_ip,
                                     user_agent=req.user_agent, scopes=done.scopes)
    if done.scopes:
        session["mfa_setup_required"] = True
    return {**session, "user": user_view(done.user)}


@router.route("/api/v1/auth/login", methods=["POST"], auth=PUBLIC, body=Login, audit="login")
def login(req):
    from chalicelib.services.people import login as logins
    body = req.body
    outcome = logins.password_login(require(body.email or body.username, "email"),
                                    body.password, code=body.totp_code, source_ip=req.source_ip)
    if isinstance(outcome, logins.Challenge):
        # The peer's shape: no tokens until the second step (POST /auth/verify-mfa).
        return {"mfa_required": True, "temp_token": outcome.temp_token,
                "token_type": "mfa", "expires_in": outcome.expires_in}
    return _session(req, outcome)


@router.route("/api/v1/auth/verify-mfa", methods=["POST"], auth=PUBLIC, body=MfaLogin,
              audit="login.mfa")
def verify_mfa(req):
    from chalicelib.services.people import login as logins
    body = req.body
    code = require(body.totp_code or body.code or body.recovery_code, "totp_code")
    return _session(req, logins.second_step(body.temp_token, code, source_ip=req.source_ip))


@router.route("/api/v1/auth/register", methods=["POST"], auth=PUBLIC, body=Register,
              audit="register")
def register(req):
    body = req.body
    user, network = identity.sign_up(email=body.email, password=body.password,
                                     username=body.username, display_name=body.full_name)
    session = sessions.start_session(user, network.network_id, source_ip=req.source_ip,
                                     user_agent=req.user_agent)
    return Response(body={**user_view(user), **session, "user": user_view(user)}, status_code=201)


@router.route("/api/v1/auth/refresh", methods=["POST"], auth=PUBLIC, body=Refresh,
              audit="session.refresh")
def refresh(req):
    return sessions.refresh_session(req.body.refresh_token)


@router.route("/api/v1/auth/me", methods=["GET"])
def me(req):
    return user_view(_user_of(req))


@router.route("/api/v1/auth/me", methods=["PUT"], body=Profile, audit="profile.update")
def update_me(req):
    user, body = _user_of(req), req.body
    return user_view(identity.update_profile(
        user.user_id, display_name=body.full_name, email=body.email,
        current_password=body.current_password or body.old_password, source_ip=req.source_ip))


@router.route("/api/v1/auth/change-password", methods=["POST"], body=ChangePassword,
              audit="password.change")
def change_password(req):
    user, body = _user_of(req), req.body
    ended = identity.change_password(
        user.user_id, require(body.current_password or body.old_password, "current_password"),
        body.new_password, keep_token=req.principal.token_id, source_ip=req.source_ip)
    return {"detail": "Password changed successfully", "message": "Password changed",
            "sessions_ended": ended}


@router.route("/api/v1/auth/logout", methods=["POST"], audit="logout")
def logout(req):
    identity.end_session(req.principal)
    return {"message": "Logged out"}


# --------------------------------------------------------------------------- MFA


@router.route("/api/v1/auth/mfa/setup", methods=["POST"], audit="mfa.setup")
def mfa_setup(req):
    from chalicelib.services.people import mfa
    return mfa.setup(_user_of(req))


@router.route("/api/v1/auth/mfa/verify", methods=["POST"], body=MfaCode, audit="mfa.enable")
def mfa_verify(req):
    from chalicelib.services.people import mfa
    code = require(req.body.code or req.body.totp_code, "code")
    codes = mfa.activate(_user_of(req), code)
    return {"mfa_enabled": True, "recovery_codes": codes,
            "message": "MFA is on. Keep the recovery codes somewhere safe: each works once, "
                       "and they are not shown again."}


@router.route("/api/v1/auth/mfa/disable", methods=["POST"], body=MfaOff, audit="mfa.disable")
def mfa_disable(req):
    from chalicelib.services.people import mfa
    body = req.body
    mfa.disable(_user_of(req), body.password, require(body.code or body.totp_code, "code"),
                source_ip=req.source_ip)
    return {"mfa_enabled": False, "message": "MFA is off"}


# --------------------------------------------------------------------------- API keys


def api_key_view(record, key: str | None = None) -> dict:
    view = {"id": record.token_id, "name": record.name, "prefix": record.prefix,
            "key_prefix": record.prefix, "scopes": sorted(record.scopes) if record.scopes else None,
            "created_at": iso(record.created_at), "expires_at": iso(record.expires_at),
            "last_used_at": iso(record.last_used_at)}
    if key:
        view["key"] = key  # shown once, at creation
        view["message"] = "Store this key now: it is not shown again."
    return view


@router.route("/api/v1/security/api-keys", methods=["GET"])
def list_api_keys(req):
    from chalicelib.services.people import api_keys
    return [api_key_view(r) for r in api_keys.list_keys(req.principal)]


@router.route("/api/v1/security/api-keys", methods=["POST"], body=NewApiKey,
              audit="api_key.create")
def create_api_key(req):
    from chalicelib.services.people import api_keys
    body = req.body
    record, key = api_keys.create(req.principal, name=body.name or "Unnamed Key",
                                  scopes=body.scopes, expires_at=parse_time(body.expires_at))
    return Response(body=api_key_view(record, key), status_code=201)


@router.route("/api/v1/security/api-keys/{key_id}", methods=["DELETE"], audit="api_key.revoke")
def revoke_api_key(req, key_id):
    from chalicelib.services.people import api_keys
    api_keys.revoke(req.principal, key_id)
    return {"message": "API key revoked"}


# --------------------------------------------------------------------------- users


@router.route("/api/v1/admin/users", methods=["GET"], auth=ADMIN)
def admin_list_users(req):
    members = identity.list_members(req.principal.network_id)
    return [{**user_view(identity.get_user(m.user_id)), "network_role": m.role} for m in members]


@router.route("/api/v1/admin/users", methods=["POST"], auth=ADMIN, body=NewUser,
              audit="user.create")
def admin_create_user(req):
    # `role: admin` makes an administrator of this organisation, never a system administrator.
    body = req.body
    user = identity.add_to_network(req.principal.network_id, email=body.email,
                                   password=body.password, display_name=body.full_name,
                                   role="admin" if body.role == "admin" else "member")
    return Response(body=user_view(user), status_code=201)
