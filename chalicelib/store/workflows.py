"""Workflows, their steps, and their runs (records table, store/records.py keys).

- workflow  family `workflow`
- step      child `workflow/<id>/STEP`, sk <step id>: the definition (a DAG by depends_on)
- run       child `workflow/<id>/RUN`, sk <run id>: one execution, newest last
- run step  child `workflowrun/<run id>/STEP`, sk <step id>: the step's state in that run
            (status, its task, the dependencies done so far as a set — set additions are
            idempotent and atomic, so two dependencies finishing at once both count)
- waits     `wait` steps sit in the by_time index under `DUE#WORKFLOW_WAIT` until due
"""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, JSONAttribute, ListAttribute, NumberAttribute,
                                 UnicodeAttribute, UnicodeSetAttribute)

from chalicelib.store.records import Record, child_pk

WAIT_DUE = "DUE#WORKFLOW_WAIT"


class WorkflowRecord(Record):
    name = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)        # draft|active|running|completed|failed
    is_template = BooleanAttribute(null=True)
    config = JSONAttribute(null=True)
    run_count = NumberAttribute(null=True)
    last_run_id = UnicodeAttribute(null=True)


class StepRecord(Record):
    workflow_id = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    step_type = UnicodeAttribute(null=True)     # task|condition|parallel|wait|notify
    order = NumberAttribute(null=True)
    config = JSONAttribute(null=True)
    agent_id = UnicodeAttribute(null=True)
    depends_on = ListAttribute(of=UnicodeAttribute, null=True)


class RunRecord(Record):
    workflow_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)        # running|completed|failed|cancelled
    input = JSONAttribute(null=True)
    cause = JSONAttribute(null=True)            # what started it: {"type": "trigger", ...}
    output = JSONAttribute(null=True)
    error = UnicodeAttribute(null=True)
    finished_at = NumberAttribute(null=True)


class RunStepRecord(Record):
    workflow_id = UnicodeAttribute(null=True)
    run_id = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    step_type = UnicodeAttribute(null=True)
    order = NumberAttribute(null=True)
    config = JSONAttribute(null=True)
    agent_id = UnicodeAttribute(null=True)
    depends_on = ListAttribute(of=UnicodeAttribute, null=True)
    done_deps = UnicodeSetAttribute(null=True)
    status = UnicodeAttribute(null=True)        # pending|awaiting_approval|waiting|running|
    task_id = UnicodeAttribute(null=True)       # completed|failed|skipped|cancelled
    approval_id = UnicodeAttribute(null=True)
    output = JSONAttribute(null=True)
    error = UnicodeAttribute(null=True)
    started_at = NumberAttribute(null=True)
    finished_at = NumberAttribute(null=True)


def step_pk(network_id: str, workflow_id: str) -> str:
    return child_pk(network_id, "workflow", workflow_id, "STEP")


def run_pk(network_id: str, workflow_id: str) -> str:
    return child_pk(network_id, "workflow", workflow_id, "RUN")


def run_step_pk(network_id: str, run_id: str) -> str:
    return child_pk(network_id, "workflowrun", run_id, "STEP")
