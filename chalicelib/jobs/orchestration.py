"""Scheduled orchestration work. Both read indexes, never scan a family:
- `due`: what has come due in the by_time index — schedule triggers to fire (and firings a
  crash cut short), approvals past their deadline, workflow `wait` steps;
- `react`: the durable path of reactions: every followed network's event log after its
  checkpoint (services/reactions.py).
"""
from __future__ import annotations

from chalicelib import logs
from chalicelib.services import reactions
# Importing the families registers their reactions in every function that runs this
# module (the app imports it for its schedules): chat answers, review openings, ...
from chalicelib.services.orchestration import (approvals, chat, collaboration,  # noqa: F401
                                               marketplace, reviews, triggers, workflows)

log = logs.get("jobs")


def due() -> dict:
    summary = {**triggers.fire_due(), "approvals_expired": approvals.expire_due(),
               "waits_done": workflows.wake_due()}
    log.info("due sweep", extra=summary)
    return summary


def react() -> dict:
    summary = reactions.catch_up()
    log.info("reaction sweep", extra=summary)
    return summary
