"""API keys: long-lived credentials for programs, shown once and stored hashed.

A key acts in its creator's network with its creator's role (a user's key takes the
user's current role at each use), or narrower when created with scopes (auth/scopes.py):
a key never gets more than the credential that made it. Listings show a masked prefix
and the last use; revoking a key makes it fail from the next request.
"""
from __future__ import annotations

from chalicelib.auth.principal import Principal
from chalicelib.auth.scopes import API_KEY_SCOPES
from chalicelib.clock import now_ms
from chalicelib.errors import Forbidden, ValidationFailed
from chalicelib.services import audit
from chalicelib.services.people import credentials

KIND = "api_key"
MAX_LIFETIME_MS = 10 * 365 * 86_400_000


def create(principal: Principal, *, name: str, scopes=None, expires_at: int | None = None):
    """(record, key): the key is returned this once."""
    if scopes is not None:
        scopes = list(dict.fromkeys(scopes))
        unknown = [s for s in scopes if s not in API_KEY_SCOPES]
        if unknown or not scopes:
            raise ValidationFailed("scopes", f"scopes must be a non-empty list of "
                                             f"{', '.join(API_KEY_SCOPES)}")
        if "admin" in scopes and not principal.is_admin:
            raise Forbidden("only an administrator can make a key with the 'admin' scope")
    if principal.scopes is not None:  # a scoped credential cannot make a wider key
        scopes = scopes if scopes is not None else sorted(principal.scopes)
        if not set(scopes) <= principal.scopes:
            raise Forbidden("a key cannot have scopes its creator's credential lacks")
    ttl_s = None
    if expires_at is not None:
        remaining = expires_at - now_ms()
        if not 0 < remaining <= MAX_LIFETIME_MS:
            raise ValidationFailed("expires_at", "expires_at must be in the future, within "
                                                 "ten years")
        ttl_s = max(1, remaining // 1000)
    # A user's key takes the user's roles at each use; a key made with a credential no
    # user owns (the admin token) carries that credential's roles.
    roles = () if principal.user_id else principal.roles | (
        {"system_admin"} if principal.system_admin else set())
    record, key = credentials.issue_credential(KIND, principal.network_id,
                                               user_id=principal.user_id, name=name,
                                               roles=roles, scopes=scopes, ttl_s=ttl_s)
    audit.note(target_type="api_key", target_id=record.token_id, scopes=scopes)
    return record, key


def list_keys(principal: Principal) -> list:
    return sorted(credentials.list_tokens(principal, (KIND,)),
                  key=lambda r: -(r.created_at or 0))


def revoke(principal: Principal, key_id: str) -> None:
    credentials.revoke_token(principal, key_id, (KIND,))
    audit.note(target_type="api_key", target_id=key_id)
