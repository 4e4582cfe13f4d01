"""Notification channels: where a rule's message goes besides the in-app inbox. Every send
is a delivery (deliveries.py): durable, retried, logged, behind a circuit breaker.

| type     | config (plain)                 | secret (sealed by the vault)  | the request                         |
|----------|--------------------------------|-------------------------------|-------------------------------------|
| slack    |                                | webhook_url                   | POST {"text": "*subject*\\nbody"}     |
| webhook  | url                            | secret (optional: signs)      | POST the message, Standard Webhooks |
| telegram | chat_id, api_base (default the | bot_token                     | POST <api_base>/bot<token>/sendMessage |
|          | Bot API)                       |                               | {chat_id, text, parse_mode: Markdown} |
| email    | to (addresses)                 |                               | SES SendEmail from SWITCHBOARD_MAIL_FROM |

Secret fields are listed masked (the last four characters of a long value, else
`********`), never returned in clear after they are set.
"""
from __future__ import annotations

import json
import re
import time

from chalicelib import clients
from chalicelib.config import settings
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.services import vault
from chalicelib.services.outbound import deliveries, guard, http, signing
from chalicelib.services.records import Family, Page
from chalicelib.store.outbound import ChannelRecord as C

CHANNELS = Family(C, kind="channel", id_prefix="chn", label="Notification channel")
TELEGRAM_API = "https://api.telegram.org"
SES_BREAKER = "ses"
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
MAX_RECIPIENTS = 50
# type: (plain fields, secret fields, required fields, fields holding a URL)
TYPES = {
    "slack": ((), ("webhook_url",), ("webhook_url",), ("webhook_url",)),
    "webhook": (("url",), ("secret",), ("url",), ("url",)),
    "telegram": (("chat_id", "api_base"), ("bot_token",), ("chat_id", "bot_token"), ("api_base",)),
    "email": (("to",), (), ("to",), ()),
}


def _purpose(channel_id: str) -> str:
    return f"channel/{channel_id}"


def _clean(kind: str, config: dict, *, partial: bool) -> tuple[dict, dict]:
    """(plain, secret) fields of a channel's config, checked."""
    plain_fields, secret_fields, required, url_fields = TYPES[kind]
    unknown = set(config) - set(plain_fields) - set(secret_fields)
    if unknown:
        raise ValidationFailed("config", f"a {kind} channel's config holds only "
                                         f"{', '.join(plain_fields + secret_fields)}")
    if not partial:
        missing = [f for f in required if config.get(f) in (None, "", [])]
        if missing:
            raise ValidationFailed(f"config.{missing[0]}", f"a {kind} channel needs "
                                                           f"'{missing[0]}'")
    plain, secret = {}, {}
    for field, value in config.items():
        if value is None:
            continue
        if field == "to":
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not 0 < len(value) <= MAX_RECIPIENTS or \
                    not all(isinstance(a, str) and EMAIL.match(a.strip()) for a in value):
                raise ValidationFailed("config.to", "'to' is a list of email addresses")
            value = [a.strip() for a in value]
        elif field == "chat_id":
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise ValidationFailed("config.chat_id", "'chat_id' is a chat id or @channel")
        elif not isinstance(value, str) or not value.strip() or len(value) > 2048:
            raise ValidationFailed(f"config.{field}", f"'{field}' must be a non-empty string")
        if field in url_fields:
            try:
                guard.check_url(value)
            except guard.Refused as refused:
                raise ValidationFailed(f"config.{field}", refused.message) from None
        (secret if field in secret_fields else plain)[field] = value
    return plain, secret


def _kind(value) -> str:
    if value not in TYPES:
        raise ValidationFailed("type", f"'type' is one of {', '.join(TYPES)}")
    return value


def _seal(record: C, secret: dict) -> None:
    record.sealed = vault.seal(json.dumps(secret), network_id=record.network_id,
                               purpose=_purpose(record.id)) if secret else None
    record.hints = {k: vault.hint(v) or vault.MASK for k, v in secret.items()}


def _secrets(record: C) -> dict:
    if not record.sealed:
        return {}
    return json.loads(vault.unseal(record.sealed, network_id=record.network_id,
                                   purpose=_purpose(record.id)))


def create_channel(network_id: str, *, actor: str | None, name, type, config=None,
                   is_active=True) -> C:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationFailed("name", "'name' is required (at most 200 characters)")
    kind = _kind(type)
    if config is not None and not isinstance(config, dict):
        raise ValidationFailed("config", "'config' is an object")
    plain, secret = _clean(kind, config or {}, partial=False)
    record = CHANNELS.new(network_id, created_by=actor, name=name.strip(), channel_type=kind,
                          config=plain, is_active=is_active is not False)
    _seal(record, secret)
    return CHANNELS.create(record, event={"name": record.name, "type": kind})


