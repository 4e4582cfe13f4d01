"""CommHub /api/status, /api/nodes, /api/tasks, /api/completions, /api/task_events, /api/stats.

CommHub names task states after its message flow: a task handed to a node is `delivered`,
a completed one `replied`. `?network_id=` switches to another network the caller belongs to.
"""
from chalicelib.api.commhub import Scoped, listing, network_of, router
from chalicelib.api.inputs import Cursor, Id, Limit, Word
from chalicelib.clock import sql_time
from chalicelib.services import events, nodes, tasks

STATUS_NAMES = {"pending": "pending", "assigned": "delivered", "running": "running",
                "completed": "replied", "failed": "failed", "cancelled": "cancelled",
                "expired": "failed", "dead_lettered": "failed",
                # the platform's waiting states: not delivered yet; replied, not yet accepted
                "awaiting_approval": "pending", "review": "running"}


class StatusQuery(Scoped):
    status: Word | None = None


class TaskQuery(Scoped):
    status: Word | None = None
    to_name: Id | None = None
    from_name: Id | None = None
    limit: Limit = 50
    cursor: Cursor | None = None


class CompletionQuery(Scoped):
    limit: Limit = 20
    cursor: Cursor | None = None


class TaskEventQuery(Scoped):
    """One task's history with `task_id`, else the network's recent task events."""
    task_id: Id | None = None
    limit: Limit = 100
    cursor: Cursor | None = None


def session_view(node, current_task=None) -> dict:
    meta = node.metadata or {}
    online = nodes.is_online(node)
    status = "offline" if not online else ("working" if node.active_tasks else
                                           node.activity or "idle")
    return {"resume_id": meta.get("resume_id") or node.node_id, "alias": node.node_id,
            "status": status, "agent": meta.get("agent") or node.kind, "model": meta.get("model"),
            "task": current_task.title if current_task else None,
            "progress": meta.get("progress"), "last_seen_at": sql_time(node.last_heartbeat)}


def node_view(node) -> dict:
    return {"node_id": node.node_id, "alias": node.node_id, "name": node.name,
            "capabilities": node.capabilities, "kind": node.kind,
            "online": nodes.is_online(node), "registered_at": sql_time(node.registered_at),
            "last_seen_at": sql_time(node.last_heartbeat)}


def task_view(task) -> dict:
    return {"task_id": task.task_id, "title": task.title,
            "content": task.description or task.title, "status": STATUS_NAMES[task.status],
            "priority": task.priority, "from_name": task.from_name or task.created_by,
            "to_name": task.assigned_node or task.to_name, "result": task.result,
            "error": task.error, "created_at": sql_time(task.created_at),
            "updated_at": sql_time(task.updated_at)}


@router.route("/api/status", query=StatusQuery)
def status(req):
    network_id = network_of(req)
    wanted = req.params.status
    sessions = []
    for node in nodes.list_nodes(network_id):
        current = tasks.held_by(network_id, node.node_id)[:1] if node.active_tasks else []
        view = session_view(node, current[0] if current else None)
        if not wanted or view["status"] == wanted:
            sessions.append(view)
    return listing("sessions", sessions)


@router.route("/api/nodes", query=Scoped)
def list_nodes(req):
    return listing("nodes", [node_view(n) for n in nodes.list_nodes(network_of(req))])


@router.route("/api/tasks", query=TaskQuery)
def list_tasks(req):
    query = req.params
    filters = tasks.TaskFilter(status=query.status, to_name=query.to_name,
                               from_name=query.from_name)
    found, cursor = tasks.list_tasks(network_of(req), filters, limit=query.limit,
                                     cursor=query.cursor)
    return listing("tasks", [task_view(t) for t in found], next_cursor=cursor)


@router.route("/api/completions", query=CompletionQuery)
def list_completions(req):
    found, cursor = tasks.completions(network_of(req), limit=req.params.limit,
                                      cursor=req.params.cursor)
    return listing("completions", [
        {"task_id": c.task_id, "title": c.title, "node": c.assigned_node,
         "from_name": c.from_name, "result": c.result, "completed_at": sql_time(c.created_at)}
        for c in found], next_cursor=cursor)


@router.route("/api/task_events", query=TaskEventQuery)
def list_task_events(req):
    network_id, query = network_of(req), req.params
    limit, task_id = query.limit, query.task_id
    if task_id:
        tasks.get(network_id, task_id)
        found, cursor = tasks.task_events(network_id, task_id, limit=limit, cursor=query.cursor)
        return listing("events", [
            {"task_id": e.task_id, "from_status": STATUS_NAMES.get(e.from_status),
             "to_status": STATUS_NAMES[e.to_status], "actor": e.actor, "reason": e.reason,
             "node": e.assigned_node, "created_at": sql_time(e.created_at)} for e in found],
            next_cursor=cursor)
    recent = events.recent(network_id, types=tuple(tasks.EVENT_TYPES.values()) + ("task.created",
                                                                                "task.updated"),
                           limit=limit)
    return listing("events", [
        {"task_id": e.data.get("task_id"), "from_status": STATUS_NAMES.get(e.data.get("previous_status")),
         "to_status": STATUS_NAMES.get(e.data.get("status")), "actor": e.source,
         "reason": e.data.get("reason"), "node": e.data.get("node_id"),
         "created_at": sql_time(e.created_at)} for e in recent])


@router.route("/api/stats", query=Scoped)
def stats(req):
    network_id = network_of(req)
    fleet = nodes.list_nodes(network_id)
    online = sum(1 for n in fleet if nodes.is_online(n))
    counts = tasks.stats(network_id)
    by_name: dict[str, int] = {}
    for status, count in counts["by_status"].items():
        by_name[STATUS_NAMES[status]] = by_name.get(STATUS_NAMES[status], 0) + count
    return {"sessions": {"total": len(fleet), "online": online, "offline": len(fleet) - online},
            "tasks": {"total": counts["total"], **by_name}}
