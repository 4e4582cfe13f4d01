"""The vault: the only code that ever sees a secret's plaintext.

Envelope encryption. `seal` asks KMS for a fresh 256-bit data key (`GenerateDataKey`, the
stage's key `SWITCHBOARD_VAULT_KEY`; moto's KMS locally), encrypts the value with AES-GCM
under it, and keeps only the KMS-wrapped copy of the key beside the ciphertext; `unseal`
has KMS unwrap the key (`Decrypt`) and opens the value. Both bind the value to where it
belongs — the network and a purpose such as `secret/<id>/v3` or `ssh/<id>` — as the KMS
encryption context and the AES-GCM associated data, so a sealed value copied onto another
record, version or network does not open.

A sealed value is one printable string, `sb1.<wrapped key>.<nonce + ciphertext>`
(base64url): it is what DynamoDB, the journal and the snapshots of the local stack hold.
Plaintext goes to no log, event or audit record; callers that must use a value (a webhook
signature, a Slack URL, an SSH password) unseal it for the call and keep nothing.

Small API for every owner of a secret:
    seal(text, network_id=..., purpose=...) -> str      unseal(sealed, network_id=..., purpose=...)
and the secrets family (`/api/v1/secrets`) on top of it: versions, masked reads, audited
reveal, rotation, expiry through an index.
"""
from __future__ import annotations

import base64
import json
import os
import secrets as token_source

from chalicelib import clients, logs
from chalicelib.clock import iso, now_ms, parse_time
from chalicelib.config import settings
from chalicelib.errors import Conflict, NotFound, Unavailable, ValidationFailed
from chalicelib.services import audit, events
from chalicelib.services.records import COUNT_BUDGET, Family, Page
from chalicelib.store.base import page
from chalicelib.store.records import time_key
from chalicelib.store.vault import (SecretRecord, SecretVersionRecord, expiry_partition,
                                    version_key)
from chalicelib.limits import (SECRET_EXPIRING_MAX_DAYS as MAX_EXPIRING_DAYS,
                               SECRET_VALUE_MAX_CHARS as MAX_VALUE_CHARS)

log = logs.get("vault")
FORMAT = "sb1"
MASK = "********"
MAX_NAME_CHARS = 255
MAX_CATEGORY_CHARS = 64
MAX_DESCRIPTION_CHARS = 2000
MAX_METADATA_CHARS = 4000


class VaultUnavailable(Unavailable):
    code = "vault_unavailable"


# --------------------------------------------------------------------------- envelope


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _context(network_id: str, purpose: str) -> dict:
    return {"switchboard:network": network_id, "switchboard:purpose": purpose}


def _aad(context: dict) -> bytes:
    return json.dumps(context, sort_keys=True, separators=(",", ":")).encode()


def _kms(operation: str, **params) -> dict:
    from botocore.exceptions import BotoCoreError, ClientError
    try:
        return getattr(clients.aws("kms"), operation)(**params)
    except (ClientError, BotoCoreError) as error:
        code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
        log.error("kms call failed", extra={"operation": operation, "code": code})
        raise VaultUnavailable(f"the vault's key is unavailable ({code})") from None


def seal(plaintext: str, *, network_id: str, purpose: str) -> str:
    """Encrypt `plaintext` under a fresh data key bound to (network, purpose)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    context = _context(network_id, purpose)
    key = _kms("generate_data_key", KeyId=settings().vault_key_id, KeySpec="AES_256",
               EncryptionContext=context)
    nonce = os.urandom(12)
    ciphertext = AESGCM(key["Plaintext"]).encrypt(nonce, plaintext.encode("utf-8"), _aad(context))
    return ".".join((FORMAT, _b64(key["CiphertextBlob"]), _b64(nonce + ciphertext)))


def unseal(sealed: str, *, network_id: str, purpose: str) -> str:
    """The plaintext of a value `seal` made for the same (network, purpose)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    try:
        version, wrapped, body = sealed.split(".")
        if version != FORMAT:
            raise ValueError(version)
        wrapped_key, body = _unb64(wrapped), _unb64(body)
    except (AttributeError, ValueError):
        raise VaultUnavailable("a stored secret is not in a format this vault reads") from None
    context = _context(network_id, purpose)
    key = _kms("decrypt", CiphertextBlob=wrapped_key, EncryptionContext=context)
    try:
        return AESGCM(key["Plaintext"]).decrypt(body[:12], body[12:], _aad(context)).decode()
    except InvalidTag:
        raise VaultUnavailable("a stored secret failed its integrity check") from None


