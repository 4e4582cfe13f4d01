"""Sealed values: secrets the hub must read back (a user's TOTP secret, secret settings),
encrypted at rest with AES-GCM.

The key is derived from the deployment's token pepper (a stage secret, never rotated:
README "Deploy"), so no new secret is needed; the value is bound to where it belongs —
(network, purpose), as AES-GCM associated data — so a sealed value copied onto another
record does not open. A sealed value is one printable string, `sbl1.<nonce + ciphertext>`.

`seal` and `unseal` have the signatures of the vault's (services/vault.py, KMS envelope
encryption), which replaces this module when it lands: values sealed here keep their
`sbl1.` prefix, so the vault can tell them apart and re-seal them on first use.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os

from chalicelib.config import settings
from chalicelib.errors import Unavailable

FORMAT = "sbl1"


def _key() -> bytes:
    return hmac.new(settings().token_pepper, b"switchboard/sealing/v1", hashlib.sha256).digest()


def _aad(network_id: str, purpose: str) -> bytes:
    return json.dumps({"network": network_id, "purpose": purpose}, sort_keys=True).encode()


def seal(plaintext: str, *, network_id: str, purpose: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    nonce = os.urandom(12)
    body = AESGCM(_key()).encrypt(nonce, plaintext.encode("utf-8"), _aad(network_id, purpose))
    return f"{FORMAT}.{base64.urlsafe_b64encode(nonce + body).decode().rstrip('=')}"


def unseal(sealed: str, *, network_id: str, purpose: str) -> str:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    try:
        version, text = sealed.split(".")
        if version != FORMAT:
            raise ValueError(version)
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return AESGCM(_key()).decrypt(raw[:12], raw[12:], _aad(network_id, purpose)).decode()
    except (AttributeError, ValueError, InvalidTag):
        raise Unavailable("a stored secret could not be opened") from None
