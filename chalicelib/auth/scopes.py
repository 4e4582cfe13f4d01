"""What a credential with a scope list may do, checked at the edge before any handler.

A credential without scopes acts with its holder's roles, everywhere. Scopes narrow that:
- `read`: safe methods (GET, HEAD) on routes that are not administrative;
- `write`: any method on routes that are not administrative;
- `admin`: administrative routes too (the holder must still be an administrator);
- `mfa_enrollment`: a session of an administrator who must set up MFA before doing
  anything else (security config `require_mfa_for_admins`): only the routes that do it.
"""
from __future__ import annotations

API_KEY_SCOPES = ("read", "write", "admin")
MFA_ENROLLMENT = "mfa_enrollment"
ENROLLMENT_ROUTES = frozenset({
    ("GET", "/api/v1/auth/me"), ("POST", "/api/v1/auth/mfa/setup"),
    ("POST", "/api/v1/auth/mfa/verify"), ("POST", "/api/v1/auth/logout"),
})
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def refusal(scopes: frozenset | None, method: str, path: str, admin_route: bool) -> str | None:
    """Why `scopes` do not allow this route (None when they do)."""
    if scopes is None:
        return None
    if MFA_ENROLLMENT in scopes:
        if (method, path) in ENROLLMENT_ROUTES:
            return None
        return "set up MFA first (POST /api/v1/auth/mfa/setup, then /api/v1/auth/mfa/verify): " \
               "administrators of this organisation must use it"
    if admin_route:
        return None if "admin" in scopes else "this credential's scopes do not include 'admin'"
    if method in SAFE_METHODS:
        return None if scopes & {"read", "write", "admin"} else \
            "this credential's scopes do not include 'read'"
    return None if scopes & {"write", "admin"} else \
        "this credential's scopes do not include 'write'"
