"""Logging in with a password, and the MFA step after it. Both dialects' logins go through
here, so lockout, MFA and the security configuration hold whichever door a user uses.

1. the source address and the account must not be locked out (lockout.py: 429);
2. the password (an unknown login costs the same argon2 work and counts the same);
3. a user with MFA: a valid code in the same request, or a challenge (a temporary token,
   five minutes, five tries) that `second_step` exchanges with a code for a session.
   The temporary token authorizes nothing else — unlike the peer's, whose MFA token was
   an ordinary access token;
4. an administrator whom the configuration requires to use MFA and who has none gets a
   session restricted to setting it up (auth/scopes.py).
Failed passwords and codes count towards the lockout; a success clears the account's.
"""
from __future__ import annotations

from functools import lru_cache
from pynamodb.exceptions import UpdateError

from chalicelib.auth.scopes import MFA_ENROLLMENT
from chalicelib.clock import now_ms
from chalicelib.errors import Unauthorized
from chalicelib.services import audit
from chalicelib.services.people import accounts, credentials, lockout, mfa, networks, security
from chalicelib.store.identity import IdentityRecord as R

CHALLENGE_TTL_S = 300
CHALLENGE_TRIES = 5


class MfaRequired(Unauthorized):
    """For dialects without a second step: the code must come with the password."""
    code = "mfa_required"


class Login:
    """A successful login: whom, under which configuration, with which restriction."""
    __slots__ = ("user", "config", "scopes")

    def __init__(self, user: R, config: security.Security, scopes: frozenset | None):
        self.user, self.config, self.scopes = user, config, scopes


class Challenge:
    """MFA is needed: exchange `temp_token` and a code at `second_step`."""
    __slots__ = ("user", "temp_token", "expires_in")

    def __init__(self, user: R, temp_token: str, expires_in: int):
        self.user, self.temp_token, self.expires_in = user, temp_token, expires_in


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    from chalicelib.auth.passwords import hash_password
    return hash_password("decoy password for logins that name no one")


def password_login(login: str, password: str, *, code: str | None = None,
                   source_ip: str | None = None, second_step: bool = True) -> Login | Challenge:
    """A Login, or (MFA without a code) a Challenge — or MfaRequired where the dialect has
    no `second_step`."""
    from chalicelib.auth.passwords import verify_password
    ip_config = security.for_deployment()
    user = accounts.find_login(login) if login else None
    config = security.for_user(user.user_id) if user else ip_config
    guard = lockout.Guard(user=user, login=login, source_ip=source_ip, config=config,
                          ip_config=ip_config)
    if user is not None:
        audit.note(network_id=networks.default_network_for(user.user_id), actor_id=user.user_id,
                   actor_type="user", target_type="user", target_id=user.user_id)
    guard.check()
    if not verify_password(user.password_hash if user else _decoy_hash(), password or "") \
            or user is None:
        guard.failed()
        raise Unauthorized("invalid username or password")
    if user.mfa_enabled:
        if not code:
            if not second_step:
                raise MfaRequired("this account uses MFA: send the current code as "
                                  "'totp_code' with the password")
            return _challenge(user, source_ip)
        if not mfa.check_code(user, code):
            guard.failed()
            raise Unauthorized("Invalid TOTP code")
        audit.note(mfa=True)
    guard.succeeded()
    return _finish(user, config)


def _challenge(user: R, source_ip: str | None) -> Challenge:
    record, token = credentials.issue_credential(
        "mfa_challenge", networks.default_network_for(user.user_id), user_id=user.user_id,
        name="mfa login", ttl_s=CHALLENGE_TTL_S, source_ip=source_ip)
    audit.note(mfa_required=True)
    return Challenge(user, token, CHALLENGE_TTL_S)


def second_step(temp_token: str, code: str, *, source_ip: str | None = None) -> Login:
    record = credentials.lookup(temp_token or "", consistent=True)
    if record is None or record.kind != "mfa_challenge" or (record.expires_at or 0) < now_ms():
        raise Unauthorized("Invalid or expired MFA token")
    user = accounts.get_user(record.user_id)
    audit.note(network_id=record.network_id, actor_id=user.user_id, actor_type="user",
               target_type="user", target_id=user.user_id, mfa=True)
    config = security.for_user(user.user_id)
    guard = lockout.Guard(user=user, login=None, source_ip=source_ip, config=config,
                          ip_config=security.for_deployment())
    guard.check()
    if not mfa.check_code(user, code):
        guard.failed()
        _spend_try(record)
        raise Unauthorized("Invalid TOTP code")
    credentials.revoke_record(credentials.listing_of(record))  # a challenge is used once
    guard.succeeded()
    return _finish(user, config)


def _spend_try(record: R) -> None:
    """One wrong code; the challenge ends after CHALLENGE_TRIES."""
    try:
        record.update(actions=[R.uses.add(1)],
                      condition=R.uses.does_not_exist() | (R.uses < CHALLENGE_TRIES - 1))
    except UpdateError:
        credentials.revoke_record(credentials.listing_of(record))


def _finish(user: R, config: security.Security) -> Login:
    must_enroll = config.require_mfa_for_admins and not user.mfa_enabled
    return Login(user, config, frozenset({MFA_ENROLLMENT}) if must_enroll else None)
