"""Platform /api/v1/auth, /security/api-keys and /admin/users: translation only."""
from typing import Literal

from chalice import Response

from chalicelib.api.inputs import Email, Input, Line, Name, Secret
from chalicelib.api.platform import router
from chalicelib.api.routing import ADMIN, PUBLIC
from chalicelib.clock import iso
from chalicelib.errors import Forbidden, require
from chalicelib.services import identity

API_KEY_KINDS = ("api_key",)


class Login(Input):
    """`email` from the platform's UI; `username` from OAuth2 password forms."""
    password: Secret
    email: Email | None = None
    username: Email | None = None


class Register(Input):
    email: Email
    password: Secret
    username: Name | None = None
    full_name: Line | None = None


class Refresh(Input):
    refresh_token: Secret


class Profile(Input):
    full_name: Line | None = None
    email: Email | None = None


class ChangePassword(Input):
    """`current_password` (the platform's name) or `old_password`."""
    new_password: Secret
    current_password: Secret | None = None
    old_password: Secret | None = None


class NewApiKey(Input):
    name: Name | None = None


class NewUser(Input):
    """`role: admin` makes an administrator of this organisation; any other role a member."""
    email: Email
    password: Secret
    full_name: Line | None = None
    role: Literal["admin", "operator", "viewer", "member", "user"] | None = None


def user_view(user) -> dict:
    return {"id": user.user_id, "email": user.email, "username": user.username,
            "full_name": user.display_name, "role": user.role, "is_active": True,
            "mfa_enabled": False, "created_at": iso(user.created_at)}


def _user_of(req):
    if not req.principal.user_id:
        raise Forbidden("this credential does not belong to a user")
    return identity.get_user(req.principal.user_id)


@router.route("/api/v1/auth/login", methods=["POST"], auth=PUBLIC, body=Login)
def login(req):
    body = req.body
    user = identity.authenticate(require(body.email or body.username, "email"), body.password)
    return {**identity.start_session(user), "user": user_view(user)}


@router.route("/api/v1/auth/register", methods=["POST"], auth=PUBLIC, body=Register)
def register(req):
    body = req.body
    user, network = identity.sign_up(email=body.email, password=body.password,
                                     username=body.username, display_name=body.full_name)
    session = identity.start_session(user, network.network_id)
    return Response(body={**user_view(user), **session, "user": user_view(user)}, status_code=201)


@router.route("/api/v1/auth/refresh", methods=["POST"], auth=PUBLIC, body=Refresh)
def refresh(req):
    return identity.refresh_session(req.body.refresh_token)


@router.route("/api/v1/auth/me", methods=["GET"])
def me(req):
    return user_view(_user_of(req))


@router.route("/api/v1/auth/me", methods=["PUT"], body=Profile)
def update_me(req):
    user = _user_of(req)
    return user_view(identity.update_profile(user.user_id, display_name=req.body.full_name,
                                             email=req.body.email))


@router.route("/api/v1/auth/change-password", methods=["POST"], body=ChangePassword)
def change_password(req):
    user, body = _user_of(req), req.body
    identity.change_password(user.user_id,
                             require(body.current_password or body.old_password, "current_password"),
                             body.new_password)
    return {"message": "Password changed"}


@router.route("/api/v1/auth/logout", methods=["POST"])
def logout(req):
    identity.end_session(req.principal)
    return {"message": "Logged out"}


def api_key_view(record, key: str | None = None) -> dict:
    view = {"id": record.token_id, "name": record.name, "prefix": record.prefix,
            "created_at": iso(record.created_at), "expires_at": iso(record.expires_at)}
    if key:
        view["key"] = key  # shown once, at creation
    return view


@router.route("/api/v1/security/api-keys", methods=["GET"])
def list_api_keys(req):
    return [api_key_view(r) for r in identity.list_tokens(req.principal, API_KEY_KINDS)]


@router.route("/api/v1/security/api-keys", methods=["POST"], body=NewApiKey)
def create_api_key(req):
    principal = req.principal
    # A key acts as its creator: a user's key takes the user's roles at each use; a key
    # made with a non-user credential carries that credential's roles.
    roles = () if principal.user_id else principal.roles | (
        {"system_admin"} if principal.system_admin else set())
    record, key = identity.issue_credential("api_key", principal.network_id,
                                            user_id=principal.user_id,
                                            name=req.body.name or "api key", roles=roles)
    return Response(body=api_key_view(record, key), status_code=201)


@router.route("/api/v1/security/api-keys/{key_id}", methods=["DELETE"])
def revoke_api_key(req, key_id):
    identity.revoke_token(req.principal, key_id, API_KEY_KINDS)
    return {"message": "API key revoked"}


@router.route("/api/v1/admin/users", methods=["GET"], auth=ADMIN)
def admin_list_users(req):
    members = identity.list_members(req.principal.network_id)
    return [{**user_view(identity.get_user(m.user_id)), "network_role": m.role} for m in members]


@router.route("/api/v1/admin/users", methods=["POST"], auth=ADMIN, body=NewUser)
def admin_create_user(req):
    # `role: admin` makes an administrator of this organisation, never a system administrator.
    body = req.body
    user = identity.register_user(email=body.email, password=body.password,
                                  display_name=body.full_name)
    identity.add_member(req.principal.network_id, user.user_id,
                        "admin" if body.role == "admin" else "member")
    return Response(body=user_view(user), status_code=201)
