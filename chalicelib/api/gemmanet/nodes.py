"""GemmaNet GET /api/v1/nodes: online nodes, optionally by capability (open where configured)."""
from chalicelib.api.gemmanet import router
from chalicelib.api.inputs import Input, Word
from chalicelib.api.routing import OPEN
from chalicelib.services import nodes


class NodeQuery(Input):
    capability: Word | None = None


def node_view(node) -> dict:
    return {"node_id": node.node_id, "name": node.name, "capabilities": node.capabilities,
            "languages": node.languages, "online": nodes.is_online(node), "load": node.load}


@router.route("/api/v1/nodes", auth=OPEN, query=NodeQuery)
def list_nodes(req):
    found = nodes.list_nodes(req.principal.network_id, capability=req.params.capability or None,
                             online_only=True)
    return [node_view(n) for n in found]
