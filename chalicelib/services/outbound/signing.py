"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

Headers: `webhook-id` (the message id, the same on every retry, for the receiver's
de-duplication), `webhook-timestamp` (epoch seconds of this attempt) and
`webhook-signature`: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per
secret, space-separated (two while a rotated-out secret is still honoured).

Secrets look like `whsec_<base64>`, and the key is the decoded bytes, as every Standard
Webhooks library expects. A secret given without the prefix (or not valid base64 after
it) is used as its UTF-8 bytes.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

PREFIX = "whsec_"


def new_secret() -> str:
    import os
    return PREFIX + base64.b64encode(os.urandom(32)).decode()


def key_bytes(secret: str) -> bytes:
    if secret.startswith(PREFIX):
        try:
            return base64.b64decode(secret[len(PREFIX):], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode("utf-8")


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets: list[str], message_id: str, timestamp: int, body: bytes) -> dict:
    return {"webhook-id": message_id, "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": " ".join(signature(s, message_id, timestamp, body)
                                          for s in secrets)}