def generate(prefix: str = "", nbytes: int = 32) -> str:
    """A new random secret (URL-safe), for values the hub makes itself."""
    return prefix + token_source.token_urlsafe(nbytes)


def hint(value: str) -> str | None:
    """What a masked listing may show of a value: the last four characters of a long one
    (so an operator can tell two tokens apart), nothing of a short one."""
    return f"...{value[-4:]}" if len(value) >= 20 else None


# --------------------------------------------------------------------------- secrets family

SECRETS = Family(SecretRecord, kind="secret", id_prefix="sec", label="Secret", unique_names=True)
events.register_types("secret.rotated")


def _purpose(secret_id: str, version: int) -> str:
    return f"secret/{secret_id}/v{int(version)}"


def _value(value) -> str:
    if not isinstance(value, str) or value == "":
        raise ValidationFailed("value", "'value' must be a non-empty string")
    if len(value) > MAX_VALUE_CHARS:
        raise ValidationFailed("value", f"'value' is limited to {MAX_VALUE_CHARS} characters")
    return value


def _text(value, field: str, limit: int, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValidationFailed(field, f"'{field}' is required" if required
                               else f"'{field}' must be a string")
    if len(value) > limit:
        raise ValidationFailed(field, f"'{field}' is limited to {limit} characters")
    return value.strip() if required else value


def _expiry(value) -> int | None:
    if value is None or value == "":
        return None
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        raise ValidationFailed("expires_at", "'expires_at' must be an ISO 8601 time") from None


def _metadata(value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(json.dumps(value, default=str)) > MAX_METADATA_CHARS:
        raise ValidationFailed("metadata", f"'metadata' must be an object of at most "
                                           f"{MAX_METADATA_CHARS} characters")
    return value


def _version_item(record: SecretRecord, version: int, sealed: str, by: str | None):
    return SecretVersionRecord(*version_key(record.network_id, record.id, version),
                               kind="secret_version", id=record.id, network_id=record.network_id,
                               created_by=by, created_at=now_ms(), sealed=sealed,
                               secret_version=version)


def _expiry_keys(record_id: str, network_id: str, expires_on: int | None) -> dict:
    if expires_on is None:
        return {}
    return {"time_pk": expiry_partition(network_id), "time_sk": time_key(expires_on, record_id)}


def create_secret(network_id: str, *, actor: str | None, name, value, category=None,
                  description=None, expires_at=None, metadata=None) -> SecretRecord:
    name = _text(name, "name", MAX_NAME_CHARS, required=True)
    value = _value(value)
    expires_on = _expiry(expires_at)
    record = SECRETS.new(network_id, created_by=actor, name=name,
                         category=_text(category, "category", MAX_CATEGORY_CHARS) or "general",
                         description=_text(description, "description", MAX_DESCRIPTION_CHARS),
                         metadata=_metadata(metadata), current_version=1, expires_on=expires_on)
    for field, key_value in _expiry_keys(record.id, network_id, expires_on).items():
        setattr(record, field, key_value)
    record.sealed = seal(value, network_id=network_id, purpose=_purpose(record.id, 1))
    version = _version_item(record, 1, record.sealed, actor)
    SECRETS.create(record, event={"name": name, "version": 1},
                   extra=lambda tx: tx.save(version))
    audit.note(target_type="secret", target_id=record.id, version=1)
    return record


def list_secrets(network_id: str, *, category: str | None = None, limit: int = 50,
                 offset: int = 0, cursor: str | None = None) -> Page:
    condition = SecretRecord.category == category if category else None
    return SECRETS.list(network_id, limit=limit, offset=offset, cursor=cursor, condition=condition)


def get_secret(network_id: str, secret_id: str) -> SecretRecord:
    return SECRETS.get(network_id, secret_id)


def versions(record: SecretRecord) -> list[dict]:
    """Every version's number and when and by whom it was stored (never the value)."""
    pk, _ = version_key(record.network_id, record.id, 0)
    return [{"version": int(v.secret_version), "created_at": iso(v.created_at),
             "created_by": v.created_by}
            for v in SecretVersionRecord.query(pk, consistent_read=True)]


def reveal(network_id: str, secret_id: str, *, actor: str | None,
           version: int | None = None) -> tuple[SecretRecord, int, str]:
    """The plaintext of the current (or an earlier) version; audited. An expired secret is
    refused: rotate it or move its expiry."""
    record = SECRETS.get(network_id, secret_id)
    if record.expires_on is not None and record.expires_on <= now_ms():
        raise Conflict(f"secret {record.name!r} expired at {iso(record.expires_on)}; "
                       "rotate it or change its expiry")
    number = int(record.current_version) if version is None else int(version)
    if number == int(record.current_version):
        sealed = record.sealed
    else:
        try:
            sealed = SecretVersionRecord.get(*version_key(network_id, secret_id, number),
                                             consistent_read=True).sealed
        except SecretVersionRecord.DoesNotExist:
            raise NotFound(f"secret {secret_id} has no version {number}") from None
    plaintext = unseal(sealed, network_id=network_id, purpose=_purpose(secret_id, number))
    audit.note(action="secret.reveal", target_type="secret", target_id=secret_id,
               network_id=network_id, actor_id=actor, version=number)
    log.info("secret revealed", extra={"network_id": network_id, "secret_id": secret_id,
                                       "version": number, "actor": actor})
    return record, number, plaintext


def update_secret(network_id: str, secret_id: str, *, actor: str | None,
                  **fields) -> SecretRecord:
    """Change a secret's metadata; a new `value` is a rotation (a new version)."""
    record = SECRETS.get(network_id, secret_id)
    if "value" in fields and fields["value"] is not None:
        record = rotate(network_id, secret_id, actor=actor, value=fields.pop("value"))[0]
    sets, removals = {}, []
    if fields.get("name") is not None:
        sets["name"] = _text(fields["name"], "name", MAX_NAME_CHARS, required=True)
    for field, limit in (("category", MAX_CATEGORY_CHARS), ("description", MAX_DESCRIPTION_CHARS)):
        if field in fields and fields[field] is not None:
            sets[field] = _text(fields[field], field, limit)
    if fields.get("metadata") is not None:
        sets["metadata"] = _metadata(fields["metadata"])
    if "expires_at" in fields:
        expires_on = _expiry(fields["expires_at"])
        if expires_on is None:
            removals += ["expires_on", "time_pk", "time_sk"]
        else:
            sets.update(expires_on=expires_on, **_expiry_keys(record.id, network_id, expires_on))
    if not sets and not removals:
        return record
    return SECRETS.update(record, sets, removals=removals,
                          event={"name": sets.get("name", record.name)})


def rotate(network_id: str, secret_id: str, *, actor: str | None,
           value: str | None = None) -> tuple[SecretRecord, str | None]:
    """Store a new version (the given value, or a generated one, returned once); earlier
    versions stay readable by number."""
    record = SECRETS.get(network_id, secret_id)
    generated = None
    if value is None:
        value = generated = generate()
    value = _value(value)
    number = int(record.current_version) + 1
    sealed = seal(value, network_id=network_id, purpose=_purpose(secret_id, number))
    version = _version_item(record, number, sealed, actor)
    stamp = now_ms()
    record = SECRETS.update(record, {"sealed": sealed, "current_version": number,
                                     "rotated_at": stamp, "rotated_by": actor},
                            verb="rotated", event={"name": record.name, "version": number},
                            extra=lambda tx: tx.save(version,
                                                     condition=SecretVersionRecord.pk.does_not_exist()))
    audit.note(action="secret.rotate", target_type="secret", target_id=secret_id, version=number)
    return record, generated


def delete_secret(network_id: str, secret_id: str) -> None:
    SECRETS.delete(SECRETS.get(network_id, secret_id), event={})


def expiring(network_id: str, *, days: int = 7, limit: int = 50, offset: int = 0,
             cursor: str | None = None) -> Page:
    """Live secrets expiring after now and within `days`, soonest first, a page at a time:
    a Query on the by_time index (eventually consistent, like every GSI)."""
    if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= MAX_EXPIRING_DAYS:
        raise ValidationFailed("days", f"'days' must be between 1 and {MAX_EXPIRING_DAYS}")
    start = now_ms()
    partition = expiry_partition(network_id)
    window = SecretRecord.time_sk.between(time_key(start, ""),
                                          time_key(start + days * 86_400_000, "~"))
    live = SecretRecord.deleted_at.does_not_exist()
    items, next_cursor = page(SecretRecord, partition, limit=limit, offset=offset, cursor=cursor,
                              range_key_condition=window, filter_condition=live,
                              index=SecretRecord.by_time)
    total = SecretRecord.by_time.count(partition, window, filter_condition=live,
                                       limit=COUNT_BUDGET)
    return Page(items, next_cursor, total)

