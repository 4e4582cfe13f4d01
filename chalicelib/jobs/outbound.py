"""The outbound consumers app.py wires to Lambda (and the local stack runs the same way):

- `match_events`: the events table's DynamoDB stream → webhook deliveries and
  notification rules (services/outbound/matcher.py), and the networks /metrics reports on;
- `send_deliveries`: the deliveries queue (SQS) → one attempt per message;
- `sweep_deliveries`: every minute, re-queue deliveries whose queue message was lost.
"""
from __future__ import annotations

import os

from chalicelib import logs
from chalicelib.config import settings

log = logs.get("jobs")


def events_stream_arn() -> str:
    """The events table's stream, for `on_dynamodb_record`. Its ARN carries a label known
    only once the table exists: the CDK stack replaces this placeholder with the real one
    (infra/cdk/stack.py); `chalice deploy` needs SWITCHBOARD_EVENTS_STREAM_ARN set."""
    cfg = settings()
    return os.environ.get("SWITCHBOARD_EVENTS_STREAM_ARN") or \
        f"arn:aws:dynamodb:{cfg.region}:000000000000:table/{cfg.table_prefix}events/stream/local"


def deliveries_queue() -> str:
    return settings().deliveries_queue


# Each consumer imports the outbound services itself: every function loads app.py, and
# only these consumers need them at once (cold start).


def match_events(event) -> dict:
    from chalicelib.services.insight import metrics
    from chalicelib.services.outbound import matcher
    found = matcher.from_stream(event.to_dict().get("Records", []))
    metrics.remember_networks({e.pk[len("NET#"):] for e in found  # the networks /metrics shows
                               if e.pk.startswith("NET#")})
    result = matcher.match(found)
    if result["deliveries"]:
        log.info("events matched", extra=result)
    return result


def send_deliveries(event) -> dict:
    from chalicelib.services.outbound import deliveries
    return deliveries.handle_messages([r["body"] for r in event.to_dict().get("Records", [])])


def sweep_deliveries() -> dict:
    from chalicelib.services.outbound import deliveries
    result = deliveries.sweep()
    if result["requeued"]:
        log.warning("overdue deliveries re-queued", extra=result)
    return result
