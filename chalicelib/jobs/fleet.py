"""Scheduled fleet work: heartbeat expiry, lease recovery, batch assignment.

Jobs run outside any request, so they may Scan: they walk the nodes table (small: nodes,
not tasks) to find the networks and nodes to look after.
"""
from __future__ import annotations

from chalicelib import logs
from chalicelib.services import nodes, tasks

log = logs.get("jobs")


def _all_nodes():
    from chalicelib.store.nodes import NodeRecord  # the table loads when the job runs
    return NodeRecord.scan(consistent_read=True)


def sweep() -> dict:
    """Persist `offline` for silent nodes and requeue what they held; requeue lapsed leases."""
    went_offline, released, networks, seen = 0, 0, set(), set()
    for node in _all_nodes():
        seen.add(node.network_id)
        dead = not nodes.is_online(node)
        if dead and node.status == "online" and nodes.mark_offline(node):
            went_offline += 1
        if node.active_tasks > 0:
            freed = tasks.release_expired(node.network_id, node, node_dead=dead)
            released += len(freed)
            if freed:
                networks.add(node.network_id)
    for network_id in networks:  # give released work to the nodes still alive
        tasks.assign_pending(network_id)
    from chalicelib.services.insight import metrics  # only this job and /metrics use it
    metrics.remember_networks(seen)  # the networks /metrics reports on
    summary = {"offline": went_offline, "released": released}
    log.info("sweep", extra=summary)
    return summary


def assign() -> dict:
    """Batch assignment for every network with an online node."""
    networks = {n.network_id for n in _all_nodes() if nodes.is_online(n)}
    assigned = sum(len(tasks.assign_pending(network_id)) for network_id in networks)
    log.info("batch assignment", extra={"networks": len(networks), "assigned": assigned})
    return {"networks": len(networks), "assigned": assigned}
