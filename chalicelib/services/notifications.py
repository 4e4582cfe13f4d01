"""In-app notifications, per recipient, and the rules that produce them from events.

A recipient is a user id (or, for credentials that belong to no user, the credential's
account id: see `recipient_of`). Each recipient's inbox is one partition with two counter
items; creating a notification adds one to both in the same transaction, reading one (or
all) subtracts from the unread count in the transaction that flips it, conditioned on it
being unread. So the count is right however many readers race: a notification is counted
down once, by whoever flipped it.

A new notification is also a `notification` event addressed to its recipient: it reaches
that recipient's `/ws` connections (and no one else's), and is never matched by rules or
webhooks (services/outbound/matcher.py), so notifications cannot breed notifications.

Rules (admin): an event pattern (`task.failed`, `task.*`, `*`), conditions that must all
equal the event's fields, a subject template, recipients for the in-app copy, and
channels (services/outbound/channels.py) to send it to through the delivery path.
"""
from __future__ import annotations

import json
import re

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib import logs
from chalicelib.clock import now_ms
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.ids import stream_id
from chalicelib.services import events, fanout
from chalicelib.services.records import COUNT_BUDGET, Family, Page
from chalicelib.store.base import cancelled_by_condition, page, transaction
from chalicelib.store.notifications import (FIRST_ID, UNREAD_SK, NotificationRecord as N,
                                            RuleRecord, inbox_pk)
from chalicelib.store.records import COUNTER_SK, Record

log = logs.get("notifications")
SEVERITIES = ("info", "warning", "error", "critical")
READ_RETENTION_S = 90 * 86400
READ_ALL_CHUNK = 25          # notifications flipped per transaction by read-all
MAX_SUBJECT = 500
MAX_BODY = 10_000
ID_PREFIX = "ntf_"
ADMINS = "admins"            # a rule recipient standing for the network's administrators
EVENT_PATTERN = re.compile(r"^(\*|[a-z0-9_-]+(\.[a-z0-9_-]+)*(\.\*)?)$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.]+)\}")


def recipient_of(principal) -> str:
    return principal.user_id or principal.account_id


# --------------------------------------------------------------------------- inbox


def _sk(notification_id: str) -> str:
    if not isinstance(notification_id, str) or not notification_id.startswith(ID_PREFIX):
        raise NotFound("Notification not found")
    return notification_id[len(ID_PREFIX):]


def public_id(record: N) -> str:
    return ID_PREFIX + record.sk


def create(network_id: str, recipient: str, *, subject: str, body: str = "",
           severity: str = "info", metadata: dict | None = None, rule_id: str | None = None,
           event_id: str | None = None) -> N | None:
    """Put a notification in a recipient's inbox (counted, pushed); None when this rule
    already notified them of this event."""
    if severity not in SEVERITIES:
        raise ValidationFailed("severity", f"'severity' must be one of {', '.join(SEVERITIES)}")
    stamp = now_ms()
    sk = f"{event_id}.{rule_id}" if event_id and rule_id else stream_id(stamp)
    pk = inbox_pk(network_id, recipient)
    record = N(pk, sk, kind="notification", id=ID_PREFIX + sk, network_id=network_id,
               created_at=stamp, updated_at=stamp, recipient=recipient,
               subject=str(subject)[:MAX_SUBJECT], body=str(body)[:MAX_BODY], severity=severity,
               is_read=False, metadata=metadata or {}, rule_id=rule_id, event_id=event_id)
    event = events.record(network_id, "notification", view(record), target=recipient)
    try:
        with transaction() as tx:
            tx.save(record, condition=N.pk.does_not_exist())
            tx.update(Record(pk, COUNTER_SK), actions=[Record.record_count.add(1)])
            tx.update(Record(pk, UNREAD_SK), actions=[Record.record_count.add(1)])
            tx.save(event)
    except TransactWriteError as error:
        if cancelled_by_condition(error):
            return None
        raise
    fanout.announce(network_id, [event])
    return record


def notify_admins(network_id: str, **notification) -> list[N]:
    """The same notification to every owner and administrator of the network."""
    return [made for recipient in admins(network_id)
            if (made := create(network_id, recipient, **notification)) is not None]


def admins(network_id: str) -> list[str]:
    from chalicelib.services import identity
    return [m.sk.split("#", 1)[1] for m in identity.list_members(network_id)
            if getattr(m, "role", None) in ("owner", "admin")]


def view(record: N) -> dict:
    from chalicelib.clock import iso
    return {"id": public_id(record), "channel": "in_app", "subject": record.subject,
            "body": record.body, "severity": record.severity, "is_read": bool(record.is_read),
            "read_at": iso(record.read_at), "metadata": record.metadata or {},
            "created_at": iso(record.created_at)}


