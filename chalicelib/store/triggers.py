"""Triggers and their firings (records table, store/records.py keys).

- trigger     family `trigger`; an active schedule trigger sits in the by_time index under
              `DUE#TRIGGER` at its next due time (`next_fire_at`), so the sweep finds what
              is due with one Query
- event index child `trigger/EVENTS/ACTIVE`, sk <trigger id>: a network's active event
              triggers and what they match, read as one small Query per batch of events
- firing      child `trigger/<id>/FIRING`, sk `<epoch ms, 13 digits>#<cause>`: one per
              due time, event or webhook call (a conditional put: a cause fires once);
              while its action runs it sits under `DUE#FIRING`, so a firing cut short by a
              crash is run again (its action is idempotent)
- hook        pk `HOOK#<trigger id>`, sk `HOOK`: a webhook trigger's network and token
              hash, looked up before the network is known (the caller has only the token)
"""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, JSONAttribute, NumberAttribute,
                                 UnicodeAttribute)

from chalicelib.store.records import Record, child_pk

TRIGGER_DUE = "DUE#TRIGGER"
FIRING_DUE = "DUE#FIRING"


class TriggerRecord(Record):
    name = UnicodeAttribute(null=True)
    trigger_type = UnicodeAttribute(null=True)      # schedule|event|webhook
    config = JSONAttribute(null=True)
    action_type = UnicodeAttribute(null=True)
    action_config = JSONAttribute(null=True)
    is_active = BooleanAttribute(null=True)
    next_fire_at = NumberAttribute(null=True)
    last_fired_at = NumberAttribute(null=True)
    fire_count = NumberAttribute(null=True)
    success_count = NumberAttribute(null=True)
    failure_count = NumberAttribute(null=True)
    duration_sum = NumberAttribute(null=True)


class EventMatchRecord(Record):
    event_type = UnicodeAttribute(null=True)
    filters = JSONAttribute(null=True)


class FiringRecord(Record):
    trigger_id = UnicodeAttribute(null=True)
    cause = JSONAttribute(null=True)                # {"type": "schedule", "due_at": ...}
    status = UnicodeAttribute(null=True)            # running|success|failure
    result = JSONAttribute(null=True)               # what it created
    error = UnicodeAttribute(null=True)
    duration_ms = NumberAttribute(null=True)
    event_data = JSONAttribute(null=True)


class HookRecord(Record):
    token_hash = UnicodeAttribute(null=True)


def event_index_pk(network_id: str) -> str:
    return child_pk(network_id, "trigger", "EVENTS", "ACTIVE")


def firing_pk(network_id: str, trigger_id: str) -> str:
    return child_pk(network_id, "trigger", trigger_id, "FIRING")


def hook_key(trigger_id: str):
    return f"HOOK#{trigger_id}", "HOOK"
