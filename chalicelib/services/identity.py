"""Identity and tenancy: networks, users, memberships, credentials, and who a secret belongs to.

Rules that live here:
- a network is a tenant; every other item is keyed under one;
- users are global (one login, many networks) and act in a network through a membership;
- secrets are shown once, at creation, and stored only hashed;
- a user's roles are read from the membership on every request, so removing a member
  takes effect at once; other credentials carry the roles they were issued with.
"""
from __future__ import annotations

import re
import threading
import time

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.auth import secrets
from chalicelib.auth.principal import Principal
from chalicelib.clock import now_ms
from chalicelib.config import settings
from chalicelib.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from chalicelib.ids import short_id, ulid
from chalicelib.store.base import cancelled_by_condition, transaction
from chalicelib.store.identity import IdentityRecord as R

USERNAME_RE = re.compile(r"^\w{2,50}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 6
MEMBER_ROLES = ("owner", "admin", "member")
SYSTEM_ROLES = ("admin", "user")

# --------------------------------------------------------------------------- networks


def get_network(network_id: str) -> R:
    try:
        return R.get(f"NET#{network_id}", "NETWORK", consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"network {network_id} not found") from None


def create_network(owner_id: str | None, name: str, description: str | None = None,
                   network_id: str | None = None, visibility: str = "private",
                   max_members: int = 50) -> R:
    """A network; an owner's networks have distinct names (compared without case)."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name", "a network needs a name")
    network_id = network_id or short_id("net_")
    network = R(f"NET#{network_id}", "NETWORK", kind="network", network_id=network_id,
                name=name, description=description, owner_id=owner_id, visibility=visibility,
                max_members=max_members, created_at=now_ms())
    if owner_id:
        _refuse_duplicate_name(owner_id, name)
    try:
        with transaction() as tx:
            tx.save(network, condition=R.pk.does_not_exist())
            if owner_id:
                _add_membership(tx, network.network_id, owner_id, "owner")
                tx.save(_name_claim(owner_id, name, network_id), condition=R.pk.does_not_exist())
    except TransactWriteError as error:
        if owner_id and cancelled_by_condition(error):
            raise Conflict(f"you already have a network named {name!r}") from None
        raise
    return network


def _name_claim(owner_id: str, name: str, network_id: str | None = None) -> R:
    """Holds one of an owner's network names, written with the network in one transaction:
    two concurrent creates or renames to the same name cannot both succeed."""
    return R(f"USER#{owner_id}", f"NETNAME#{name.strip().casefold()}", network_id=network_id)


def _refuse_duplicate_name(owner_id: str, name: str, keep: str | None = None) -> None:
    """Also compare with networks made before names were claimed."""
    wanted = name.strip().casefold()
    for _, network in list_user_networks(owner_id):
        if network.owner_id == owner_id and network.network_id != keep and \
                (network.name or "").strip().casefold() == wanted:
            raise Conflict(f"you already have a network named {name.strip()!r}")


def update_network(principal: Principal, network_id: str, name: str | None,
                   description: str | None) -> R:
    network = get_network(network_id)
    _require_owner(principal, network)
    actions = [R.updated_at.set(now_ms())]
    renamed = None
    if name is not None:
        if not str(name).strip():
            raise ValidationFailed("network_name", "a network name cannot be empty")
        renamed = str(name).strip()
        actions.append(R.name.set(renamed))
    if description is not None:
        actions.append(R.description.set(str(description)))
    owner = network.owner_id
    if renamed is None or not owner or \
            renamed.casefold() == (network.name or "").strip().casefold():
        network.update(actions=actions)
        network.name = renamed or network.name
        return network
    _refuse_duplicate_name(owner, renamed, keep=network_id)
    try:
        with transaction() as tx:
            tx.update(network, actions=actions)
            tx.delete(_name_claim(owner, network.name or ""))
            tx.save(_name_claim(owner, renamed, network_id), condition=R.pk.does_not_exist())
    except TransactWriteError as error:
        if cancelled_by_condition(error):
            raise Conflict(f"you already have a network named {renamed!r}") from None
        raise
    network.name = renamed
    if description is not None:
        network.description = str(description)
    return network


def delete_network(principal: Principal, network_id: str) -> None:
    network = get_network(network_id)
    _require_owner(principal, network)
    if network_id == settings().default_network_id:
        raise Forbidden("the default network cannot be deleted")
    members = list_members(network_id)
    tokens = list(R.query(f"NET#{network_id}", R.sk.startswith("TOKEN#")))
    network.delete()
    if network.owner_id:
        _name_claim(network.owner_id, network.name or "").delete()
    for member in members:
        R(f"USER#{member.user_id}", f"NET#{network_id}").delete()
        member.delete()
    for token in tokens:
        _revoke(token)


def _require_owner(principal: Principal, network: R) -> None:
    _require_reach(principal, network.network_id)
    if principal.system_admin or principal.user_id == network.owner_id:
        return
    raise Forbidden("only the network's owner can do this")


def _require_reach(principal: Principal, network_id: str) -> None:
    """A credential issued for one network never acts in another."""
    if principal.network_bound and network_id != principal.network_id:
        raise Forbidden(f"this credential acts only in network {principal.network_id}")


# --------------------------------------------------------------------------- memberships


def _add_membership(tx, network_id: str, user_id: str, role: str) -> None:
    stamp = now_ms()
    tx.save(R(f"NET#{network_id}", f"MEMBER#{user_id}", kind="member", network_id=network_id,
              user_id=user_id, role=role, created_at=stamp))
    tx.save(R(f"USER#{user_id}", f"NET#{network_id}", kind="membership", network_id=network_id,
              user_id=user_id, role=role, created_at=stamp))


def add_member(network_id: str, user_id: str, role: str = "member") -> None:
    if role not in MEMBER_ROLES:
        raise ValidationFailed("role", f"role must be one of {', '.join(MEMBER_ROLES)}")
    get_network(network_id)
    with transaction() as tx:
        _add_membership(tx, network_id, user_id, role)


def membership(network_id: str, user_id: str) -> R | None:
    try:
        return R.get(f"NET#{network_id}", f"MEMBER#{user_id}", consistent_read=True)
    except DoesNotExist:
        return None


def list_members(network_id: str) -> list[R]:
    return list(R.query(f"NET#{network_id}", R.sk.startswith("MEMBER#"), consistent_read=True))


def list_user_networks(user_id: str) -> list[tuple[R, R]]:
    """(membership, network) pairs for every network the user belongs to."""
    memberships = list(R.query(f"USER#{user_id}", R.sk.startswith("NET#"), consistent_read=True))
    if not memberships:
        return []
    networks = {n.pk: n for n in R.batch_get([(m.sk, "NETWORK") for m in memberships])}
    return [(m, networks[m.sk]) for m in memberships if m.sk in networks]


def create_invite(principal: Principal, network_id: str, role: str = "member",
                  max_uses: int = 1) -> R:
    _require_reach(principal, network_id)
    if not principal.is_admin and principal.network_id != network_id:
        raise Forbidden("you are not a member of this network")
    if role not in ("member", "admin"):
        raise ValidationFailed("role", "role must be member or admin")
    if not isinstance(max_uses, int) or isinstance(max_uses, bool) or max_uses < 1:
        raise ValidationFailed("max_uses", "max_uses must be a positive integer")
    get_network(network_id)
    code = short_id("inv_", 12)
    invite = R(f"INVITE#{code}", "INVITE", kind="invite", network_id=network_id, role=role,
               max_uses=max_uses, uses=0, owner_id=principal.user_id, created_at=now_ms())
    invite.save(condition=R.pk.does_not_exist())
    return invite


def join(user_id: str, invite_code: str) -> R:
    try:
        invite = R.get(f"INVITE#{invite_code}", "INVITE", consistent_read=True)
    except DoesNotExist:
        raise NotFound("invite code not found") from None
    if membership(invite.network_id, user_id):
        raise Conflict("already a member of this network")
    try:
        with transaction() as tx:
            tx.update(invite, actions=[R.uses.add(1)], condition=R.uses < invite.max_uses)
            _add_membership(tx, invite.network_id, user_id, invite.role)
    except TransactWriteError as error:
        if cancelled_by_condition(error):
            raise Conflict("this invite code has been used up") from None
        raise
    return get_network(invite.network_id)


# --------------------------------------------------------------------------- users


def _login_key(login: str) -> str:
    return f"LOGIN#{login.strip().lower()}"


def validate_password(password, field: str = "password") -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationFailed(field, f"password must be at least {MIN_PASSWORD} characters")
    return password


def register_user(*, password: str, username: str | None = None, email: str | None = None,
                  display_name: str | None = None, role: str = "user") -> R:
    """A new global user. Username and email are both logins, unique across the deployment."""
    from chalicelib.auth.passwords import hash_password
    if username is not None and not USERNAME_RE.match(str(username)):
        raise ValidationFailed("username", "username must be 2-50 letters, digits or underscores")
    if email is not None and not EMAIL_RE.match(str(email)):
        raise ValidationFailed("email", "email is not a valid address")
    if username is None and email is None:
        raise ValidationFailed("username", "a username or an email is required")
    validate_password(password)
    user_id = short_id("u_")
    user = R(f"USER#{user_id}", "PROFILE", kind="user", user_id=user_id, username=username,
             email=email.lower() if email else None, role=role,
             display_name=display_name or username or email.split("@")[0],
             password_hash=hash_password(password), created_at=now_ms())
    logins = [x for x in (username, email) if x]
    try:
        with transaction() as tx:
            tx.save(user, condition=R.pk.does_not_exist())
            for login in logins:
                tx.save(R(_login_key(login), "LOGIN", kind="login", user_id=user_id),
                        condition=R.pk.does_not_exist())
    except TransactWriteError as error:
        if cancelled_by_condition(error):
            raise Conflict("username or email is already registered") from None
        raise
    return user


def enroll(network_id: str, *, username: str, password: str, email: str | None = None,
           display_name: str | None = None) -> tuple[R, str]:
    """A new user joining a network (CommHub registration); (user, their role). The first
    member after the bootstrap administrator administers the network."""
    first = len(list_members(network_id)) <= 1
    user = register_user(username=username, password=password, email=email,
                         display_name=display_name)
    role = "admin" if first else "member"
    add_member(network_id, user.user_id, role)
    return user, role


def sign_up(*, email: str, password: str, username: str | None = None,
            display_name: str | None = None) -> tuple[R, R]:
    """Self-service sign-up (platform): a new user with a new organisation (network) of
    their own — an open route must never grant access to someone else's data."""
    user = register_user(email=email, password=password, username=username,
                         display_name=display_name)
    network = create_network(user.user_id, f"{user.display_name}'s organisation")
    return user, network


def get_user(user_id: str) -> R:
    try:
        return R.get(f"USER#{user_id}", "PROFILE", consistent_read=True)
    except DoesNotExist:
        raise NotFound("user not found") from None


def find_login(login: str) -> R | None:
    try:
        pointer = R.get(_login_key(login), "LOGIN", consistent_read=True)
    except DoesNotExist:
        return None
    return get_user(pointer.user_id)


def authenticate(login: str, password: str) -> R:
    from chalicelib.auth.passwords import verify_password
    user = find_login(login or "") if login else None
    if user is None or not verify_password(user.password_hash, password or ""):
        raise Unauthorized("invalid username or password")
    return user


def update_profile(user_id: str, *, display_name=None, email=None, profile=None) -> R:
    user = get_user(user_id)
    actions = [R.updated_at.set(now_ms())]
    if display_name is not None:
        actions.append(R.display_name.set(str(display_name)))
    if profile is not None:
        actions.append(R.profile.set({**(user.profile or {}), **profile}))
    if email is not None and (email or "").lower() != (user.email or ""):
        if not EMAIL_RE.match(str(email)):
            raise ValidationFailed("email", "email is not a valid address")
        try:
            with transaction() as tx:
                tx.save(R(_login_key(email), "LOGIN", kind="login", user_id=user_id),
                        condition=R.pk.does_not_exist())
                if user.email:
                    tx.delete(R(_login_key(user.email), "LOGIN"))
                tx.update(user, actions=actions + [R.email.set(email.lower())])
        except TransactWriteError as error:
            if cancelled_by_condition(error):
                raise Conflict("email is already registered") from None
            raise
    else:
        user.update(actions=actions)
    return get_user(user_id)


def change_password(user_id: str, old_password: str, new_password: str) -> None:
    from chalicelib.auth.passwords import hash_password, verify_password
    user = get_user(user_id)
    if not verify_password(user.password_hash, old_password or ""):
        raise Forbidden("the current password is wrong")
    validate_password(new_password, "new_password")
    user.update(actions=[R.password_hash.set(hash_password(new_password)),
                         R.updated_at.set(now_ms())])


# --------------------------------------------------------------------------- credentials


def issue_credential(kind: str, network_id: str, *, user_id: str | None = None,
                     name: str | None = None, roles=(), secret: str | None = None,
                     ttl_s: int | None = None) -> tuple[R, str]:
    """Store a new credential (hashed) and its listing record; return both and the secret.

    The listing record sits under the user who owns the credential, or under the network
    for credentials no user owns (network tokens, the shared secret, the admin token).
    """
    secret = secret or secrets.generate(kind)
    token_id = ulid()
    stamp = now_ms()
    owner_pk = f"USER#{user_id}" if user_id else f"NET#{network_id}"
    fields = dict(kind=kind, network_id=network_id, user_id=user_id, token_id=token_id,
                  name=name, roles=set(roles) or None, created_at=stamp,
                  expires_at=stamp + ttl_s * 1000 if ttl_s else None)
    listing = R(owner_pk, f"TOKEN#{token_id}", secret_hash=secrets.digest(secret),
                prefix=secrets.display_prefix(secret), **fields)
    credential = R(f"CRED#{listing.secret_hash}", "CRED", **fields)
    try:
        with transaction() as tx:
            tx.save(credential, condition=R.pk.does_not_exist())
            tx.save(listing)
    except TransactWriteError as error:
        if cancelled_by_condition(error):
            raise Conflict("this secret is already in use") from None
        raise
    return listing, secret


def ensure_credential(kind: str, network_id: str, secret: str, *, name: str, roles=()) -> bool:
    """Make a configured secret (bootstrap values) valid; True when it was new."""
    try:
        R.get(f"CRED#{secrets.digest(secret)}", "CRED", consistent_read=True)
        return False
    except DoesNotExist:
        issue_credential(kind, network_id, name=name, roles=roles, secret=secret)
        return True


def list_tokens(principal: Principal, kinds: tuple[str, ...]) -> list[R]:
    owner_pk = f"USER#{principal.user_id}" if principal.user_id else f"NET#{principal.network_id}"
    records = R.query(owner_pk, R.sk.startswith("TOKEN#"), consistent_read=True)
    return [r for r in records if r.kind in kinds]


def revoke_token(principal: Principal, token_id: str, kinds: tuple[str, ...]) -> None:
    owner_pk = f"USER#{principal.user_id}" if principal.user_id else f"NET#{principal.network_id}"
    try:
        record = R.get(owner_pk, f"TOKEN#{token_id}", consistent_read=True)
    except DoesNotExist:
        raise NotFound("token not found") from None
    if record.kind not in kinds:
        raise NotFound("token not found")
    _revoke(record)


def _revoke(record: R) -> None:
    with transaction() as tx:
        tx.delete(R(f"CRED#{record.secret_hash}", "CRED"))
        tx.delete(record)
    _cache.forget(record.secret_hash)


class _CredentialCache:
    """Credential lookups cached per container for a few seconds.

    Every request resolves a credential; most repeat. Revocation in this container
    forgets at once; other containers see it within TTL seconds.
    """
    TTL_S = 10.0

    def __init__(self):
        self._items: dict[str, tuple[float, R]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> R | None:
        entry = self._items.get(digest)
        if entry and entry[0] > time.monotonic():
            return entry[1]
        return None

    def put(self, digest: str, record: R) -> None:
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[digest] = (time.monotonic() + self.TTL_S, record)

    def forget(self, digest: str) -> None:
        with self._lock:
            self._items.pop(digest, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache = _CredentialCache()


def _principal_for_user(user_id: str, network_id: str, kind: str, account_id: str,
                        token_id: str | None) -> Principal:
    member, user = _member_or_admin(user_id, network_id)
    return Principal(network_id=network_id, kind=kind, account_id=account_id, user_id=user_id,
                     token_id=token_id, roles=frozenset({member.role}) if member else frozenset(),
                     system_admin=user.role == "admin")


def _member_or_admin(user_id: str, network_id: str) -> tuple[R | None, R]:
    """(membership, user) of a user acting in a network: a member, or a system administrator."""
    member = membership(network_id, user_id)
    user = get_user(user_id)
    if member is None and user.role != "admin":
        raise Forbidden("you are not a member of this network")
    return member, user


def resolve_secret(secret: str) -> Principal:
    """The principal a presented secret stands for, or Unauthorized."""
    if secrets.looks_like_jwt(secret):
        return _resolve_access_token(secret)
    digest = secrets.digest(secret)
    record = _cache.get(digest)
    if record is None:
        try:
            record = R.get(f"CRED#{digest}", "CRED")
        except DoesNotExist:
            raise Unauthorized("invalid credentials") from None
        _cache.put(digest, record)
    if record.expires_at and record.expires_at < now_ms():
        raise Unauthorized("credentials expired")
    if record.kind == "refresh_token":
        raise Unauthorized("a refresh token cannot authorize requests")
    if record.kind == "user_token":
        return _principal_for_user(record.user_id, record.network_id, "user",
                                   f"user:{record.user_id}", record.token_id)
    if record.user_id and record.kind != "network_token":
        # a user's API key: the user's current roles, the key's own account and network
        return _principal_for_user(record.user_id, record.network_id, record.kind,
                                   f"{record.kind}:{record.token_id}", record.token_id)
    if record.user_id:
        # A network token a member made acts for the network, as what it was issued as
        # (never as its creator, who may reach other networks), while the member belongs.
        _member_or_admin(record.user_id, record.network_id)
    roles = frozenset(record.roles or ())
    return Principal(network_id=record.network_id, kind=record.kind,
                     account_id=f"{record.kind}:{record.token_id}", user_id=None,
                     token_id=record.token_id, roles=roles - {"system_admin"},
                     system_admin="system_admin" in roles)


def scope_to_network(principal: Principal, network_id: str | None) -> Principal:
    """The same caller acting in another of its networks (CommHub's `network_id` parameter).
    Only a user's own credentials move between networks; network-bound ones never do."""
    if not network_id or network_id == principal.network_id:
        return principal
    _require_reach(principal, network_id)
    if principal.user_id:
        return _principal_for_user(principal.user_id, network_id, principal.kind,
                                   principal.account_id, principal.token_id)
    raise NotFound(f"network {network_id} not found")


# --------------------------------------------------------------------------- sessions (login)


def start_session(user: R, network_id: str | None = None) -> dict:
    """Log in: a short-lived JWT access token and a refresh token naming the session."""
    network_id = network_id or default_network_for(user.user_id)
    session, refresh = issue_credential("refresh_token", network_id, user_id=user.user_id,
                                        name="session", ttl_s=30 * 24 * 3600)
    ttl = settings().access_token_ttl_s
    access = secrets.sign_jwt({"sub": user.user_id, "net": network_id, "sid": session.token_id,
                               "typ": "access"}, ttl)
    return {"access_token": access, "refresh_token": refresh, "token_type": "bearer",
            "expires_in": ttl, "network_id": network_id}


def refresh_session(refresh_token: str) -> dict:
    try:
        record = R.get(f"CRED#{secrets.digest(refresh_token or '')}", "CRED", consistent_read=True)
    except DoesNotExist:
        raise Unauthorized("invalid refresh token") from None
    if record.kind != "refresh_token" or (record.expires_at or 0) < now_ms():
        raise Unauthorized("invalid refresh token")
    ttl = settings().access_token_ttl_s
    access = secrets.sign_jwt({"sub": record.user_id, "net": record.network_id,
                               "sid": record.token_id, "typ": "access"}, ttl)
    return {"access_token": access, "refresh_token": refresh_token, "token_type": "bearer",
            "expires_in": ttl, "network_id": record.network_id}


def end_session(principal: Principal) -> None:
    if principal.kind == "user" and principal.token_id and principal.user_id:
        try:
            record = R.get(f"USER#{principal.user_id}", f"TOKEN#{principal.token_id}")
        except DoesNotExist:
            return
        _revoke(record)


def _resolve_access_token(token: str) -> Principal:
    claims = secrets.verify_jwt(token)
    if claims.get("typ") != "access":
        raise Unauthorized("not an access token")
    try:
        R.get(f"USER#{claims['sub']}", f"TOKEN#{claims['sid']}")
    except (DoesNotExist, KeyError):
        raise Unauthorized("session has ended") from None
    return _principal_for_user(claims["sub"], claims["net"], "user", f"user:{claims['sub']}",
                               claims["sid"])


def default_network_for(user_id: str) -> str:
    pairs = list_user_networks(user_id)
    if not pairs:
        return settings().default_network_id
    owned = [n for m, n in pairs if m.role == "owner"]
    return (owned or [pairs[0][1]])[0].network_id


# --------------------------------------------------------------------------- bootstrap


def bootstrap(*, admin_email: str, admin_password: str | None, shared_secret: str | None,
              admin_token: str | None) -> dict:
    """Create the default network and its admin on first start; idempotent afterwards.

    Values the operator configured are made valid on every start. Values left unset are
    generated only on the first start, and returned so the caller can print them once.
    """
    network_id = settings().default_network_id
    generated: dict[str, str] = {}
    try:
        network = get_network(network_id)
    except NotFound:
        try:
            network = create_network(None, "default", "Bootstrap network", network_id=network_id)
        except TransactWriteError:
            network = get_network(network_id)
    first_start = network.owner_id is None

    admin = find_login(admin_email)
    if admin is None:
        password = admin_password or secrets.generate("admin_token")[4:28]
        if not admin_password:
            generated["admin_password"] = password
        admin = register_user(username="admin" if find_login("admin") is None else None,
                              email=admin_email, password=password, display_name="Administrator",
                              role="admin")
    if not membership(network_id, admin.user_id):
        add_member(network_id, admin.user_id, "owner")
    if network.owner_id is None:
        try:
            network.update(actions=[R.owner_id.set(admin.user_id)],
                           condition=R.owner_id.does_not_exist())
        except Exception:  # another instance claimed ownership first; nothing to do
            pass

    admin_roles = ("admin", "owner", "system_admin")
    if admin_token:
        ensure_credential("admin_token", network_id, admin_token, name="bootstrap admin token",
                          roles=admin_roles)
    elif first_start:
        _, generated["admin_token"] = issue_credential("admin_token", network_id,
                                                       name="bootstrap admin token",
                                                       roles=admin_roles)
    if shared_secret:
        ensure_credential("shared_secret", network_id, shared_secret, name="shared secret",
                          roles=("member",))
    elif first_start:
        _, generated["shared_secret"] = issue_credential("shared_secret", network_id,
                                                         name="shared secret", roles=("member",))
    return {"network_id": network_id, "admin_email": admin_email, "generated": generated,
            "first_start": first_start}

