"""The messages table: every dialect's messages, their pending deliveries, Hub2d replies,
and who is reading event streams.

Keys
- message   pk NET#<net>                     sk MSG#<msg_id>     (by id; network list,
            GSI by_recipient: to_key NET#<net>#<recipient>, sk msg_id  newest first)
            GSI by_sender:    from_key NET#<net>#<sender>, sk msg_id
- pending   pk NET#<net>#PENDING#<recipient>  sk <msg_id>         (a delivery not yet done:
            strongly consistent, oldest first; it carries the message, so receiving needs no
            second read; removed when delivered, or when acknowledged for `require_ack`)
- reply     pk NET#<net>#REPLY#<event_id>     sk <reply_id>       (Hub2d replies)
- presence  pk NET#<net>#PRESENCE             sk <subscriber>     (stream readers, expiring;
            with the last span of events read past that held nothing for them)
- idempotency pk NET#<net>#IDEM#<account>      sk KEY#<key>        → the message it sent
            (store.base.idempotency_key: keys are per principal)
Message ids are ULIDs (`msg-…`): key order is time order.
"""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, JSONAttribute, NumberAttribute,
                                 UnicodeAttribute)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.store.base import TableModel, meta


class ByRecipient(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_recipient"
        projection = AllProjection()

    to_key = UnicodeAttribute(hash_key=True)
    msg_id = UnicodeAttribute(range_key=True)


class BySender(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_sender"
        projection = AllProjection()

    from_key = UnicodeAttribute(hash_key=True)
    msg_id = UnicodeAttribute(range_key=True)


class MessageRecord(TableModel):
    Meta = meta("messages")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    msg_id = UnicodeAttribute(null=True)
    network_id = UnicodeAttribute(null=True)
    to_key = UnicodeAttribute(null=True)
    from_key = UnicodeAttribute(null=True)
    sender = UnicodeAttribute(null=True)
    recipient = UnicodeAttribute(null=True)
    content = UnicodeAttribute(null=True)
    type = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)          # platform channel, Hub2d room
    subject = UnicodeAttribute(null=True)
    broadcast_id = UnicodeAttribute(null=True)
    require_ack = BooleanAttribute(null=True)
    event_id = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)           # dialect it came in through
    extra = JSONAttribute(null=True)
    visible_at = NumberAttribute(null=True)        # pending: deliverable from (ms)
    deliveries = NumberAttribute(null=True)        # pending: times handed out
    read_at = NumberAttribute(null=True)
    created_at = NumberAttribute(null=True)
    # replies (Hub2d) and presence
    reply_id = UnicodeAttribute(null=True)
    text = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    truncated = NumberAttribute(null=True)
    orig_len = NumberAttribute(null=True)
    latency_ms = NumberAttribute(null=True)
    client_latency_ms = NumberAttribute(null=True)  # reply: what the replying client measured
    error_code = UnicodeAttribute(null=True)        # reply
    error_detail = UnicodeAttribute(null=True)      # reply
    skip_from = UnicodeAttribute(null=True)         # presence: no event in (skip_from,
    skip_to = UnicodeAttribute(null=True)           #   skip_to] is for this reader
    expires_at = NumberAttribute(null=True)        # epoch seconds: the table's TTL attribute
    request_hash = UnicodeAttribute(null=True)     # idempotency marker: what the send asked

    by_recipient = ByRecipient()
    by_sender = BySender()


def message_key(network_id: str, msg_id: str) -> tuple[str, str]:
    return f"NET#{network_id}", f"MSG#{msg_id}"


def pending_pk(network_id: str, recipient: str) -> str:
    return f"NET#{network_id}#PENDING#{recipient}"


def party_key(network_id: str, node: str) -> str:
    return f"NET#{network_id}#{node}"


def replies_pk(network_id: str, event_id: str) -> str:
    return f"NET#{network_id}#REPLY#{event_id}"


def presence_pk(network_id: str) -> str:
    return f"NET#{network_id}#PRESENCE"

