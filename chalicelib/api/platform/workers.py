"""Platform /api/v1/workers and /api/v1/admin/workers: translation only.

A worker is a node. Workers that register themselves wait for an administrator's approval
before tasks are routed to them; a worker an administrator registers is approved at once.
"""
from chalicelib.api.platform import router
from chalicelib.api.platform.tasks import task_view
from chalicelib.api.routing import ADMIN
from chalicelib.clock import iso
from chalicelib.errors import ValidationFailed, require
from chalicelib.services import nodes, tasks

WORKER_FIELDS = ("hostname", "ip_address", "cpu_cores", "memory_total_mb", "os_info")
METRICS = ("cpu_usage_percent", "memory_usage_percent", "disk_usage_percent")


def worker_view(node) -> dict:
    meta = node.metadata or {}
    online = nodes.is_online(node)
    return {"id": node.node_id, "name": node.name, **{k: meta.get(k) for k in WORKER_FIELDS},
            "status": "online" if online else "offline", "is_approved": node.approved,
            "group": node.group, "max_agents": node.max_concurrent,
            "active_tasks": node.active_tasks, "capabilities": node.capabilities,
            **{k: meta.get(k) for k in METRICS},
            "last_heartbeat": iso(node.last_heartbeat), "created_at": iso(node.registered_at)}


@router.route("/api/v1/workers/register", methods=["POST"])
def register(req):
    body = req.json
    node_id = body.get("id") or body.get("worker_id") or require(body.get("name"), "name")
    node = nodes.register(req.principal, node_id, name=body.get("name"), kind="platform",
                          capabilities=body.get("capabilities"),
                          max_concurrent=body.get("max_agents"),
                          metadata={k: body.get(k) for k in WORKER_FIELDS if k in body},
                          approval_required=True)
    return worker_view(node)


@router.route("/api/v1/workers/{worker_id}/heartbeat", methods=["POST"])
def heartbeat(req, worker_id):
    body, network_id = req.json, req.principal.network_id
    metrics = {}
    for name in METRICS:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise ValidationFailed(name, f"'{name}' must be a percentage")
        metrics[name] = value
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


@router.route("/api/v1/admin/workers/{worker_id}/approve", methods=["PATCH"], auth=ADMIN)
def approve(req, worker_id):
    approved = req.arg("is_approved")
    if approved is None:
        approved = True
    if not isinstance(approved, bool):
        raise ValidationFailed("is_approved", "'is_approved' must be true or false")
    node = nodes.get(req.principal.network_id, worker_id)
    fields = {"approved": approved}
    if req.arg("group") is not None:
        fields["group"] = str(req.arg("group"))
    return worker_view(nodes.update(node, **fields))
