"""SkyCetus /api/v1/node/*: translation only."""
from typing import Annotated

from msgspec import Meta

from chalicelib.api.inputs import Id, Input, Name, Word, Words
from chalicelib.api.skycetus import router
from chalicelib.clock import iso
from chalicelib.services import nodes, tasks


class NewNode(Input):
    node_id: Id
    name: Name
    capabilities: Words | None = None
    max_concurrent: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None


class Heartbeat(Input):
    """`load` is 0..1; `status` is what the node says it is doing."""
    node_id: Id
    load: Annotated[float, Meta(ge=0, le=1)] | None = None
    status: Word | None = None


def node_view(node) -> dict:
    return {"node_id": node.node_id, "name": node.name,
            "status": "online" if nodes.is_online(node) else "offline",
            "last_heartbeat": iso(node.last_heartbeat), "capabilities": node.capabilities,
            "load": node.load, "active_tasks": node.active_tasks}


@router.route("/api/v1/node/list")
def list_nodes(req):
    return {"nodes": [node_view(n) for n in nodes.list_nodes(req.principal.network_id)]}


@router.route("/api/v1/node/register", methods=["POST"], body=NewNode)
def register(req):
    body = req.body
    node = nodes.register(req.principal, body.node_id, name=body.name, kind="skycetus",
                          capabilities=body.capabilities, max_concurrent=body.max_concurrent)
    return {"success": True, "node_id": node.node_id, "node": node_view(node)}


@router.route("/api/v1/node/heartbeat", methods=["POST"], body=Heartbeat)
def heartbeat(req):
    network_id, body = req.principal.network_id, req.body
    node = nodes.heartbeat(network_id, body.node_id, load=body.load, activity=body.status)
    renewed = tasks.renew_leases(network_id, node.node_id)
    return {"success": True, "node_id": node.node_id, "status": "online",
            "last_heartbeat": iso(node.last_heartbeat), "leases_renewed": renewed}
