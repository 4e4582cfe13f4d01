"""What reactions to committed changes keep (records table):

- checkpoint  pk NET#<net>#REACTOR  sk CHECKPOINT   the last event of the network's log
              the durable reaction sweep has handled; in the by_time index under
              `DUE#REACTOR`, so the sweep finds the networks to follow with one Query
- task link   pk NET#<net>#TASKLINK sk <task id>    which orchestration record a task
              works for (a workflow run's step, a chat message, ...), and whether its
              end was handled: the handled mark is set in the transaction of the effect,
              so an end is acted on once however many times it is seen
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.store.records import Record, family_pk

CHECKPOINT_SK = "CHECKPOINT"
REACTOR_DUE = "DUE#REACTOR"


class CheckpointRecord(Record):
    position = UnicodeAttribute(null=True)          # the last handled event id


class TaskLinkRecord(Record):
    owner = UnicodeAttribute(null=True)             # "workflow" | "chat" | ...
    refs = JSONAttribute(null=True)                 # the owner's ids
    handled = UnicodeAttribute(null=True)           # "<status>@<ms>": the end whose effect was applied
    handled_at = NumberAttribute(null=True)


def checkpoint_key(network_id: str):
    return family_pk(network_id, "reactor"), CHECKPOINT_SK


def task_link_key(network_id: str, task_id: str):
    return family_pk(network_id, "tasklink"), task_id
