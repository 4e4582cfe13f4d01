"""The marketplace: a built-in catalogue of templates (chalicelib/marketplace/templates/,
one JSON file each), every one defining agents and workflows that `install` creates in the
caller's network.

An install is recorded under a unique name (the template id, or the `name` the caller
gives it); installing the same template again without a new name is a Conflict (409).
With a name, the agents and workflows it creates are named `<name> · <agent name>`, so
they never clash with the first copy. A failure midway removes what that install created.
`run: true` starts the template's first workflow with `input`. The installs of each
template are counted for the catalogue's `downloads` (one counter item per template).
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from chalicelib.errors import Conflict, DomainError, NotFound, ValidationFailed
from chalicelib.services import audit
from chalicelib.services.orchestration import agents, workflows
from chalicelib.services.records import Family
from chalicelib.store.marketplace import DOWNLOADS_PK, DownloadsRecord, InstallRecord

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "marketplace" / "templates"
SORTS = ("rating", "downloads", "name", "created_at")
INSTALLS = Family(InstallRecord, kind="marketplace_install", id_prefix="ins",
                  label="Installation", unique_names=True)


@functools.lru_cache(maxsize=1)
def catalogue() -> dict[str, dict]:
    """Every template, checked: agents named once, steps naming known agents, DAG steps."""
    found = {}
    for path in sorted(TEMPLATES_DIR.glob("*.json")):
        template = json.loads(path.read_text(encoding="utf-8"))
        keys = {a["key"] for a in template["agents"]}
        for flow in template.get("workflows", []):
            workflows.check_acyclic({s["key"]: s.get("depends_on", []) for s in flow["steps"]})
            unknown = {s["agent"] for s in flow["steps"] if s.get("agent")} - keys
            if unknown:
                raise ValueError(f"template {path.name}: unknown agents {sorted(unknown)}")
        found[template["id"]] = template
    return found


def downloads() -> dict[str, int]:
    return {item.sk: int(item.downloads or 0) for item in DownloadsRecord.query(DOWNLOADS_PK)}


def list_templates(*, category: str | None = None, search: str | None = None,
                   sort_by: str = "downloads", limit: int = 50, offset: int = 0):
    if sort_by not in SORTS:
        raise ValidationFailed("sort_by", f"one of {', '.join(SORTS)}")
    counts = downloads()
    chosen = [t for t in catalogue().values()
              if (not category or t["category"] == category)
              and (not search or search.casefold() in
                   f"{t['name']} {t['description']} {' '.join(t['tags'])}".casefold())]
    key = {"rating": lambda t: -t.get("rating", 0), "downloads": lambda t: -counts.get(t["id"], 0),
           "name": lambda t: t["name"].casefold(), "created_at": lambda t: t["id"]}[sort_by]
    chosen.sort(key=lambda t: (key(t), t["name"]))
    return chosen[offset:offset + limit], len(chosen), counts


def get(template_id: str) -> dict:
    template = catalogue().get(template_id)
    if template is None:
        raise NotFound("Template not found")
    return template


def install(network_id: str, template_id: str, *, created_by: str, name: str | None = None,
            worker_id: str | None = None, run: bool = False, input: dict | None = None) -> dict:
    template = get(template_id)
    audit.note(template_id=template_id)
    label = (name or "").strip()
    record = INSTALLS.new(network_id, created_by=created_by, template_id=template_id,
                          name=f"{template_id}/{label.casefold()}" if label else template_id)
    try:
        INSTALLS.create(record, event={"template_id": template_id})
    except Conflict:
        raise Conflict(f"template {template['name']!r} is installed already"
                       + (" under that name" if label else "; install it again with a new "
                                                            "'name'")) from None
    made = {"agents": [], "workflows": []}
    try:
        _create(network_id, template, label, created_by, worker_id, made)
    except DomainError:
        _undo(network_id, record, made)
        raise
    INSTALLS.update(record, {"created": made}, event={"template_id": template_id})
    DownloadsRecord(DOWNLOADS_PK, template_id).update(actions=[DownloadsRecord.downloads.add(1)])
    answer = {"template_id": template_id, "install_id": record.id, **made,
              "agent_id": made["agents"][0]["id"] if made["agents"] else None,
              "message": f"Installed {template['name']}"}
    if run and made["workflows"]:
        started = workflows.start_run(network_id, made["workflows"][0]["id"], input=input,
                                      cause={"type": "marketplace", "install_id": record.id},
                                      started_by=created_by)
        answer["workflow_run_id"] = started.id
    return answer


def _create(network_id, template, label, created_by, worker_id, made) -> None:
    def named(text):
        return f"{label} · {text}" if label else text
    agent_ids = {}
    for spec in template["agents"]:
        fields = {k: v for k, v in spec.items() if k != "key"}
        agent = agents.create(network_id, {**fields, "name": named(spec["name"]),
                                           "worker_id": worker_id,
                                           "tags": [f"template:{template['id']}"]},
                              created_by=created_by)
        agent_ids[spec["key"]] = agent.id
        made["agents"].append({"id": agent.id, "name": agent.name})
    for spec in template.get("workflows", []):
        flow = workflows.create(network_id, {"name": named(spec["name"]),
                                             "description": spec.get("description"),
                                             "config": {"template_id": template["id"]}},
                                created_by=created_by)
        made["workflows"].append({"id": flow.id, "name": flow.name})
        step_ids: dict[str, str] = {}
        pending = list(spec["steps"])
        while pending:  # in dependency order (the catalogue is checked acyclic)
            step = next(s for s in pending if all(d in step_ids for d in s.get("depends_on", [])))
            pending.remove(step)
            added = workflows.add_step(
                network_id, flow.id,
                {"name": step["name"], "step_type": step.get("step_type", "task"),
                 "config": step.get("config") or {}, "order": len(step_ids),
                 "agent_id": agent_ids.get(step.get("agent")),
                 "depends_on": [step_ids[d] for d in step.get("depends_on", [])]},
                created_by=created_by)
            step_ids[step["key"]] = added.id


def _undo(network_id: str, record, made: dict) -> None:
    for agent in made["agents"]:
        agents.delete(network_id, agent["id"])
    for flow in made["workflows"]:
        workflows.delete(network_id, flow["id"])
    INSTALLS.delete(record, event={"template_id": record.template_id, "undone": True})
