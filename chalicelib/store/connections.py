"""The connections table: live WebSocket connections.

Keys
- connection  pk CONN#<connection_id>  sk CONN           (global: API Gateway's $default and
                                                          $disconnect events carry only the id)
- listing     pk NET#<net>             sk CONN#<connection_id>  (who to push a network's events to)
Both expire by TTL two hours after connect, API Gateway's connection limit.
"""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute

from chalicelib.store.base import TableModel, meta

MAX_CONNECTION_S = 2 * 3600


class ConnectionRecord(TableModel):
    Meta = meta("connections")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    connection_id = UnicodeAttribute()
    network_id = UnicodeAttribute()
    protocol = UnicodeAttribute()              # node | events
    principal_kind = UnicodeAttribute(null=True)
    account_id = UnicodeAttribute(null=True)
    user_id = UnicodeAttribute(null=True)
    node_id = UnicodeAttribute(null=True)
    subscriptions = UnicodeSetAttribute(null=True)
    connected_at = NumberAttribute()
    expires_at = NumberAttribute()             # epoch seconds: the table's TTL attribute


def connection_key(connection_id: str) -> tuple[str, str]:
    return f"CONN#{connection_id}", "CONN"


def listing_key(network_id: str, connection_id: str) -> tuple[str, str]:
    return f"NET#{network_id}", f"CONN#{connection_id}"
