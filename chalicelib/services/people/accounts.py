"""User accounts: registration (every way in), profiles and password changes.

- users are global (one login, many networks); a username and an email are both logins,
  unique across the deployment;
- every password set here passes the password policy of the network(s) concerned
  (services/people/passwords.py) and is stored as an argon2id hash, with the earlier
  hashes the policy's history needs.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.clock import now_ms
from chalicelib.errors import BadRequest, Conflict, NotFound, ValidationFailed, require
from chalicelib.ids import short_id
from chalicelib.services import audit
from chalicelib.services.people import networks
from chalicelib.store.base import cancelled_by_condition, transaction
from chalicelib.store.identity import IdentityRecord as R

if TYPE_CHECKING:
    from chalicelib.services.people.security import Security

USERNAME_RE = re.compile(r"^\w{2,50}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SYSTEM_ROLES = ("admin", "user")


def _login_key(login: str) -> str:
    return f"LOGIN#{login.strip().lower()}"


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


def register_user(*, password: str, username: str | None = None, email: str | None = None,
                  display_name: str | None = None, role: str = "user",
                  policy: Security | None = None, check_policy: bool = True) -> R:
    """A new global user, their password held to `policy` (the deployment's by default).
    Only the bootstrap skips the policy: its password is the operator's configuration."""
    from chalicelib.auth.passwords import hash_password
    from chalicelib.services.people import passwords, security
    if username is not None and not USERNAME_RE.match(str(username)):
        raise ValidationFailed("username", "username must be 2-50 letters, digits or underscores")
    if email is not None and not EMAIL_RE.match(str(email)):
        raise ValidationFailed("email", "email is not a valid address")
    if username is None and email is None:
        raise ValidationFailed("username", "a username or an email is required")
    if check_policy:
        passwords.check(password, policy or security.for_deployment(), logins=(username, email))
    user_id = short_id("u_")
    stamp = now_ms()
    user = R(f"USER#{user_id}", "PROFILE", kind="user", user_id=user_id, username=username,
             email=email.lower() if email else None, role=role,
             display_name=display_name or username or email.split("@")[0],
             password_hash=hash_password(password), password_changed_at=stamp, created_at=stamp)
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
    audit.note(target_type="user", target_id=user_id)
    return user


def enroll(network_id: str, *, username: str, password: str, email: str | None = None,
           display_name: str | None = None) -> tuple[R, str]:
    """A new user joining a network (CommHub registration); (user, their role). The first
    member after the bootstrap administrator administers the network."""
    from chalicelib.services.people import security
    first = len(networks.list_members(network_id)) <= 1
    user = register_user(username=username, password=password, email=email,
                         display_name=display_name, policy=security.governing(network_id))
    role = "admin" if first else "member"
    networks.add_member(network_id, user.user_id, role)
    return user, role


def add_to_network(network_id: str, *, email: str, password: str,
                   display_name: str | None = None, role: str = "member") -> R:
    """An administrator creates a user in their network, under its password policy."""
    from chalicelib.services.people import security
    user = register_user(email=email, password=password, display_name=display_name,
                         policy=security.governing(network_id))
    networks.add_member(network_id, user.user_id, role)
    return user


def sign_up(*, email: str, password: str, username: str | None = None,
            display_name: str | None = None) -> tuple[R, R]:
    """Self-service sign-up (platform): a new user with a new organisation (network) of
    their own — an open route must never grant access to someone else's data. The
    deployment's password policy applies (the new organisation has no other yet)."""
    user = register_user(email=email, password=password, username=username,
                         display_name=display_name)
    network = networks.create_network(user.user_id, f"{user.display_name}'s organisation")
    return user, network


def update_profile(user_id: str, *, display_name=None, email=None, profile=None,
                   current_password: str | None = None, source_ip: str | None = None) -> R:
    """Change what a user shows. A new email is a new login (and where a password reset
    would go): it needs the current password, as a password change does (ASVS 3.7.1)."""
    user = get_user(user_id)
    actions = [R.updated_at.set(now_ms())]
    if display_name is not None:
        actions.append(R.display_name.set(str(display_name)))
    if profile is not None:
        actions.append(R.profile.set({**(user.profile or {}), **profile}))
    if email is not None and (email or "").lower() != (user.email or ""):
        if not EMAIL_RE.match(str(email)):
            raise ValidationFailed("email", "email is not a valid address")
        check_password(user, require(current_password, "current_password",
                                     "'current_password' is required to change the email"),
                       source_ip=source_ip)
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
        audit.note(target_type="user", target_id=user_id, email_changed=True)
    else:
        user.update(actions=actions)
    return get_user(user_id)


def check_password(user: R, password: str, *, source_ip: str | None) -> None:
    """The current password, confirmed before a sensitive change (a new password, MFA
    off). Wrong guesses count towards the account's lockout, as failed logins do."""
    from chalicelib.auth.passwords import verify_password
    from chalicelib.services.people import lockout, security
    config = security.for_user(user.user_id)
    guard = lockout.Guard(user=user, login=None, source_ip=source_ip, config=config,
                          ip_config=security.for_deployment())
    guard.check()
    if not verify_password(user.password_hash, password or ""):
        guard.failed()
        raise BadRequest("Current password is incorrect")


def change_password(user_id: str, old_password: str, new_password: str, *,
                    keep_token: str | None = None, source_ip: str | None = None) -> int:
    """Change a user's password: the current one first, then the policy of every network
    they belong to (the strictest), then every other session of the user ends. Returns
    how many sessions were ended; `keep_token` is the session making the change."""
    from chalicelib.auth.passwords import hash_password
    from chalicelib.services.people import passwords, security, sessions
    user = get_user(user_id)
    check_password(user, old_password, source_ip=source_ip)
    passwords.check(new_password, security.for_user(user_id), field="new_password",
                    logins=(user.username, user.email), current_hash=user.password_hash,
                    history=user.password_history or ())
    user.update(actions=[R.password_hash.set(hash_password(new_password)),
                         R.password_history.set(passwords.next_history(user.password_hash,
                                                                       user.password_history)),
                         R.password_changed_at.set(now_ms()), R.updated_at.set(now_ms())])
    ended = sessions.end_all(user_id, except_token=keep_token)
    audit.note(target_type="user", target_id=user_id, sessions_ended=ended)
    return ended
