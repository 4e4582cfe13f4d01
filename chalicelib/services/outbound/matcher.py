"""From events to deliveries: the consumer of the events table's stream.

Every change writes its event in the change's own transaction, so the events table is a
durable outbox; its DynamoDB stream hands each committed event to this consumer, after the
request that made it has answered. Per batch and network it reads the network's active
webhooks and notification rules (two Queries), then for each event
- stores a delivery for every webhook subscribed to its type, and
- runs every matching rule: in-app notifications now, a delivery per rule channel;
and queues the new deliveries. Everything it writes is keyed by the event id, so a batch
the stream hands over twice produces each delivery and notification once.

`notification` events are never matched (they are made from events, and addressed to one
person): notifications cannot breed notifications, and no webhook reads anyone's inbox.
"""
from __future__ import annotations

from collections import defaultdict

from chalicelib import logs
from chalicelib.services import notifications
from chalicelib.services.outbound import channels, deliveries, webhooks
from chalicelib.store.events import EventRecord

log = logs.get("matcher")
NEVER_MATCHED = frozenset({"notification"})


def from_stream(records: list[dict]) -> list[EventRecord]:
    """Event records from DynamoDB stream records (their new images)."""
    found = []
    for record in records:
        image = (record.get("dynamodb") or {}).get("NewImage")
        if record.get("eventName") in ("INSERT", "MODIFY") and image:
            found.append(EventRecord.from_raw_data(image))
    return found


def match(events: list[EventRecord]) -> dict:
    by_network = defaultdict(list)
    for event in events:
        if event.type not in NEVER_MATCHED and event.pk.startswith("NET#"):
            by_network[event.pk[len("NET#"):]].append(event)
    made = []
    for network_id, batch in by_network.items():
        hooks = webhooks.active(network_id)
        rules = notifications.active_rules(network_id)
        for event in batch:
            made += [webhooks.delivery_for(hook, event) for hook in hooks
                     if webhooks.subscribed(hook, event)]
            for rule in rules:
                message = notifications.apply(network_id, event, rule)
                if message is not None:
                    made += [channels.delivery_for(network_id, channel_id, message)
                             for channel_id in rule.channel_ids or ()]
    started = deliveries.start(made)
    return {"events": len(events), "deliveries": len(started)}
