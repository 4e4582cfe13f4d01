"""In-app notifications and the rules that make them (records table).

- notification  pk NET#<net>#USER#<recipient>#NOTIFICATION  sk <ms>-<suffix>[.<rule id>]
                one recipient's inbox, newest first by key; a rule's notification for an
                event has the event id and rule id as its key, so matching twice is a no-op
- unread        same pk, sk #UNREAD: the recipient's unread count, changed in the same
                transaction as the notification it counts (create +1, read -1)
- rule          pk NET#<net>#NOTIFICATION_RULE   sk <rul id>   event pattern, conditions,
                recipients and channels
A read notification expires (TTL) after a retention period; an unread one is kept.
"""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, JSONAttribute, ListAttribute,
                                 NumberAttribute, UnicodeAttribute)

from chalicelib.store.records import Record, child_pk

UNREAD_SK = "#UNREAD"
FIRST_ID = "0"          # every notification key sorts after this, every counter before


class NotificationRecord(Record):
    recipient = UnicodeAttribute(null=True)
    subject = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)
    severity = UnicodeAttribute(null=True)
    is_read = BooleanAttribute(null=True)
    read_at = NumberAttribute(null=True)
    metadata = JSONAttribute(null=True)
    rule_id = UnicodeAttribute(null=True)
    event_id = UnicodeAttribute(null=True)


class RuleRecord(Record):
    name = UnicodeAttribute(null=True)
    event_type = UnicodeAttribute(null=True)                    # a type, `family.*` or `*`
    conditions = JSONAttribute(null=True)                       # {"data.field": value}: all equal
    channel_ids = ListAttribute(of=UnicodeAttribute, null=True)
    in_app = BooleanAttribute(null=True)
    recipients = ListAttribute(of=UnicodeAttribute, null=True)
    severity = UnicodeAttribute(null=True)
    template = UnicodeAttribute(null=True)                      # the subject: `{type}`, `{data.x}`
    is_active = BooleanAttribute(null=True)


def inbox_pk(network_id: str, recipient: str) -> str:
    return child_pk(network_id, "user", recipient, "notification")
