"""Webhooks: subscriptions of a URL to event types (`task.completed`, `task.*`, `*`; the
same names `/ws` uses), delivered through deliveries.py and signed per Standard Webhooks.

- The signing secret is generated (`whsec_...`) when none is given and shown once, in the
  answer to the create (or to a rotation). It is sealed by the vault with the custom
  headers (which may carry tokens): one KMS call opens both at send time, and listings
  show header names only.
- Rotating keeps the previous secret signing alongside the new one for
  PREVIOUS_SECRET_GRACE_MS, so receivers can switch without dropping a delivery.
- Health: a delivery that succeeds resets `failure_count`; a dead one adds one; after
  DISABLE_AFTER dead deliveries in a row the webhook is switched off (`disabled_reason`)
  and its owner is notified. Re-activating it (`is_active: true`) resets the count.
- Updates keep the id, so the delivery log (`deliveries`) survives them.
"""
from __future__ import annotations

import json
import re
import time

from chalicelib.clock import iso, now_ms
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.services import fanout, notifications, vault
from chalicelib.services.outbound import deliveries, guard, signing
from chalicelib.services.outbound.http import Request, send
from chalicelib.services.records import Family, Page
from chalicelib.store.outbound import WebhookRecord as W
from chalicelib.store.records import COUNTER_SK

WEBHOOKS = Family(W, kind="webhook", id_prefix="whk", label="Webhook")
DISABLE_AFTER = 5
PREVIOUS_SECRET_GRACE_MS = 24 * 3600 * 1000
MAX_HEADERS = 20
RESERVED_HEADERS = {"host", "content-length", "content-type", "transfer-encoding", "connection",
                    "user-agent", "webhook-id", "webhook-timestamp", "webhook-signature"}
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
TEST_EVENT = "test"


def _purpose(webhook_id: str) -> str:
    return f"webhook/{webhook_id}"


# --------------------------------------------------------------------------- validation


