"""What a trigger's `notify` action and a workflow's `notify` step send: real notifications.

The config names who and where (checked when the trigger or step is made):
- `recipients`: user ids, or `admins` (the network's owners and administrators); the
  platform's single `user_id` is accepted too. Each gets an in-app notification
  (services/notifications.py: counted, pushed on /ws as `notification` to them only).
- `channel_ids` (or the platform's `channel`: a channel id, or `in_app`): each gets the
  message through the delivery path (services/outbound/channels.py: durable, retried).
- `subject`, `body`, `severity`.
Naming no one and no channel tells the network's administrators (the platform's own
default, a notification with no user, is seen by nobody).

Sends are keyed by their cause (`key`: a firing, a run's step): running the same cause
again creates no second notification and no second delivery.
"""
from __future__ import annotations

import hashlib

from chalicelib.errors import ValidationFailed

MAX_RECIPIENTS = 50


def _recipients(config: dict) -> list[str]:
    named = config.get("recipients")
    if named is None and config.get("user_id") is not None:
        named = [config["user_id"]]
    return named if named is not None else []


def _channels(config: dict) -> list[str]:
    named = config.get("channel_ids")
    if named is None and config.get("channel") not in (None, "in_app"):
        named = [config["channel"]]
    return named if named is not None else []


def check(network_id: str, config: dict, field: str) -> None:
    """ValidationFailed (422) for a malformed config, NotFound for an unknown channel."""
    from chalicelib.services import notifications
    from chalicelib.services.outbound import channels
    recipients, channel_ids = _recipients(config), _channels(config)
    for name, values in (("recipients", recipients), ("channel_ids", channel_ids)):
        if not isinstance(values, list) or len(values) > MAX_RECIPIENTS or \
                not all(isinstance(v, str) and v.strip() for v in values):
            raise ValidationFailed(f"{field}.{name}", f"'{name}' is a list of at most "
                                                      f"{MAX_RECIPIENTS} ids")
    severity = config.get("severity")
    if severity is not None and severity not in notifications.SEVERITIES:
        raise ValidationFailed(f"{field}.severity",
                               f"one of {', '.join(notifications.SEVERITIES)}")
    for channel_id in channel_ids:
        channels.get_channel(network_id, channel_id)


def send(network_id: str, config: dict, *, subject: str, body: str, key: str, at_ms: int,
         source: str, metadata: dict) -> dict:
    """Notify the config's recipients in-app and send to its channels, once per `key`."""
    from chalicelib.services import notifications
    from chalicelib.services.outbound import channels
    recipients, channel_ids = _recipients(config), _channels(config)
    if not recipients and not channel_ids:
        recipients = [notifications.ADMINS]
    users = []
    for name in recipients:
        users += notifications.admins(network_id) if name == notifications.ADMINS else [name]
    # an id shaped like an event id (time first, so inboxes stay newest first), unique to
    # the cause: the notification's and the delivery's key, so a rerun makes neither twice
    cause_id = f"{int(at_ms):013d}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    severity = config.get("severity") or "info"
    made = [notifications.create(network_id, user, subject=subject, body=body,
                                 severity=severity, metadata=metadata, rule_id=source,
                                 event_id=cause_id)
            for user in dict.fromkeys(users)]
    sent = [channels.send(network_id, channel_id, subject=subject, body=body, severity=severity,
                          data=metadata, event_type="notification", event_id=cause_id)
            for channel_id in channel_ids]
    return {"notified": [notifications.public_id(n) for n in made if n is not None],
            "recipients": list(dict.fromkeys(users)), "channel_ids": channel_ids,
            "deliveries": [d.id for d in sent]}
