"""Credentials and who a presented secret belongs to.

- secrets are shown once, at creation, and stored only as keyed hashes;
- a user's roles are read from the membership on every request, so removing a member
  takes effect at once; other credentials carry the roles they were issued with;
- user sessions and API keys are read from the table on every request, so revoking one
  takes effect at once everywhere; network tokens and bootstrap secrets, which agents
  present many times a second, are cached per container for a few seconds;
- a credential's last use is stamped at most once a minute.
"""
from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib import logs
from chalicelib.auth import secrets
from chalicelib.auth.principal import Principal
from chalicelib.caching import TtlCache
from chalicelib.clock import now_ms
from chalicelib.errors import Conflict, Forbidden, NotFound, Unauthorized
from chalicelib.ids import ulid
from chalicelib.services.people import networks
from chalicelib.store.base import cancelled_by_condition, transaction
from chalicelib.store.identity import IdentityRecord as R

log = logs.get("credentials")
# A login's credential: listed and ended as a session (platform refresh tokens, CommHub
# login tokens), with a pointer under its network for administrators.
SESSION_KINDS = ("refresh_token", "user_token")
# Presented by agents many times a second, revoked rarely: cached (see _cache).
CACHED_KINDS = ("network_token", "shared_secret", "admin_token")
# A refresh token already exchanged for its successor: its hash item stays, renamed, until
# the session would have expired, so that a replay of it is recognised (sessions.py).
ROTATED = "rotated_refresh_token"
# Never authorize a request by themselves.
NOT_FOR_REQUESTS = ("refresh_token", "mfa_challenge", ROTATED)
TOUCH_EVERY_MS = 60_000
# An expired credential is purged by the table's TTL a day later (a day of "expired"
# answers rather than "invalid"; DynamoDB deletes within days anyway).
PURGE_AFTER_S = 86_400


def owner_pk(user_id: str | None, network_id: str) -> str:
    return f"USER#{user_id}" if user_id else f"NET#{network_id}"