def _url(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("url", "'name' and 'url' are required")
    try:
        guard.check_url(value.strip())
    except guard.Refused as refused:
        raise ValidationFailed("url", refused.message) from None
    return value.strip()


def _events(value) -> list[str]:
    if value is None or value == []:
        return ["*"]
    if not isinstance(value, list) or len(value) > 100:
        raise ValidationFailed("events", "'events' is a list of event types (at most 100)")
    return list(dict.fromkeys(notifications.event_pattern(v, "events") for v in value))


def _headers(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_HEADERS:
        raise ValidationFailed("headers", f"'headers' is an object of at most {MAX_HEADERS} "
                                          "header: value pairs")
    for name, text in value.items():
        if not HEADER_NAME.match(name) or name.lower() in RESERVED_HEADERS:
            raise ValidationFailed("headers", f"header {name[:60]!r} cannot be set")
        if not isinstance(text, str) or len(text) > 4000 or any(c in text for c in "\r\n\0"):
            raise ValidationFailed("headers", f"header {name[:60]!r} needs a single-line string value")
    return dict(value)


def _secret(value) -> str:
    if not isinstance(value, str) or not 16 <= len(value) <= 500 or value != value.strip():
        raise ValidationFailed("secret", "'secret' is 16-500 characters (Standard Webhooks "
                                         "receivers expect `whsec_<base64>`)")
    return value


def _retry_policy(value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationFailed("retry_policy", "'retry_policy' is {max_retries, backoff_seconds}")
    out = {}
    retries = value.get("max_retries", deliveries.DEFAULT_MAX_RETRIES)
    if isinstance(retries, bool) or not isinstance(retries, int) or \
            not 0 <= retries <= deliveries.MAX_RETRIES:
        raise ValidationFailed("retry_policy.max_retries",
                               f"'max_retries' is an integer from 0 to {deliveries.MAX_RETRIES}")
    out["max_retries"] = retries
    backoff = value.get("backoff_seconds", deliveries.DEFAULT_BACKOFF_S)
    if isinstance(backoff, bool) or not isinstance(backoff, (int, float)) or \
            not 1 <= backoff <= 86400:
        raise ValidationFailed("retry_policy.backoff_seconds",
                               "'backoff_seconds' is a number from 1 to 86400")
    out["backoff_seconds"] = backoff
    return out


def _text(value, field: str, limit: int, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValidationFailed(field, "'name' and 'url' are required" if required
                               else f"'{field}' is a string of at most {limit} characters")
    return value.strip()


def _seal(webhook_id: str, network_id: str, secret: str, previous: str | None,
          headers: dict) -> str:
    return vault.seal(json.dumps({"secret": secret, "previous": previous, "headers": headers}),
                      network_id=network_id, purpose=_purpose(webhook_id))


def _open(record: W) -> dict:
    return json.loads(vault.unseal(record.sealed, network_id=record.network_id,
                                   purpose=_purpose(record.id)))


# --------------------------------------------------------------------------- the family


def create_webhook(network_id: str, *, actor: str | None, owner: str | None, name, url,
                   events=None, secret=None, headers=None, is_active=True, retry_policy=None,
                   description=None) -> tuple[W, str]:
    """A new webhook and its signing secret (the only time the secret is shown)."""
    if is_active is not None and not isinstance(is_active, bool):
        raise ValidationFailed("is_active", "'is_active' must be true or false")
    record = WEBHOOKS.new(network_id, created_by=actor, name=_text(name, "name", 255, required=True),
                          url=_url(url), events=_events(events),
                          description=_text(description, "description", 2000),
                          is_active=is_active is not False, retry_policy=_retry_policy(retry_policy),
                          owner_id=owner, failure_count=0)
    secret = _secret(secret) if secret is not None else signing.new_secret()
    custom = _headers(headers)
    record.header_names = sorted(custom) or None
    record.sealed = _seal(record.id, network_id, secret, None, custom)
    WEBHOOKS.create(record, event={"name": record.name, "events": record.events})
    return record, secret


def update_webhook(network_id: str, webhook_id: str, *, rotate_secret: bool = False,
                   **fields) -> tuple[W, str | None]:
    """Change a webhook; a new `secret` (or `rotate_secret: true`, which generates one)
    is returned once, and the old one keeps signing for a day."""
    record = WEBHOOKS.get(network_id, webhook_id)
    sets, removals = {}, []
    if fields.get("name") is not None:
        sets["name"] = _text(fields["name"], "name", 255, required=True)
    if fields.get("url") is not None:
        sets["url"] = _url(fields["url"])
    if fields.get("events") is not None:
        sets["events"] = _events(fields["events"])
    if fields.get("description") is not None:
        sets["description"] = _text(fields["description"], "description", 2000)
    if fields.get("retry_policy") is not None:
        sets["retry_policy"] = _retry_policy(fields["retry_policy"])
    if fields.get("is_active") is not None:
        if not isinstance(fields["is_active"], bool):
            raise ValidationFailed("is_active", "'is_active' must be true or false")
        sets["is_active"] = fields["is_active"]
        if fields["is_active"]:
            sets["failure_count"] = 0
            removals.append("disabled_reason")
    new_secret = None
    if rotate_secret or fields.get("secret") is not None or fields.get("headers") is not None:
        current = _open(record)
        headers = _headers(fields["headers"]) if fields.get("headers") is not None \
            else current.get("headers") or {}
        secret, previous = current["secret"], current.get("previous")
        if rotate_secret or fields.get("secret") is not None:
            new_secret = _secret(fields["secret"]) if fields.get("secret") is not None \
                else signing.new_secret()
            secret, previous = new_secret, current["secret"]
            sets["previous_until"] = now_ms() + PREVIOUS_SECRET_GRACE_MS
        sets["sealed"] = _seal(record.id, network_id, secret, previous, headers)
        sets["header_names"] = sorted(headers) or None
    if not sets and not removals:
        return record, None
    record = WEBHOOKS.update(record, sets, removals=removals,
                             event={"name": sets.get("name", record.name),
                                    "secret_rotated": new_secret is not None})
    return record, new_secret


def delete_webhook(network_id: str, webhook_id: str) -> None:
    WEBHOOKS.delete(WEBHOOKS.get(network_id, webhook_id))


def get_webhook(network_id: str, webhook_id: str) -> W:
    return WEBHOOKS.get(network_id, webhook_id)


def list_webhooks(network_id: str, **paging) -> Page:
    return WEBHOOKS.list(network_id, **paging)


def active(network_id: str) -> list[W]:
    """The network's live, active webhooks (one Query; the matcher's per-batch read)."""
    return list(W.query(WEBHOOKS.key(network_id, "")[0], W.sk > COUNTER_SK,
                        filter_condition=W.deleted_at.does_not_exist() & (W.is_active == True),  # noqa: E712
                        consistent_read=True))


def subscribed(record: W, event) -> bool:
    """Whether the webhook wants this event: its type matches, and it happened after the
    webhook was made."""
    return (event.created_at or 0) >= (record.created_at or 0) and \
        fanout.subscribed(record.events or ["*"], event.type)


def payload(network_id: str, event_id: str, event_type: str, created_at: int, data: dict) -> str:
    """The body every receiver gets: the Standard Webhooks shape (`type`, `timestamp`,
    `data`), with the event id and, for the peer's clients, `event`."""
    return json.dumps({"id": event_id, "type": event_type, "event": event_type,
                       "timestamp": iso(created_at), "network_id": network_id, "data": data},
                      separators=(",", ":"), sort_keys=True, default=str)


def delivery_for(record: W, event) -> deliveries.D:
    return deliveries.new(record.network_id, "webhook", record.id,
                          body=payload(record.network_id, event.sk, event.type,
                                       event.created_at, event.data or {}),
                          event_id=event.sk, event_type=event.type,
                          retry_policy=record.retry_policy)


def test_webhook(network_id: str, webhook_id: str):
    """One real, signed delivery now (recorded in the log): (delivery, outcome)."""
    record = WEBHOOKS.get(network_id, webhook_id)
    stamp = now_ms()
    delivery = deliveries.new(network_id, "webhook", record.id, event_id=None,
                              event_type=TEST_EVENT, body="")
    delivery.body = payload(network_id, delivery.sk, TEST_EVENT, stamp, {
        "webhook_id": record.id, "message": "This is a test payload from Switchboard"})
    return deliveries.deliver_now(delivery)


def list_deliveries(network_id: str, webhook_id: str, **paging) -> Page:
    WEBHOOKS.get(network_id, webhook_id)
    return deliveries.list_deliveries(network_id, "webhook", webhook_id, **paging)


# --------------------------------------------------------------------------- sending


def _prepare(delivery) -> deliveries.Send:
    try:
        record = WEBHOOKS.get(delivery.network_id, delivery.target_id)
    except NotFound:
        raise deliveries.TargetGone("the webhook was deleted") from None
    if not record.is_active and delivery.event_type != TEST_EVENT:
        why = record.disabled_reason or "by an operator"
        raise deliveries.TargetGone(f"the webhook is disabled ({why})")
    try:
        breaker = guard.target(record.url).breaker_name
    except guard.Refused:
        breaker = "invalid-target"
    opened = _open(record)
    secrets = [opened["secret"]]
    if opened.get("previous") and (record.previous_until or 0) > now_ms():
        secrets.append(opened["previous"])
    body = delivery.body.encode()

    def perform():
        signed = signing.headers(secrets, f"msg_{delivery.sk}", int(time.time()), body)
        return send(Request("POST", record.url, body, headers=opened.get("headers") or {},
                            signed=signed))
    return deliveries.Send(breaker, perform)


def _settle(delivery) -> None:
    """A delivery ended: keep the webhook's health, and switch it off when it keeps failing."""
    now = now_ms()
    key = WEBHOOKS.key(delivery.network_id, delivery.target_id)
    if delivery.status == deliveries.SUCCEEDED:
        W(*key).update(actions=[W.last_triggered_at.set(now), W.last_success_at.set(now),
                                W.failure_count.set(0)], condition=W.pk.exists())
        return
    record = W(*key)
    record.update(actions=[W.last_triggered_at.set(now), W.failure_count.add(1)],
                  condition=W.pk.exists())
    if int(record.failure_count or 0) < DISABLE_AFTER or not record.is_active or record.deleted_at:
        return
    last = delivery.last_error or f"HTTP {delivery.last_status_code}"
    reason = f"{int(record.failure_count)} deliveries in a row failed (last: {last})"
    try:
        WEBHOOKS.update(record, {"is_active": False, "disabled_reason": reason},
                        event={"name": record.name, "disabled": True})
    except Exception:  # noqa: BLE001 - changed meanwhile (an operator acted): leave it to them
        return
    if record.owner_id:
        notifications.create(delivery.network_id, record.owner_id,
                             subject=f"Webhook {record.name} was disabled", body=reason,
                             severity="warning", metadata={"webhook_id": record.id})


deliveries.register("webhook", prepare=_prepare, settle=_settle)
