"""The node registry: registration, heartbeats, and who is online.

A node is online while its last heartbeat is within the window (3 × 30 s), computed on
every read; the scheduled sweep persists `offline` and recovers what the node held.
"""
from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib.auth.principal import Principal
from chalicelib.clock import now_ms
from chalicelib.config import settings
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.services import events
from chalicelib.store.nodes import NodeRecord as N, node_key

NODE_ID_MAX = 128
# Capabilities the hub grants (the agents a node runs: `agent:<id>`) rather than the node
# declares: a node registering again keeps them.
GRANTED_PREFIX = "agent:"


def is_online(node: N, at_ms: int | None = None) -> bool:
    at_ms = now_ms() if at_ms is None else at_ms
    return at_ms - node.last_heartbeat <= settings().heartbeat_window_s * 1000


def account_of(node_id: str) -> str:
    """The ledger account a node earns into."""
    return f"node:{node_id}"


def validate_node_id(node_id, field: str = "node_id") -> str:
    if not isinstance(node_id, str) or not node_id.strip():
        raise ValidationFailed(field, f"'{field}' is required")
    node_id = node_id.strip()
    if len(node_id) > NODE_ID_MAX or any(c in node_id for c in "#/\\\n\r\t"):
        raise ValidationFailed(field, f"'{field}' must be at most {NODE_ID_MAX} characters, "
                                      "without '#', slashes or control characters")
    return node_id


