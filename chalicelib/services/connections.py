"""Live WebSocket connections: who is connected, for which protocol and network.

A connection is a fast path for pushes, never the only copy of anything: work and
messages stay in their durable stores, and a push to a gone connection forgets it.
"""
from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib.auth.principal import Principal
from chalicelib.clock import now_ms
from chalicelib.push import sockets
from chalicelib.store.base import transaction
from chalicelib.store.connections import (MAX_CONNECTION_S, ConnectionRecord as C,
                                          connection_key, listing_key)

PROTOCOLS = ("node", "events")


def open_connection(connection_id: str, protocol: str, principal: Principal) -> C:
    stamp = now_ms()
    fields = dict(connection_id=connection_id, network_id=principal.network_id, protocol=protocol,
                  principal_kind=principal.kind, account_id=principal.account_id,
                  user_id=principal.user_id, connected_at=stamp,
                  expires_at=stamp // 1000 + MAX_CONNECTION_S + 60)
    record = C(*connection_key(connection_id), **fields)
    with transaction() as tx:
        tx.save(record)
        tx.save(C(*listing_key(principal.network_id, connection_id), **fields))
    return record


def get(connection_id: str) -> C | None:
    try:
        return C.get(*connection_key(connection_id), consistent_read=True)
    except DoesNotExist:
        return None


def update(record: C, *, node_id: str | None = None, subscriptions: set | None = None) -> None:
    actions = []
    if node_id is not None:
        actions.append(C.node_id.set(node_id))
    if subscriptions is not None:
        actions.append(C.subscriptions.set(subscriptions or None) if subscriptions
                       else C.subscriptions.remove())
    if not actions:
        return
    with transaction() as tx:
        tx.update(record, actions=actions)
        tx.update(C(*listing_key(record.network_id, record.connection_id)), actions=actions)


def close(connection_id: str) -> C | None:
    """Forget a connection (closed, or found gone by a push); a node it served can no
    longer be pushed to until it registers again."""
    record = get(connection_id)
    if record is not None:
        with transaction() as tx:
            tx.delete(record)
            tx.delete(C(*listing_key(record.network_id, connection_id)))
        if record.node_id:
            from chalicelib.services import nodes  # nodes publish events, which push here
            nodes.detach_connection(record.network_id, record.node_id, connection_id)
    return record


def in_network(network_id: str, protocol: str | None = None) -> list[C]:
    now_s = now_ms() // 1000
    records = C.query(f"NET#{network_id}", C.sk.startswith("CONN#"), consistent_read=True)
    # TTL deletes lazily (up to days later): skip the expired ourselves.
    return [r for r in records if r.expires_at > now_s and (protocol is None or r.protocol == protocol)]


def deliver(connection_id: str, payload: dict | str) -> bool:
    """Push to a connection; a gone connection is forgotten (the work stays durable)."""
    if sockets.send(connection_id, payload):
        return True
    close(connection_id)
    return False


def rebind(record: C, principal: Principal) -> C:
    """The connection now acts for another principal (a node's NODE_REGISTER api_key)."""
    with transaction() as tx:
        tx.delete(C(*listing_key(record.network_id, record.connection_id)))
    return open_connection(record.connection_id, record.protocol, principal)


def disconnect(connection_id: str) -> None:
    """Close a connection from the hub's side."""
    sockets.disconnect(connection_id)
    close(connection_id)
