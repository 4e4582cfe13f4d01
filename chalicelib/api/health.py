"""Health routes.

- `/health`          platform {status: "healthy", service, version}; CommHub {status: "ok",
                     version, uptime} — each caller in its own dialect (dialects.of_caller)
- `/healthz`         Hub2d {status, version, clients}
- `/api/v1/status`   SkyCetus {status, version, uptime, nodes_count, tasks_count} +
                     GemmaNet {status, version, online_nodes, total_tasks_today}
"""
import time

from chalicelib.api.dialects import COMMHUB, GEMMANET, HUB2D, PLATFORM
from chalicelib.api.routing import OPEN, PUBLIC, DialectRouter
from chalicelib.config import VERSION
from chalicelib.services import messaging, nodes, tasks

router = DialectRouter(PLATFORM, __name__)
blueprint = router.blueprint
_STARTED = time.monotonic()


def uptime_s() -> int:
    """Seconds this instance has served (a Lambda container's age, the local stack's run)."""
    return int(time.monotonic() - _STARTED)


@router.route("/health", auth=PUBLIC, shared_with=(COMMHUB,))
def health(req):
    if req.dialect is COMMHUB:
        return {"status": "ok", "version": VERSION, "uptime": uptime_s()}
    return {"status": "healthy", "service": "switchboard", "version": VERSION,
            "uptime": uptime_s()}


@router.route("/healthz", auth=OPEN, dialect=HUB2D)
def healthz(req):
    """`clients`: event-stream readers seen within their reconnect window, plus live
    WebSocket connections (Hub2d counted its open SSE connections)."""
    return {"status": "ok", "version": VERSION,
            "clients": messaging.stream_clients(req.principal.network_id)}


@router.route("/api/v1/status", auth=OPEN, dialect=GEMMANET)
def status(req):
    """SkyCetus sends its secret here; GemmaNet clients may come without one where open."""
    network_id = req.principal.network_id
    fleet = nodes.list_nodes(network_id)
    counts = tasks.stats(network_id)
    return {"status": "ok", "version": VERSION, "uptime": uptime_s(),
            "nodes_count": len(fleet), "tasks_count": counts["total"],
            "online_nodes": sum(1 for n in fleet if nodes.is_online(n)),
            "total_tasks_today": counts["today"]}