def _count(network_id: str, recipient: str, sk: str) -> int:
    try:
        return max(0, int(Record.get(inbox_pk(network_id, recipient), sk,
                                     consistent_read=True).record_count or 0))
    except DoesNotExist:
        return 0


def unread_count(network_id: str, recipient: str) -> int:
    return _count(network_id, recipient, UNREAD_SK)


def list_notifications(network_id: str, recipient: str, *, unread: bool | None = None,
                       severity: str | None = None, limit: int = 50, offset: int = 0,
                       cursor: str | None = None) -> Page:
    condition = None
    if unread is not None:
        condition = N.is_read == (not unread)
    if severity:
        if severity not in SEVERITIES:
            raise ValidationFailed("severity", f"'severity' must be one of {', '.join(SEVERITIES)}")
        condition = (N.severity == severity) if condition is None else \
            condition & (N.severity == severity)
    pk = inbox_pk(network_id, recipient)
    items, next_cursor = page(N, pk, limit=limit, offset=offset, cursor=cursor,
                              range_key_condition=N.sk >= FIRST_ID, filter_condition=condition,
                              newest_first=True)
    if condition is None:
        total = _count(network_id, recipient, COUNTER_SK)
    elif severity is None:
        total = unread_count(network_id, recipient) if unread else \
            max(0, _count(network_id, recipient, COUNTER_SK) - unread_count(network_id, recipient))
    else:
        total = N.count(pk, N.sk >= FIRST_ID, filter_condition=condition, consistent_read=True,
                        limit=COUNT_BUDGET)
    return Page(items, next_cursor, total)


