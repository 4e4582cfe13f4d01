"""Platform /api/v1/auth, /security/api-keys and /admin/users: translation only."""
from chalice import Response

from chalicelib.api.platform import router
from chalicelib.api.routing import ADMIN, PUBLIC
from chalicelib.clock import iso
from chalicelib.errors import Forbidden, require
from chalicelib.services import identity

API_KEY_KINDS = ("api_key",)


def user_view(user) -> dict:
    return {"id": user.user_id, "email": user.email, "username": user.username,
            "full_name": user.display_name, "role": user.role, "is_active": True,
            "mfa_enabled": False, "created_at": iso(user.created_at)}


def _user_of(req):
    if not req.principal.user_id:
        raise Forbidden("this credential does not belong to a user")
    return identity.get_user(req.principal.user_id)


@router.route("/api/v1/auth/login", methods=["POST"], auth=PUBLIC)
def login(req):
    # OAuth2 password forms send `username`; the platform's own UI sends `email`.
    login_name = req.arg("email") or req.arg("username")
    user = identity.authenticate(require(login_name, "email"), require(req.arg("password"), "password"))
    return {**identity.start_session(user), "user": user_view(user)}


@router.route("/api/v1/auth/register", methods=["POST"], auth=PUBLIC)
def register(req):
    user, network = identity.sign_up(email=require(req.arg("email"), "email"),
                                     password=require(req.arg("password"), "password"),
                                     username=req.arg("username"),
                                     display_name=req.arg("full_name"))
    session = identity.start_session(user, network.network_id)
    return Response(body={**user_view(user), **session, "user": user_view(user)}, status_code=201)


@router.route("/api/v1/auth/refresh", methods=["POST"], auth=PUBLIC)
def refresh(req):
    return identity.refresh_session(require(req.arg("refresh_token"), "refresh_token"))


@router.route("/api/v1/auth/me", methods=["GET"])
def me(req):
    return user_view(_user_of(req))


@router.route("/api/v1/auth/me", methods=["PUT"])
def update_me(req):
    user = _user_of(req)
    body = req.json
    return user_view(identity.update_profile(user.user_id, display_name=body.get("full_name"),
                                             email=body.get("email")))


@router.route("/api/v1/auth/change-password", methods=["POST"])
def change_password(req):
    user = _user_of(req)
    old = req.arg("current_password") or req.arg("old_password")
    identity.change_password(user.user_id, require(old, "current_password"),
                             require(req.arg("new_password"), "new_password"))
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


@router.route("/api/v1/security/api-keys", methods=["POST"])
def create_api_key(req):
    principal = req.principal
    # A key acts as its creator: a user's key takes the user's roles at each use; a key
    # made with a non-user credential carries that credential's roles.
    roles = () if principal.user_id else principal.roles | (
        {"system_admin"} if principal.system_admin else set())
    record, key = identity.issue_credential("api_key", principal.network_id,
                                            user_id=principal.user_id,
                                            name=req.arg("name") or "api key", roles=roles)
    return Response(body=api_key_view(record, key), status_code=201)


@router.route("/api/v1/security/api-keys/{key_id}", methods=["DELETE"])
def revoke_api_key(req, key_id):
    identity.revoke_token(req.principal, key_id, API_KEY_KINDS)
    return {"message": "API key revoked"}


@router.route("/api/v1/admin/users", methods=["GET"], auth=ADMIN)
def admin_list_users(req):
    members = identity.list_members(req.principal.network_id)
    return [{**user_view(identity.get_user(m.user_id)), "network_role": m.role} for m in members]


@router.route("/api/v1/admin/users", methods=["POST"], auth=ADMIN)
def admin_create_user(req):
    # `role: admin` makes an administrator of this organisation, never a system administrator.
    user = identity.register_user(email=require(req.arg("email"), "email"),
                                  password=require(req.arg("password"), "password"),
                                  display_name=req.arg("full_name"))
    identity.add_member(req.principal.network_id, user.user_id,
                        "admin" if req.arg("role") == "admin" else "member")
    return Response(body=user_view(user), status_code=201)
