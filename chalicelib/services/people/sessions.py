"""Sessions: what a login leaves behind, how long it lasts, and how it ends.

A session is a platform login (a refresh token, plus short-lived JWT access tokens naming
it) or a CommHub login (a user token). Each records where it started (address, user
agent) and its limits, taken from the security configuration at login: a lifetime
(`session_max_hours`), an idle timeout (`session_idle_minutes`; each use counts, stamped
at most once a minute) and how many a user may hold (`max_concurrent_sessions`: a new
login ends the oldest). Ending a session (logout, revocation, a password change) deletes
its token: its refresh token and every access token naming it fail from the next request.
A refresh rotates the refresh token (same session id); a rotated one presented again ends
the session.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from pynamodb.exceptions import DoesNotExist

from chalicelib import logs
from chalicelib.auth import secrets
from chalicelib.auth.principal import Principal
from chalicelib.clock import now_ms
from chalicelib.config import settings
from chalicelib.errors import Conflict, NotFound, Unauthorized
from chalicelib.services import audit
from chalicelib.services.people import credentials, networks
from chalicelib.services.people.credentials import SESSION_KINDS
from chalicelib.store.identity import IdentityRecord as R

if TYPE_CHECKING:
    from chalicelib.services.people.security import Security

log = logs.get("sessions")
LIST_LIMIT = 200


def _open(kind: str, user: R, network_id: str, config: Security, *, source_ip, user_agent,
          scopes=None) -> tuple[R, str]:
    _end_oldest(user.user_id, keep=config.max_concurrent_sessions - 1)
    return credentials.issue_credential(
        kind, network_id, user_id=user.user_id,
        name="session" if kind == "refresh_token" else "login", ttl_s=config.session_max_hours * 3600, idle_s=config.session_idle_minutes * 60,
        source_ip=source_ip, user_agent=user_agent, scopes=scopes)


def _access_token(user_id: str, network_id: str, session: R) -> tuple[str, int]:
    remaining = max(1, ((session.expires_at or 0) - now_ms()) // 1000)
    ttl = int(min(settings().access_token_ttl_s, remaining))
    return secrets.sign_jwt({"sub": user_id, "net": network_id, "sid": session.token_id,
                             "typ": "access"}, ttl), ttl


def start_session(user: R, network_id: str | None = None, *, config: Security | None = None,
                  source_ip: str | None = None, user_agent: str | None = None,
                  scopes=None) -> dict:
    """A platform login: a short-lived JWT access token and a refresh token naming the session."""
    from chalicelib.services.people import security
    network_id = network_id or networks.default_network_for(user.user_id)
    config = config or security.for_user(user.user_id)
    session, refresh = _open("refresh_token", user, network_id, config, source_ip=source_ip,
                             user_agent=user_agent, scopes=scopes)
    access, ttl = _access_token(user.user_id, network_id, session)
    audit.note(network_id=network_id, actor_id=user.user_id, actor_type="user",
               target_type="session", target_id=session.token_id)
    return {"access_token": access, "refresh_token": refresh, "token_type": "bearer",
            "expires_in": ttl, "network_id": network_id}


def start_login_token(user: R, network_id: str, config: Security, *,
                      source_ip: str | None = None, user_agent: str | None = None,
                      scopes=None) -> str:
    """A CommHub login: one user token, a session with the same limits."""
    session, token = _open("user_token", user, network_id, config, source_ip=source_ip,
                           user_agent=user_agent, scopes=scopes)
    audit.note(network_id=network_id, actor_id=user.user_id, actor_type="user",
               target_type="session", target_id=session.token_id)
    return token


def _idle(record: R, now: int) -> bool:
    last = max(record.last_used_at or 0, record.created_at or 0)
    return bool(record.idle_s) and now - last > record.idle_s * 1000


def check_idle(record: R) -> None:
    """End a session left unused longer than its idle timeout (Unauthorized)."""
    if _idle(record, now_ms()):
        credentials.revoke_record(record)
        raise Unauthorized("session has ended (idle)")


def refresh_session(refresh_token: str) -> dict:
    """A new access token and a new refresh token for the same session (rotation, OAuth 2.0
    Security BCP 4.14): the presented one stops working. Presenting one that was already
    exchanged means two parties hold it — the session ends, for both."""
    record = credentials.lookup(refresh_token or "", consistent=True)
    if record is not None and record.kind == credentials.ROTATED:
        _end_replayed(record)
    if record is None or record.kind != "refresh_token" or (record.expires_at or 0) < now_ms():
        raise Unauthorized("invalid refresh token")
    try:
        listing = R.get(f"USER#{record.user_id}", f"TOKEN#{record.token_id}", consistent_read=True)
    except DoesNotExist:
        raise Unauthorized("invalid refresh token") from None
    check_idle(listing)
    try:
        successor, refresh = credentials.rotate(record, listing)
    except Conflict:
        # Another refresh with this token won the race (a replay), or the session ended.
        again = credentials.lookup(refresh_token, consistent=True)
        if again is not None and again.kind == credentials.ROTATED:
            _end_replayed(again)
        raise Unauthorized("invalid refresh token") from None
    access, ttl = _access_token(record.user_id, record.network_id, successor)
    audit.note(network_id=record.network_id, actor_id=record.user_id, actor_type="user",
               target_type="session", target_id=record.token_id)
    return {"access_token": access, "refresh_token": refresh, "token_type": "bearer",
            "expires_in": ttl, "network_id": record.network_id}


def _end_replayed(rotated: R) -> NoReturn:
    """End the session of a refresh token presented after its rotation, and say so."""
    ended = False
    try:
        credentials.revoke_record(R.get(f"USER#{rotated.user_id}", f"TOKEN#{rotated.token_id}",
                                        consistent_read=True))
        ended = True
    except DoesNotExist:
        pass  # ended already (an earlier replay, a logout, a revocation)
    log.warning("rotated refresh token presented again",
                extra={"token_id": rotated.token_id, "session_ended": ended})
    audit.note(action="session.refresh_reuse", network_id=rotated.network_id,
               actor_id=rotated.user_id, actor_type="user", target_type="session",
               target_id=rotated.token_id, session_ended=ended)
    raise Unauthorized("refresh token already used: the session has ended")


def resolve_access_token(token: str) -> Principal:
    """The principal of a JWT access token, while its session lives (read on every request,
    so an ended session's access tokens fail at once)."""
    claims = secrets.verify_jwt(token)
    if claims.get("typ") != "access":
        raise Unauthorized("not an access token")
    try:
        session = R.get(f"USER#{claims['sub']}", f"TOKEN#{claims['sid']}", consistent_read=True)
    except (DoesNotExist, KeyError):
        raise Unauthorized("session has ended") from None
    check_idle(session)
    credentials.touch(session)
    return credentials.principal_for_user(
        claims["sub"], claims["net"], "user", f"user:{claims['sub']}", claims["sid"],
        frozenset(session.scopes) if session.scopes else None)


def end_session(principal: Principal) -> None:
    """Logout: the caller's own session ends."""
    if principal.kind == "user" and principal.token_id and principal.user_id:
        try:
            record = R.get(f"USER#{principal.user_id}", f"TOKEN#{principal.token_id}")
        except DoesNotExist:
            return
        credentials.revoke_record(record)


def _user_sessions(user_id: str) -> list[R]:
    now = now_ms()
    return [r for r in R.query(f"USER#{user_id}", R.sk.startswith("TOKEN#"), consistent_read=True)
            if r.kind in SESSION_KINDS and not (r.expires_at and r.expires_at < now)
            and not _idle(r, now)]


def _end_oldest(user_id: str, keep: int) -> None:
    live = sorted(_user_sessions(user_id), key=lambda r: r.created_at or 0)
    for record in live[:max(0, len(live) - keep)]:
        credentials.revoke_record(record)


def end_all(user_id: str, except_token: str | None = None) -> int:
    """End every session of a user (but `except_token`, the caller's) and any pending MFA
    login; returns how many sessions ended."""
    ended = 0
    for record in R.query(f"USER#{user_id}", R.sk.startswith("TOKEN#"), consistent_read=True):
        if record.kind in SESSION_KINDS + ("mfa_challenge",) and record.token_id != except_token:
            credentials.revoke_record(record)
            ended += record.kind in SESSION_KINDS
    return ended


def list_sessions(principal: Principal, *, everyone: bool) -> list[R]:
    """Live sessions, newest first: the caller's own, or (`everyone`, for administrators)
    every session in the caller's network."""
    if not everyone:
        return sorted(_user_sessions(principal.user_id), key=lambda r: -(r.created_at or 0))
    pointers = list(R.query(f"NET#{principal.network_id}", R.sk.startswith("SESSION#"),
                            consistent_read=True, scan_index_forward=False, limit=LIST_LIMIT))
    found = {r.sk: r for r in R.batch_get([(f"USER#{p.user_id}", f"TOKEN#{p.token_id}")
                                           for p in pointers])} if pointers else {}
    now, live = now_ms(), []
    for pointer in pointers:
        record = found.get(f"TOKEN#{pointer.token_id}")
        if record is None or (record.expires_at and record.expires_at < now) or _idle(record, now):
            if record is not None:
                credentials.revoke_record(record)
            else:
                pointer.delete()  # a session ended elsewhere: tidy its pointer
            continue
        live.append(record)
    return sorted(live, key=lambda r: -(r.created_at or 0))


def revoke_session(principal: Principal, session_id: str) -> R:
    """End one session: the caller's own, or any in their network for an administrator."""
    record = None
    try:
        record = R.get(f"USER#{principal.user_id}", f"TOKEN#{session_id}", consistent_read=True) \
            if principal.user_id else None
    except DoesNotExist:
        pass
    if (record is None or record.kind not in SESSION_KINDS) and principal.is_admin:
        try:
            pointer = R.get(f"NET#{principal.network_id}", f"SESSION#{session_id}",
                            consistent_read=True)
            record = R.get(f"USER#{pointer.user_id}", f"TOKEN#{session_id}", consistent_read=True)
        except DoesNotExist:
            record = None
    if record is None or record.kind not in SESSION_KINDS:
        raise NotFound("session not found")
    credentials.revoke_record(record)
    audit.note(target_type="session", target_id=session_id, user_id=record.user_id)
    return record
