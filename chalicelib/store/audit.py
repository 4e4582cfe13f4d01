"""Audit records, in the records table: append-only, one per state-changing request.

Keys
- entry  pk NET#<net>#AUDIT#<yyyy-mm>  sk <ulid>   a month of one network's audit trail;
         newest first is a Query per month, walking back month by month
Entries are written once (conditioned on not existing) and never updated.
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.store.records import Record


class AuditRecord(Record):
    action = UnicodeAttribute(null=True)
    outcome = UnicodeAttribute(null=True)          # success | failure | denied
    status_code = NumberAttribute(null=True)
    actor_type = UnicodeAttribute(null=True)       # user | node | token | system | anonymous
    actor_id = UnicodeAttribute(null=True)
    credential = UnicodeAttribute(null=True)       # the credential kind that authenticated
    target_type = UnicodeAttribute(null=True)
    target_id = UnicodeAttribute(null=True)
    source_ip = UnicodeAttribute(null=True)
    dialect = UnicodeAttribute(null=True)
    method = UnicodeAttribute(null=True)
    route = UnicodeAttribute(null=True)            # the route template, never the raw path
    request_id = UnicodeAttribute(null=True)
    details = JSONAttribute(null=True)             # small, secret-free facts a service adds


def month_pk(network_id: str, month: str) -> str:
    return f"NET#{network_id}#AUDIT#{month}"