def strings(value, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValidationFailed(field, f"'{field}' must be a list of strings")
    return sorted({v.strip() for v in value})


def get(network_id: str, node_id: str) -> N:
    try:
        return N.get(*node_key(network_id, node_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"node {node_id} not found") from None


def find(network_id: str, node_id: str) -> N | None:
    try:
        return N.get(*node_key(network_id, node_id), consistent_read=True)
    except DoesNotExist:
        return None


def register(principal: Principal, node_id: str, *, name: str | None = None, kind: str,
             capabilities=None, languages=None, max_concurrent: int | None = None,
             metadata: dict | None = None, approval_required: bool = False,
             connection_id: str | None = None) -> N:
    """Register a node, or refresh it if it registers again (a registration is a heartbeat).

    With `approval_required` (platform workers), a node an administrator did not register
    waits for an administrator's approval before tasks are routed to it."""
    node_id = validate_node_id(node_id)
    capabilities = strings(capabilities, "capabilities")
    languages = strings(languages, "languages")
    if max_concurrent is not None and (not isinstance(max_concurrent, int)
                                       or isinstance(max_concurrent, bool) or max_concurrent < 1):
        raise ValidationFailed("max_concurrent", "'max_concurrent' must be a positive integer")
    stamp = now_ms()
    existing = find(principal.network_id, node_id)
    was_online = existing is not None and is_online(existing, stamp) and existing.status == "online"
    if existing is None:
        node = N(*node_key(principal.network_id, node_id), node_id=node_id,
                 network_id=principal.network_id, name=name or node_id, kind=kind,
                 capabilities=capabilities, languages=languages, status="online",
                 last_heartbeat=stamp, max_concurrent=max_concurrent or 1,
                 approved=not approval_required or principal.is_admin,
                 connection_id=connection_id, account_id=account_of(node_id),
                 metadata=metadata or {}, registered_at=stamp, updated_at=stamp)
        node.save()
    else:
        actions = [N.last_heartbeat.set(stamp), N.status.set("online"), N.updated_at.set(stamp),
                   N.capabilities.set(sorted(set(capabilities) | {
                       c for c in existing.capabilities if c.startswith(GRANTED_PREFIX)})
                       if capabilities else existing.capabilities),
                   N.metadata.set({**(existing.metadata or {}), **(metadata or {})})]
        if name:
            actions.append(N.name.set(name))
        if languages:
            actions.append(N.languages.set(languages))
        if max_concurrent:
            actions.append(N.max_concurrent.set(max_concurrent))
        if connection_id:
            actions.append(N.connection_id.set(connection_id))
        existing.update(actions=actions)
        node = existing
    if not was_online:
        events.publish(principal.network_id, "worker.online",
                       {"node_id": node_id, "name": node.name, "capabilities": node.capabilities},
                       source=node_id)
    return node


def heartbeat(network_id: str, node_id: str, *, load: float | None = None,
              activity: str | None = None, active_tasks: int | None = None,
              metadata: dict | None = None) -> N:
    node = get(network_id, validate_node_id(node_id))
    stamp = now_ms()
    came_back = not is_online(node, stamp) or node.status != "online"
    actions = [N.last_heartbeat.set(stamp), N.status.set("online"), N.updated_at.set(stamp)]
    if load is not None:
        if isinstance(load, bool) or not isinstance(load, (int, float)) or not 0 <= load <= 1:
            raise ValidationFailed("load", "'load' must be a number between 0 and 1")
        actions.append(N.load.set(load))
    if activity is not None:
        actions.append(N.activity.set(str(activity)))
    if metadata:
        actions.append(N.metadata.set({**(node.metadata or {}), **metadata}))
    node.update(actions=actions)
    if came_back:
        events.publish(network_id, "worker.online", {"node_id": node_id, "name": node.name},
                       source=node_id)
    return node


def list_nodes(network_id: str, *, capability: str | None = None,
               online_only: bool = False) -> list[N]:
    at = now_ms()
    nodes = N.query(f"NET#{network_id}", N.sk.startswith("NODE#"), consistent_read=True)
    return [n for n in nodes
            if (capability is None or capability in n.capabilities)
            and (not online_only or is_online(n, at))]


def update(node: N, **fields) -> N:
    node.update(actions=[getattr(N, name).set(value) for name, value in fields.items()] +
                [N.updated_at.set(now_ms())])
    return node


def grant(network_id: str, node_id: str, capability: str) -> bool:
    """Add a hub-granted capability (idempotent); False if the node does not exist."""
    from pynamodb.exceptions import UpdateError
    try:
        N(*node_key(network_id, node_id)).update(
            actions=[N.capabilities.set((N.capabilities | []).append([capability]))],
            condition=N.pk.exists() & ~N.capabilities.contains(capability))
    except UpdateError:
        return find(network_id, node_id) is not None
    return True


def revoke(network_id: str, node_id: str, capability: str) -> None:
    """Remove a capability; a concurrent change of the list makes it read again."""
    from pynamodb.exceptions import UpdateError
    for _ in range(5):
        node = find(network_id, node_id)
        if node is None or capability not in node.capabilities:
            return
        index = node.capabilities.index(capability)
        try:
            node.update(actions=[N.capabilities[index].remove()],
                        condition=N.capabilities[index] == capability)
            return
        except UpdateError:
            continue


def mark_offline(node: N) -> bool:
    """Persist `offline` for a node seen silent; False if it heartbeated meanwhile."""
    from pynamodb.exceptions import UpdateError
    try:
        node.update(actions=[N.status.set("offline"), N.updated_at.set(now_ms())],
                    condition=(N.last_heartbeat == node.last_heartbeat) & (N.status == "online"))
    except UpdateError:
        return False
    events.publish(node.network_id, "worker.offline", {"node_id": node.node_id, "name": node.name},
                   source=node.node_id)
    return True


def detach_connection(network_id: str, node_id: str, connection_id: str) -> None:
    """The node's socket closed: it can no longer be pushed to (until it registers again)."""
    from pynamodb.exceptions import UpdateError
    try:
        N(*node_key(network_id, node_id)).update(
            actions=[N.connection_id.remove(), N.updated_at.set(now_ms())],
            condition=N.connection_id == connection_id)
    except UpdateError:
        pass  # a newer connection took over, or the node is gone