def update_channel(network_id: str, channel_id: str, *, name=None, config=None,
                   is_active=None) -> C:
    """Change a channel; config fields given replace those stored (secret ones too)."""
    record = CHANNELS.get(network_id, channel_id)
    sets = {}
    if name is not None:
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValidationFailed("name", "'name' is at most 200 characters")
        sets["name"] = name.strip()
    if is_active is not None:
        if not isinstance(is_active, bool):
            raise ValidationFailed("is_active", "'is_active' must be true or false")
        sets["is_active"] = is_active
    if config is not None:
        if not isinstance(config, dict):
            raise ValidationFailed("config", "'config' is an object")
        plain, secret = _clean(record.channel_type, config, partial=True)
        sets["config"] = {**(record.config or {}), **plain}
        if secret:
            _seal(record, {**_secrets(record), **secret})
            sets.update(sealed=record.sealed, hints=record.hints)
    return CHANNELS.update(record, sets, event={"name": sets.get("name", record.name)}) \
        if sets else record


def delete_channel(network_id: str, channel_id: str) -> None:
    CHANNELS.delete(CHANNELS.get(network_id, channel_id))


def get_channel(network_id: str, channel_id: str) -> C:
    try:
        return CHANNELS.get(network_id, channel_id)
    except NotFound:
        raise NotFound(f"Notification channel {channel_id} not found") from None


def list_channels(network_id: str, **paging) -> Page:
    return CHANNELS.list(network_id, **paging)


def masked_config(record: C) -> dict:
    return {**(record.config or {}), **(record.hints or {})}


def send(network_id: str, channel_id: str, *, subject: str, body: str = "",
         severity: str = "info", data: dict | None = None, event_type: str = "message",
         event_id: str | None = None) -> deliveries.D:
    """Send a message to a channel through the delivery path (queued, retried, logged):
    for callers other than rules, such as a trigger's action. An `event_id` keys the
    delivery (sending again with it is a no-op); without one each send is new."""
    get_channel(network_id, channel_id)
    message = {"subject": subject, "body": body, "severity": severity, "event_type": event_type,
               "event_id": event_id, "data": data or {}}
    return deliveries.start([delivery_for(network_id, channel_id, message)])[0]


def delivery_for(network_id: str, channel_id: str, message: dict) -> deliveries.D:
    body = json.dumps(message, separators=(",", ":"), sort_keys=True, default=str)
    return deliveries.new(network_id, "channel", channel_id, body=body,
                          event_id=message.get("event_id"), event_type=message["event_type"])


# --------------------------------------------------------------------------- sending


def _text(message: dict) -> str:
    return f"*{message['subject']}*\n{message['body']}"


def _email(record: C, message: dict) -> http.Outcome:
    from botocore.exceptions import BotoCoreError, ClientError
    started = time.monotonic()
    try:
        answer = clients.aws("ses").send_email(
            Source=settings().mail_from, Destination={"ToAddresses": record.config["to"]},
            Message={"Subject": {"Data": message["subject"][:900], "Charset": "UTF-8"},
                     "Body": {"Text": {"Data": message["body"], "Charset": "UTF-8"}}})
    except (ClientError, BotoCoreError) as error:
        code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
        return http.Outcome(latency_ms=_ms(started), error=f"SES: {code}")
    return http.Outcome(status_code=200, latency_ms=_ms(started),
                   body=answer.get("MessageId", "").encode())


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _prepare(delivery) -> deliveries.Send:
    try:
        record = CHANNELS.get(delivery.network_id, delivery.target_id)
    except NotFound:
        raise deliveries.TargetGone("the channel was deleted") from None
    if not record.is_active:
        raise deliveries.TargetGone("the channel is switched off")
    message = json.loads(delivery.body)
    if record.channel_type == "email":
        return deliveries.Send(SES_BREAKER, lambda: _email(record, message))
    secret = _secrets(record)
    config = record.config or {}
    signed = {}
    if record.channel_type == "slack":
        url, body = secret["webhook_url"], json.dumps({"text": _text(message)}).encode()
    elif record.channel_type == "telegram":
        url = f"{config.get('api_base', TELEGRAM_API).rstrip('/')}/bot{secret['bot_token']}/sendMessage"
        body = json.dumps({"chat_id": config["chat_id"], "text": _text(message),
                           "parse_mode": "Markdown"}).encode()
    else:
        url, body = config["url"], delivery.body.encode()
        if secret.get("secret"):
            signed = signing.headers([secret["secret"]], f"msg_{delivery.sk}", int(time.time()),
                                     body)
    request = http.Request("POST", url, body, signed=signed)
    return deliveries.Send(guard.target(url).breaker_name, lambda: http.send(request))


deliveries.register("channel", prepare=_prepare, settle=lambda delivery: None)