def _flip(tx, record: N, stamp: int) -> None:
    tx.update(record, actions=[N.is_read.set(True), N.read_at.set(stamp),
                               N.updated_at.set(stamp),
                               N.expires_at.set(stamp // 1000 + READ_RETENTION_S)],
              condition=N.is_read == False)  # noqa: E712 - a DynamoDB condition, not a test


def _read(record: N) -> bool:
    """Flip one unread notification and count it down; False if someone else did."""
    stamp = now_ms()
    try:
        with transaction() as tx:
            _flip(tx, record, stamp)
            tx.update(Record(record.pk, UNREAD_SK), actions=[Record.record_count.add(-1)])
    except TransactWriteError as error:
        if cancelled_by_condition(error):
            return False
        raise
    record.is_read, record.read_at = True, stamp
    return True


def mark_read(network_id: str, recipient: str, notification_id: str) -> N:
    """Mark one read (idempotent: reading a read one changes nothing)."""
    try:
        record = N.get(inbox_pk(network_id, recipient), _sk(notification_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound("Notification not found") from None
    if record.is_read or _read(record):
        return record
    return N.get(record.pk, record.sk, consistent_read=True)  # a concurrent reader flipped it


def mark_all_read(network_id: str, recipient: str) -> int:
    """Mark every unread notification read; how many this call flipped."""
    pk = inbox_pk(network_id, recipient)
    marked = 0
    while True:
        unread = list(N.query(pk, N.sk >= FIRST_ID, filter_condition=N.is_read == False,  # noqa: E712
                              consistent_read=True, limit=READ_ALL_CHUNK))
        if not unread:
            return marked
        stamp = now_ms()
        try:
            with transaction() as tx:
                for record in unread:
                    _flip(tx, record, stamp)
                tx.update(Record(pk, UNREAD_SK), actions=[Record.record_count.add(-len(unread))])
            marked += len(unread)
        except TransactWriteError as error:
            if not cancelled_by_condition(error):
                raise
            marked += sum(_read(record) for record in unread)  # someone read one meanwhile


# --------------------------------------------------------------------------- rules

RULES = Family(RuleRecord, kind="notification_rule", id_prefix="rul", label="Notification rule")


def event_pattern(value, field: str = "event_type") -> str:
    """An event type to match: a type (`task.failed`), a family (`task.*`) or `*`."""
    if not isinstance(value, str) or len(value) > 100 or not EVENT_PATTERN.match(value.strip()):
        raise ValidationFailed(field, f"'{field}' holds event types, families (`task.*`) or `*`")
    return value.strip()


def _rule_fields(network_id: str, fields: dict, *, creating: bool, actor: str | None) -> dict:
    out = {}
    if creating or fields.get("name") is not None:
        name = fields.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValidationFailed("name", "'name' is required (at most 200 characters)")
        out["name"] = name.strip()
    if creating or fields.get("event_type") is not None:
        out["event_type"] = event_pattern(fields.get("event_type"))
    if fields.get("conditions") is not None:
        if not isinstance(fields["conditions"], dict) or len(json.dumps(fields["conditions"],
                                                                        default=str)) > 4000:
            raise ValidationFailed("conditions", "'conditions' is an object of field: value")
        out["conditions"] = fields["conditions"]
    channels = fields.get("channel_ids")
    channel = fields.get("channel")
    if channel in ("email", "slack", "webhook", "telegram"):
        raise ValidationFailed("channel", "'channel' is a channel id (create channels at "
                                          "/api/v1/notifications/channels) or 'in_app'")
    if channels is None and channel not in (None, "in_app"):
        channels = [channel]
    if channels is not None:
        from chalicelib.services.outbound import channels as channel_service
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise ValidationFailed("channel_ids", "'channel_ids' is a list of channel ids")
        for channel_id in channels:
            channel_service.get_channel(network_id, channel_id)
        out["channel_ids"] = list(dict.fromkeys(channels))
    if fields.get("recipients") is not None:
        recipients = fields["recipients"]
        if not isinstance(recipients, list) or not all(isinstance(r, str) and r for r in recipients):
            raise ValidationFailed("recipients", "'recipients' is a list of user ids or 'admins'")
        out["recipients"] = recipients
    elif creating:
        out["recipients"] = [actor] if actor else [ADMINS]
    for flag in ("in_app", "is_active"):
        if fields.get(flag) is not None:
            if not isinstance(fields[flag], bool):
                raise ValidationFailed(flag, f"'{flag}' must be true or false")
            out[flag] = fields[flag]
        elif creating:
            out[flag] = True
    if fields.get("severity") is not None or creating:
        severity = fields.get("severity") or "info"
        if severity not in SEVERITIES:
            raise ValidationFailed("severity", f"'severity' must be one of {', '.join(SEVERITIES)}")
        out["severity"] = severity
    if fields.get("template") is not None:
        if not isinstance(fields["template"], str) or len(fields["template"]) > MAX_SUBJECT:
            raise ValidationFailed("template", f"'template' is a string of at most {MAX_SUBJECT}")
        out["template"] = fields["template"]
    return out


def create_rule(network_id: str, *, actor: str | None, recipient: str | None, **fields) -> RuleRecord:
    values = _rule_fields(network_id, fields, creating=True, actor=recipient)
    record = RULES.new(network_id, created_by=actor, **values)
    return RULES.create(record, event={"name": record.name, "event_type": record.event_type})


def update_rule(network_id: str, rule_id: str, **fields) -> RuleRecord:
    record = RULES.get(network_id, rule_id)
    values = _rule_fields(network_id, fields, creating=False, actor=None)
    return RULES.update(record, values, event={"name": values.get("name", record.name)}) \
        if values else record


def delete_rule(network_id: str, rule_id: str) -> None:
    RULES.delete(RULES.get(network_id, rule_id))


def list_rules(network_id: str, **paging) -> Page:
    return RULES.list(network_id, **paging)


def active_rules(network_id: str) -> list[RuleRecord]:
    return list(RuleRecord.query(RULES.key(network_id, "")[0], RuleRecord.sk > COUNTER_SK,
                                 filter_condition=RuleRecord.deleted_at.does_not_exist() &
                                 (RuleRecord.is_active == True),  # noqa: E712
                                 consistent_read=True))


def _field(event, path: str):
    source = {"type": event.type, "id": event.sk, "data": event.data or {}}
    parts = path.split(".")
    value = source if parts[0] in source else source["data"]
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def render(template: str, event) -> str:
    """`{type}`, `{id}`, `{data.task_id}` (or `{task_id}`) replaced by the event's values;
    anything else is left as written. No format specs, no attribute access."""
    def replace(match):
        value = _field(event, match.group(1))
        return match.group(0) if value is None else str(value)
    return _PLACEHOLDER.sub(replace, template)


def apply(network_id: str, event, rule: RuleRecord) -> dict | None:
    """Run a rule on an event: the in-app notifications are made here; the message for the
    rule's channels is returned (None when the rule does not match)."""
    if (event.created_at or 0) < (rule.created_at or 0) or \
            not fanout.subscribed([rule.event_type], event.type):
        return None
    if any(_field(event, path) != expected for path, expected in (rule.conditions or {}).items()):
        return None
    subject = render(rule.template or "Event: {type}", event)
    body = json.dumps(event.data or {}, indent=2, sort_keys=True, default=str)
    metadata = {"event_id": event.sk, "event_type": event.type, "rule_id": rule.id}
    if rule.in_app:
        recipients = []
        for name in rule.recipients or ():
            recipients += admins(network_id) if name == ADMINS else [name]
        for recipient in dict.fromkeys(recipients):
            create(network_id, recipient, subject=subject, body=body,
                   severity=rule.severity or "info", metadata=metadata, rule_id=rule.id,
                   event_id=event.sk)
    return {"subject": subject, "body": body, "severity": rule.severity or "info",
            "event_type": event.type, "event_id": event.sk, "data": event.data or {}}
