"""The nodes table: every agent node of a network, whichever dialect registered it.

Keys
- node  pk NET#<net>  sk NODE#<node_id>
A network's nodes are one partition: routing reads them all (a network has hundreds of
nodes, not millions), and the cost does not grow with tasks or messages.
"""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, JSONAttribute, ListAttribute, NumberAttribute,
                                 UnicodeAttribute, UnicodeSetAttribute)

from chalicelib.store.base import TableModel, meta


class NodeRecord(TableModel):
    Meta = meta("nodes")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    node_id = UnicodeAttribute()
    network_id = UnicodeAttribute()
    name = UnicodeAttribute()
    kind = UnicodeAttribute()                     # the dialect that registered it
    capabilities = ListAttribute(of=UnicodeAttribute, default=list)
    languages = ListAttribute(of=UnicodeAttribute, default=list)
    status = UnicodeAttribute(default="online")   # persisted state: online | offline (by the sweep)
    activity = UnicodeAttribute(null=True)        # what the node reports: idle | working | ...
    last_heartbeat = NumberAttribute()            # epoch ms
    load = NumberAttribute(default=0)             # 0..1, as the node reports it
    active_tasks = NumberAttribute(default=0)     # tasks it holds now
    handoff = UnicodeSetAttribute(null=True)      # ids of tasks assigned to it, not yet handed
                                                  # to it (services/handoff.py)
    max_concurrent = NumberAttribute(default=1)
    last_assigned_at = NumberAttribute(default=0)  # fairness among equals
    approved = BooleanAttribute(default=True)
    group = UnicodeAttribute(null=True)
    connection_id = UnicodeAttribute(null=True)
    account_id = UnicodeAttribute(null=True)
    metadata = JSONAttribute(default=dict)        # hostname, ip, os, cpu, agent, model, ...
    registered_at = NumberAttribute()
    updated_at = NumberAttribute(null=True)


def node_key(network_id: str, node_id: str) -> tuple[str, str]:
    return f"NET#{network_id}", f"NODE#{node_id}"
