"""SkyCetus /api/v1/node/*: translation only."""
from chalicelib.api.skycetus import router
from chalicelib.clock import iso
from chalicelib.errors import require
from chalicelib.services import nodes, tasks


def node_view(node) -> dict:
    return {"node_id": node.node_id, "name": node.name,
            "status": "online" if nodes.is_online(node) else "offline",
            "last_heartbeat": iso(node.last_heartbeat), "capabilities": node.capabilities,
            "load": node.load, "active_tasks": node.active_tasks}


@router.route("/api/v1/node/list")
def list_nodes(req):
    return {"nodes": [node_view(n) for n in nodes.list_nodes(req.principal.network_id)]}


@router.route("/api/v1/node/register", methods=["POST"])
def register(req):
    node = nodes.register(req.principal, require(req.arg("node_id"), "node_id"),
                          name=require(req.arg("name"), "name"), kind="skycetus",
                          capabilities=req.arg("capabilities"),
                          max_concurrent=req.arg("max_concurrent"))
    return {"success": True, "node_id": node.node_id, "node": node_view(node)}


@router.route("/api/v1/node/heartbeat", methods=["POST"])
def heartbeat(req):
    network_id = req.principal.network_id
    node = nodes.heartbeat(network_id, require(req.arg("node_id"), "node_id"),
                           load=req.arg("load"), activity=req.arg("status"))
    renewed = tasks.renew_leases(network_id, node.node_id)
    return {"success": True, "node_id": node.node_id, "status": "online",
            "last_heartbeat": iso(node.last_heartbeat), "leases_renewed": renewed}
