"""Agents: LLM configurations that live on a worker node.

An agent is bound to a node (`worker_id`, one node namespace). While the agent is started
(`is_active`), its node holds the capability `agent:<id>` (services/nodes.py `grant`), so
tasks for the agent (services/orchestration/work.py) go to that node and no other; a
stopped agent's node loses it, and the agent's tasks wait in the queue until it starts
again. `start` and `stop` move the status as the platform does (idle / offline) and emit
`agent.status`. Delete is soft: the name is free again and the node loses the capability.
"""
from __future__ import annotations

import re

from chalicelib.errors import Conflict, ValidationFailed
from chalicelib.services import nodes, tasks
from chalicelib.services.records import Family, Page
from chalicelib.store.agents import AgentRecord as A

AGENTS = Family(A, kind="agent", id_prefix="agt", label="Agent", unique_names=True)
STATUSES = ("idle", "busy", "error", "offline", "paused", "maintenance")
STOPPED = frozenset({"offline", "paused", "maintenance"})
MAIL_DOMAIN = "whiteops.local"
# The platform's configuration fields, kept together (defaults as the platform's).
SETTINGS = {"llm_provider": "anthropic", "llm_model": "claude-sonnet-4-20250514",
            "system_prompt": None, "temperature": 0.7, "max_tokens": 4096, "enabled_tools": {},
            "max_concurrent_tasks": 3, "memory_limit_mb": 512, "autonomy_level": "autonomous",
            "tool_blacklist": [], "risk_rules": {}, "daily_budget_usd": 0,
            "max_tokens_per_task": 0}
AUTONOMY = ("autonomous", "cautious", "supervised", "read_only")


def capability(agent_id: str) -> str:
    """What a task for the agent requires, and only the agent's node holds while it runs."""
    return f"{nodes.GRANTED_PREFIX}{agent_id}"


def get(network_id: str, agent_id: str) -> A:
    return AGENTS.get(network_id, agent_id)


def list_agents(network_id: str, *, status: str | None = None, role: str | None = None,
                limit: int = 50, offset: int = 0, cursor: str | None = None) -> Page:
    condition = None
    if status:
        condition = A.status == _status(status)
    if role:
        condition = (A.role == role) if condition is None else condition & (A.role == role)
    return AGENTS.list(network_id, limit=limit, offset=offset, cursor=cursor,
                       condition=condition)


def _status(value: str) -> str:
    if value not in STATUSES:
        raise ValidationFailed("status", f"unknown status {value!r}; one of {', '.join(STATUSES)}")
    return value


def _settings(fields: dict, current: dict | None = None) -> dict:
    merged = dict(current or SETTINGS)
    for name in SETTINGS:
        if fields.get(name) is not None:
            merged[name] = fields[name]
    if merged["autonomy_level"] not in AUTONOMY:
        raise ValidationFailed("autonomy_level", f"one of {', '.join(AUTONOMY)}")
    return merged


def _worker(network_id: str, worker_id: str | None) -> str | None:
    if worker_id and nodes.find(network_id, worker_id) is None:
        raise ValidationFailed("worker_id", f"no worker {worker_id!r} in this network")
    return worker_id or None


def email_for(name: str) -> str:
    return f"{re.sub(r'[^a-z0-9._-]+', '-', name.strip().lower()).strip('-')}@{MAIL_DOMAIN}"


def create(network_id: str, fields: dict, *, created_by: str) -> A:
    name = str(fields.get("name") or "").strip()
    worker_id = _worker(network_id, fields.get("worker_id"))
    agent = AGENTS.new(network_id, created_by=created_by, name=name,
                       description=fields.get("description"), role=fields.get("role") or "general",
                       status="idle", is_active=True, worker_id=worker_id,
                       settings=_settings(fields), tags=list(fields.get("tags") or []) or None,
                       email=email_for(name) if name else None)
    AGENTS.create(agent, event=_summary(agent))
    _bind(agent, None)
    return agent


def _summary(agent: A, **extra) -> dict:
    return {"name": agent.name, "status": agent.status, "worker_id": agent.worker_id, **extra}


def update(network_id: str, agent_id: str, fields: dict) -> A:
    agent = get(network_id, agent_id)
    previous_worker = agent.worker_id
    sets = {}
    for name in ("name", "description", "role", "is_active"):
        if fields.get(name) is not None:
            sets[name] = fields[name]
    if "name" in sets:
        sets["email"] = email_for(sets["name"])
    if fields.get("status") is not None:
        sets["status"] = _status(fields["status"])
    if "worker_id" in fields:
        sets["worker_id"] = _worker(network_id, fields["worker_id"])
    if fields.get("tags") is not None:
        sets["tags"] = list(fields["tags"]) or None
    if any(fields.get(name) is not None for name in SETTINGS):
        sets["settings"] = _settings(fields, agent.settings)
    removals = [k for k, v in sets.items() if v is None]
    sets = {k: v for k, v in sets.items() if v is not None}
    if not sets and not removals:
        return agent
    AGENTS.update(agent, sets, removals=removals,
                  event={**_summary(agent), **{k: v for k, v in sets.items()
                                               if k in ("name", "status", "worker_id")}})
    _bind(agent, previous_worker)
    return agent


def start(network_id: str, agent_id: str) -> A:
    return _set_running(network_id, agent_id, running=True)


def stop(network_id: str, agent_id: str) -> A:
    return _set_running(network_id, agent_id, running=False)


def _set_running(network_id: str, agent_id: str, *, running: bool) -> A:
    for _ in range(5):
        agent = get(network_id, agent_id)
        previous = agent.status
        status = "idle" if running else "offline"
        try:
            AGENTS.update(agent, {"status": status, "is_active": running}, verb="status",
                          event=_summary(agent, status=status, previous_status=previous))
            break
        except Conflict:
            continue
    else:
        raise Conflict(f"agent {agent_id} is changing concurrently; try again")
    _bind(agent, agent.worker_id)
    if running:
        tasks.assign_pending(network_id)  # what waited for the agent goes to its node now
    return agent


def delete(network_id: str, agent_id: str) -> None:
    agent = get(network_id, agent_id)
    AGENTS.delete(agent, event=_summary(agent))
    if agent.worker_id:
        nodes.revoke(network_id, agent.worker_id, capability(agent.id))


def receives_work(agent: A) -> bool:
    return bool(agent.is_active and agent.worker_id and not agent.deleted_at
                and agent.status not in STOPPED)


def _bind(agent: A, previous_worker: str | None) -> None:
    """Keep the capability on the node the agent runs on, while it runs."""
    needed = capability(agent.id)
    if previous_worker and previous_worker != agent.worker_id:
        nodes.revoke(agent.network_id, previous_worker, needed)
    if not agent.worker_id:
        return
    if receives_work(agent):
        nodes.grant(agent.network_id, agent.worker_id, needed)
    else:
        nodes.revoke(agent.network_id, agent.worker_id, needed)

