"""Bearer secrets: how they are made, hashed for storage, and signed (JWT access tokens).

Opaque tokens carry a prefix that says what they are (`utok_`, `ntok_`, `sbk_`, ...),
are 32 bytes of randomness, and are stored only as a keyed SHA-256 (HMAC with the
deployment's pepper): a fast hash is right for high-entropy secrets, and the pepper
keeps a leaked table from confirming guesses. Passwords, which are low-entropy,
use argon2id (auth/passwords.py).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as _random

from chalicelib.clock import now_ms
from chalicelib.config import settings
from chalicelib.errors import Unauthorized

PREFIXES = {
    "user_token": "utok_",
    "network_token": "ntok_",
    "api_key": "sbk_",
    "refresh_token": "rtok_",
    "admin_token": "sba_",
    "shared_secret": "sbs_",
    "mfa_challenge": "mfa_",   # a login's second step (five minutes; authorizes nothing else)
}


def generate(kind: str) -> str:
    return PREFIXES[kind] + _random.token_urlsafe(32)


def digest(secret: str) -> str:
    return hmac.new(settings().token_pepper, secret.encode(), hashlib.sha256).hexdigest()


def display_prefix(secret: str) -> str:
    """What listings show of a secret: enough to recognise it, never enough to use it."""
    return secret[:9] + "…"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jwt_key() -> bytes:
    key = settings().jwt_secret
    # Without a configured signing key, derive one from the pepper so tokens still
    # verify across instances that share configuration.
    return key or hashlib.sha256(b"switchboard-jwt" + settings().token_pepper).digest()


def looks_like_jwt(secret: str) -> bool:
    return secret.startswith("eyJ") and secret.count(".") == 2


def sign_jwt(claims: dict, ttl_s: int) -> str:
    now = now_ms() // 1000
    body = {**claims, "iat": now, "exp": now + ttl_s}
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    signature = hmac.new(_jwt_key(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def verify_jwt(token: str) -> dict:
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(_jwt_key(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            raise Unauthorized("invalid token signature")
        if json.loads(_unb64(header)).get("alg") != "HS256":
            raise Unauthorized("unsupported token algorithm")
        claims = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        raise Unauthorized("malformed token") from None
    if claims.get("exp", 0) < now_ms() // 1000:
        raise Unauthorized("token expired")
    return claims