def issue_credential(kind: str, network_id: str, *, user_id: str | None = None,
                     name: str | None = None, roles=(), secret: str | None = None,
                     ttl_s: int | None = None, scopes=None, source_ip: str | None = None,
                     user_agent: str | None = None, idle_s: int | None = None) -> tuple[R, str]:
    """Store a new credential (hashed) and its listing record; return both and the secret.

    The listing record sits under the user who owns the credential, or under the network
    for credentials no user owns (network tokens, the shared secret, the admin token).
    """
    secret = secret or secrets.generate(kind)
    token_id = ulid()
    stamp = now_ms()
    fields = dict(kind=kind, network_id=network_id, user_id=user_id, token_id=token_id,
                  name=name, roles=set(roles) or None, created_at=stamp,
                  expires_at=stamp + ttl_s * 1000 if ttl_s else None,
                  scopes=set(scopes) if scopes is not None else None, source_ip=source_ip,
                  user_agent=(user_agent or "")[:500] or None, idle_s=idle_s,
                  purge_at=stamp // 1000 + ttl_s + PURGE_AFTER_S if ttl_s else None)
    listing = R(owner_pk(user_id, network_id), f"TOKEN#{token_id}",
                secret_hash=secrets.digest(secret), prefix=secrets.display_prefix(secret), **fields)
    credential = R(f"CRED#{listing.secret_hash}", "CRED", **fields)
    try:
        with transaction() as tx:
            tx.save(credential, condition=R.pk.does_not_exist())
            tx.save(listing)
            if kind in SESSION_KINDS:
                tx.save(R(f"NET#{network_id}", f"SESSION#{token_id}", kind="session_pointer",
                          user_id=user_id, token_id=token_id, network_id=network_id,
                          created_at=stamp, expires_at=fields["expires_at"],
                          purge_at=fields["purge_at"]))
    except TransactWriteError as error:
        if cancelled_by_condition(error):
            raise Conflict("this secret is already in use") from None
        raise
    return listing, secret


def rotate(record: R, listing: R) -> tuple[R, str]:
    """Replace a session's secret by a new one under the same session id; return the new
    hash item and secret. One transaction, conditioned on the presented secret's item being
    live and on the listing still naming it: of two rotations of one secret, or a rotation
    racing the session's end, only one wins (Conflict for the other). The old item becomes
    a ROTATED tombstone (hash only, purged with the session)."""
    secret = secrets.generate(record.kind)
    stamp = now_ms()
    fields = {k: v for k, v in record.attribute_values.items() if k not in ("pk", "sk")}
    successor = R(f"CRED#{secrets.digest(secret)}", "CRED", **{**fields, "last_used_at": stamp})
    try:
        with transaction() as tx:
            tx.update(R(record.pk, record.sk), actions=[R.kind.set(ROTATED)],
                      condition=R.kind == record.kind)
            tx.save(successor, condition=R.pk.does_not_exist())
            tx.update(R(listing.pk, listing.sk),
                      actions=[R.secret_hash.set(successor.pk.split("#", 1)[1]),
                               R.prefix.set(secrets.display_prefix(secret)),
                               R.last_used_at.set(stamp)],
                      condition=R.secret_hash == record.pk.split("#", 1)[1])
    except TransactWriteError as error:
        if cancelled_by_condition(error):
            raise Conflict("this secret was rotated or revoked meanwhile") from None
        raise
    return successor, secret


def ensure_credential(kind: str, network_id: str, secret: str, *, name: str, roles=()) -> bool:
    """Make a configured secret (bootstrap values) valid; True when it was new."""
    try:
        R.get(f"CRED#{secrets.digest(secret)}", "CRED", consistent_read=True)
        return False
    except DoesNotExist:
        issue_credential(kind, network_id, name=name, roles=roles, secret=secret)
        return True


def list_tokens(principal: Principal, kinds: tuple[str, ...]) -> list[R]:
    records = R.query(owner_pk(principal.user_id, principal.network_id),
                      R.sk.startswith("TOKEN#"), consistent_read=True)
    now = now_ms()
    return [r for r in records if r.kind in kinds and not (r.expires_at and r.expires_at < now)]


def find_token(principal: Principal, token_id: str, kinds: tuple[str, ...]) -> R:
    try:
        record = R.get(owner_pk(principal.user_id, principal.network_id), f"TOKEN#{token_id}",
                       consistent_read=True)
    except DoesNotExist:
        raise NotFound("token not found") from None
    if record.kind not in kinds:
        raise NotFound("token not found")
    return record


def revoke_token(principal: Principal, token_id: str, kinds: tuple[str, ...]) -> None:
    revoke_record(find_token(principal, token_id, kinds))


def revoke_record(record: R) -> None:
    """End a credential: its hash (what requests present), its listing, its session pointer."""
    with transaction() as tx:
        tx.delete(R(f"CRED#{record.secret_hash}", "CRED"))
        tx.delete(R(record.pk, record.sk))
        if record.kind in SESSION_KINDS:
            tx.delete(R(f"NET#{record.network_id}", f"SESSION#{record.token_id}"))
    _cache.forget(record.secret_hash)


def touch(*records: R) -> None:
    """Stamp a credential's last use (at most once a minute): its hash item and listing.
    Never fails the request: a lost stamp only makes `last_used_at` a minute older."""
    now = now_ms()
    if now - (records[0].last_used_at or 0) < TOUCH_EVERY_MS:
        return
    try:
        with transaction() as tx:
            for record in records:
                tx.update(R(record.pk, record.sk), actions=[R.last_used_at.set(now)],
                          condition=R.pk.exists())
        for record in records:
            record.last_used_at = now
    except Exception:  # revoked meanwhile, or throttled: the request goes on
        log.info("last use not stamped", extra={"token_id": records[0].token_id})


def listing_of(record: R) -> R:
    """The listing record (unsaved, keys and what revoking needs) of a credential's hash item."""
    return R(owner_pk(record.user_id, record.network_id), f"TOKEN#{record.token_id}",
             kind=record.kind, network_id=record.network_id, user_id=record.user_id,
             token_id=record.token_id, secret_hash=record.pk.split("#", 1)[1],
             last_used_at=record.last_used_at)


# Credential lookups (CACHED_KINDS only), per container for a few seconds: revocation in
# this container forgets at once; other containers see it within the TTL.
_cache = TtlCache(ttl_s=10.0)


def principal_for_user(user_id: str, network_id: str, kind: str, account_id: str,
                       token_id: str | None, scopes: frozenset | None = None) -> Principal:
    member, user = _member_or_admin(user_id, network_id)
    return Principal(network_id=network_id, kind=kind, account_id=account_id, user_id=user_id,
                     token_id=token_id, roles=frozenset({member.role}) if member else frozenset(),
                     system_admin=user.role == "admin", scopes=scopes)


def _member_or_admin(user_id: str, network_id: str) -> tuple[R | None, R]:
    """(membership, user) of a user acting in a network: a member, or a system administrator."""
    from chalicelib.services.people.accounts import get_user
    member = networks.membership(network_id, user_id)
    user = get_user(user_id)
    if member is None and user.role != "admin":
        raise Forbidden("you are not a member of this network")
    return member, user


def lookup(secret: str, *, consistent: bool = False) -> R | None:
    """The hash item of a presented secret, or None."""
    try:
        return R.get(f"CRED#{secrets.digest(secret)}", "CRED", consistent_read=consistent)
    except DoesNotExist:
        return None


def resolve_secret(secret: str) -> Principal:
    """The principal a presented secret stands for, or Unauthorized."""
    from chalicelib.services.people import sessions
    if secrets.looks_like_jwt(secret):
        return sessions.resolve_access_token(secret)
    digest = secrets.digest(secret)
    record = _cache.get(digest)
    if record is None:
        record = lookup(secret, consistent=True)
        if record is None:
            raise Unauthorized("invalid credentials")
        if record.kind in CACHED_KINDS:
            _cache.put(digest, record)
    if record.expires_at and record.expires_at < now_ms():
        raise Unauthorized("credentials expired")
    if record.kind in NOT_FOR_REQUESTS:
        raise Unauthorized(f"a {record.kind.replace('_', ' ')} cannot authorize requests")
    scopes = frozenset(record.scopes) if record.scopes else None
    if record.kind == "user_token":
        sessions.check_idle(record)
        touch(record, listing_of(record))
        return principal_for_user(record.user_id, record.network_id, "user",
                                  f"user:{record.user_id}", record.token_id, scopes)
    if record.user_id and record.kind != "network_token":
        # a user's API key: the user's current roles, the key's own account and network
        touch(record, listing_of(record))
        return principal_for_user(record.user_id, record.network_id, record.kind,
                                  f"{record.kind}:{record.token_id}", record.token_id, scopes)
    if record.user_id:
        # A network token a member made acts for the network, as what it was issued as
        # (never as its creator, who may reach other networks), while the member belongs.
        _member_or_admin(record.user_id, record.network_id)
    elif record.kind == "api_key":
        touch(record, listing_of(record))
    roles = frozenset(record.roles or ())
    return Principal(network_id=record.network_id, kind=record.kind,
                     account_id=f"{record.kind}:{record.token_id}", user_id=None,
                     token_id=record.token_id, roles=roles - {"system_admin"},
                     system_admin="system_admin" in roles, scopes=scopes)


def scope_to_network(principal: Principal, network_id: str | None) -> Principal:
    """The same caller acting in another of its networks (CommHub's `network_id` parameter).
    Only a user's own credentials move between networks; network-bound ones never do. The
    request's audit record goes to the network acted in, whose administrators read it."""
    if not network_id or network_id == principal.network_id:
        return principal
    networks.require_reach(principal, network_id)
    if principal.user_id:
        from chalicelib.services import audit
        audit.note(network_id=network_id)
        return principal_for_user(principal.user_id, network_id, principal.kind,
                                  principal.account_id, principal.token_id, principal.scopes
                                  )._replace(source_ip=principal.source_ip)
    raise NotFound(f"network {network_id} not found")
