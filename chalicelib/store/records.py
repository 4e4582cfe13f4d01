"""The records table: the platform's own families (agents, workflows, triggers, approvals,
webhooks, secrets, notifications, settings, audit, ...), one shape for all of them.

Each family subclasses `Record` with its own attributes; all share these keys:
- record    pk NET#<net>#<KIND>                    sk <id>          a family's records in
            one network: a list is one Query (ids are ULIDs, so key order is creation order)
- child     pk NET#<net>#<KIND>#<parent id>#<CHILD> sk <id>         records belonging to one
            record (a workflow's steps, a conversation's messages, a trigger's firings)
- name      pk NET#<net>#<KIND>#NAME               sk <folded name> a claimed unique name,
            written in the same transaction as its record (`claim_name`)
- counter   pk NET#<net>#<KIND>                    sk #COUNT        live records, kept in
            the transaction that creates or deletes one (`total` without counting)
Index by_time (time_pk, time_sk = "<epoch ms, 13 digits>#<id>"), sparse: records that
become due or expire at a time, found by a Query on time, never a Scan. Families choose
the partition: `DUE#<KIND>` for work a scheduled function picks up in every network
(triggers to fire, deliveries to retry), `NET#<net>#<KIND>#<what>` for questions asked in
one network (secrets expiring within N days).
"""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from chalicelib.store.base import TableModel, meta

COUNTER_SK = "#COUNT"


class ByTime(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_time"
        projection = AllProjection()

    time_pk = UnicodeAttribute(hash_key=True)
    time_sk = UnicodeAttribute(range_key=True)


class Record(TableModel):
    """What every family record carries; families add their own attributes in subclasses
    (same table, same keys)."""
    Meta = meta("records")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(null=True)
    id = UnicodeAttribute(null=True)
    network_id = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(null=True)        # the creator's account id
    created_at = NumberAttribute(null=True)         # epoch ms
    updated_at = NumberAttribute(null=True)
    deleted_at = NumberAttribute(null=True)         # soft delete: hidden from lists and gets
    version = NumberAttribute(null=True)            # bumped by every update (optimistic checks)
    time_pk = UnicodeAttribute(null=True)
    time_sk = UnicodeAttribute(null=True)
    record_count = NumberAttribute(null=True)       # counter items
    expires_at = NumberAttribute(null=True)         # epoch seconds: the table's TTL attribute

    by_time = ByTime()


def family_pk(network_id: str, kind: str) -> str:
    return f"NET#{network_id}#{kind.upper()}"


def child_pk(network_id: str, kind: str, parent_id: str, child: str) -> str:
    return f"{family_pk(network_id, kind)}#{parent_id}#{child.upper()}"


def name_key(network_id: str, kind: str, name: str) -> tuple[str, str]:
    return f"{family_pk(network_id, kind)}#NAME", name.strip().casefold()


def time_key(ms: int, record_id: str) -> str:
    return f"{int(ms):013d}#{record_id}"
