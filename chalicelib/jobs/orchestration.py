"""Scheduled orchestration work. Both read indexes, never scan a family:
- `due`: what has come due in the by_time index — schedule triggers to fire (and firings a
  crash cut short), approvals past their deadline, workflow `wait` steps;
- `react`: the durable path of reactions: every followed network's event log after its
  checkpoint (services/reactions.py).
"""
from __future__ import annotations

from chalicelib import logs
from chalicelib.services import orchestration, reactions

log = logs.get("jobs")


def due() -> dict:
    summary = {**orchestration.triggers.fire_due(),
               "approvals_expired": orchestration.approvals.expire_due(),
               "waits_done": orchestration.workflows.wake_due()}
    log.info("due sweep", extra=summary)
    return summary


def react() -> dict:
    summary = reactions.catch_up()
    log.info("reaction sweep", extra=summary)
    return summary
