"""The events table: one ordered log per network, the source every stream reads.

Keys
- event  pk NET#<net>  sk <event_id>
The table has a DynamoDB stream (new images): the outbound matcher follows it
(services/outbound/matcher.py), so an event reaches webhooks and notification rules
without the request that made it waiting, and without being lost if that request's
process dies right after the commit.
Event ids are Hub2d's `<ms>-<suffix>`, so key order is time order and "everything after X"
is a key condition. Items expire by TTL after the retention period; readers never see
them sooner, and do not rely on TTL having run.
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.store.base import TableModel, meta

RETENTION_S = 7 * 24 * 3600


class EventRecord(TableModel):
    Meta = meta("events", stream="NEW_IMAGE")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)          # the event id
    type = UnicodeAttribute()
    target = UnicodeAttribute(null=True)           # addressed to one node/alias; None = everyone
    source = UnicodeAttribute(null=True)
    data = JSONAttribute()
    created_at = NumberAttribute()
    expires_at = NumberAttribute()                 # epoch seconds: the table's TTL attribute

    @property
    def event_id(self) -> str:
        return self.sk
