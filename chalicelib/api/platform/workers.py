"""Platform /api/v1/workers and /api/v1/admin/workers: translation only.

A worker is a node. Workers that register themselves wait for an administrator's approval
before tasks are routed to them; a worker an administrator registers is approved at once.
"""
from typing import Annotated

from msgspec import Meta

from chalicelib.api.inputs import Id, Input, Line, Name, Percent, Words
from chalicelib.api.outputs import as_number, as_text
from chalicelib.api.platform import router
from chalicelib.api.platform.tasks import task_view
from chalicelib.api.routing import ADMIN
from chalicelib.clock import iso
from chalicelib.errors import require
from chalicelib.services import nodes, tasks

TEXT_FIELDS = ("hostname", "ip_address", "os_info")
NUMERIC_FIELDS = ("cpu_cores", "memory_total_mb")
WORKER_FIELDS = TEXT_FIELDS + NUMERIC_FIELDS
METRICS = ("cpu_usage_percent", "memory_usage_percent", "disk_usage_percent")


class NewWorker(Input):
    """The worker's id is `id`, `worker_id`, or else its `name`."""
    id: Id | None = None
    worker_id: Id | None = None
    name: Name | None = None
    capabilities: Words | None = None
    max_agents: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    hostname: Annotated[str, Meta(max_length=255)] | None = None
    ip_address: Annotated[str, Meta(max_length=64)] | None = None
    cpu_cores: Annotated[int, Meta(ge=0, le=1_000_000)] | None = None
    memory_total_mb: Annotated[int, Meta(ge=0, le=10**12)] | None = None
    os_info: Line | None = None


class Metrics(Input):
    cpu_usage_percent: Percent | None = None
    memory_usage_percent: Percent | None = None
    disk_usage_percent: Percent | None = None


class Approval(Input):
    is_approved: bool = True
    group: Name | None = None


def worker_view(node) -> dict:
    meta = node.metadata or {}
    online = nodes.is_online(node)
    return {"id": node.node_id, "name": node.name,
            **{k: as_text(meta.get(k)) for k in TEXT_FIELDS},
            **{k: as_number(meta.get(k)) for k in NUMERIC_FIELDS + METRICS},
            "status": "online" if online else "offline", "is_approved": node.approved,
            "group": node.group, "max_agents": node.max_concurrent,
            "active_tasks": node.active_tasks, "capabilities": node.capabilities,
            "last_heartbeat": iso(node.last_heartbeat), "created_at": iso(node.registered_at)}


@router.route("/api/v1/workers/register", methods=["POST"], body=NewWorker)
def register(req):
    body = req.body
    node_id = body.id or body.worker_id or require(body.name, "name")
    node = nodes.register(req.principal, node_id, name=body.name, kind="platform",
                          capabilities=body.capabilities, max_concurrent=body.max_agents,
                          metadata={k: getattr(body, k) for k in WORKER_FIELDS
                                    if getattr(body, k) is not None},
                          approval_required=True)
    return worker_view(node)


@router.route("/api/v1/workers/{worker_id}/heartbeat", methods=["POST"], body=Metrics)
def heartbeat(req, worker_id):
    body, network_id = req.body, req.principal.network_id
    metrics = {name: getattr(body, name) for name in METRICS if getattr(body, name) is not None}
    load = max((metrics.get(m, 0) for m in METRICS[:2]), default=0) / 100
    node = nodes.heartbeat(network_id, worker_id, load=load, metadata=metrics)
    tasks.renew_leases(network_id, worker_id)
    return {"status": "ok", "worker": worker_view(node)}


@router.route("/api/v1/workers/{worker_id}/tasks")
def worker_tasks(req, worker_id):
    return [task_view(t) for t in tasks.pull(req.principal.network_id, worker_id, limit=None)]


@router.route("/api/v1/workers/overview")
def overview(req):
    fleet = nodes.list_nodes(req.principal.network_id)
    online = [n for n in fleet if nodes.is_online(n)]
    return {"total_workers": len(fleet), "online_workers": len(online),
            "offline_workers": len(fleet) - len(online),
            "pending_approval": sum(1 for n in fleet if not n.approved),
            "active_tasks": sum(int(n.active_tasks) for n in fleet),
            "total_capacity": sum(int(n.max_concurrent) for n in online)}


@router.route("/api/v1/admin/workers", auth=ADMIN)
def admin_workers(req):
    return [worker_view(n) for n in nodes.list_nodes(req.principal.network_id)]


@router.route("/api/v1/admin/workers/{worker_id}/approve", methods=["PATCH"], auth=ADMIN,
              body=Approval)
def approve(req, worker_id):
    node = nodes.get(req.principal.network_id, worker_id)
    fields = {"approved": req.body.is_approved}
    if req.body.group is not None:
        fields["group"] = req.body.group
    return worker_view(nodes.update(node, **fields))
