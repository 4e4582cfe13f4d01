"""Records of everything that reaches outside the hub (records table, store/records.py keys).

- webhook    pk NET#<net>#WEBHOOK              sk <whk id>   a subscription: URL, event
             patterns, its signing secret(s) and headers sealed together (one KMS call
             per attempt), retry policy, health
- channel    pk NET#<net>#CHANNEL              sk <chn id>   a notification channel: kind,
             plain config, sealed tokens
- delivery   pk NET#<net>#<TARGET>#<target id>#DELIVERY   sk <event id>   one event (or a
             test) sent to one webhook or channel: its body, every attempt, its state. A
             target's delivery log is one Query; the event id as sort key makes matching
             the same event twice a no-op (conditional put)
             by_time: time_pk DUE#DELIVERY, time_sk <due ms>#<id> while an attempt is due:
             the sweep finds deliveries whose queue message was lost with one Query
- breaker    pk NET#<net>#BREAKER              sk <name>     a circuit breaker per target
             host (`host:port`, `ses`), its state, counters and thresholds
- ssh        pk NET#<net>#SSH                  sk <ssh id>   an SSH connection: where, who,
             sealed credentials, the pinned host key
"""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, JSONAttribute, ListAttribute,
                                 NumberAttribute, UnicodeAttribute)

from chalicelib.store.records import Record, child_pk

DUE_DELIVERY = "DUE#DELIVERY"


class WebhookRecord(Record):
    name = UnicodeAttribute(null=True)
    url = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    events = ListAttribute(of=UnicodeAttribute, null=True)      # patterns: type, `task.*`, `*`
    is_active = BooleanAttribute(null=True)
    sealed = UnicodeAttribute(null=True)                        # JSON {secret, previous, headers}
    previous_until = NumberAttribute(null=True)                 # the rotated-out secret signs too
    header_names = ListAttribute(of=UnicodeAttribute, null=True)  # until then
    retry_policy = JSONAttribute(null=True)                     # {max_retries, backoff_seconds}
    owner_id = UnicodeAttribute(null=True)                      # who is told when it is disabled
    last_triggered_at = NumberAttribute(null=True)
    last_success_at = NumberAttribute(null=True)
    failure_count = NumberAttribute(null=True)                  # dead deliveries in a row
    disabled_reason = UnicodeAttribute(null=True)


class ChannelRecord(Record):
    name = UnicodeAttribute(null=True)
    channel_type = UnicodeAttribute(null=True)                  # email | slack | webhook | telegram
    config = JSONAttribute(null=True)                           # what is not secret
    sealed = UnicodeAttribute(null=True)                        # JSON of the secret fields
    hints = JSONAttribute(null=True)                            # masked views of those
    is_active = BooleanAttribute(null=True)


class DeliveryRecord(Record):
    target_kind = UnicodeAttribute(null=True)                   # webhook | channel
    target_id = UnicodeAttribute(null=True)
    event_id = UnicodeAttribute(null=True)
    event_type = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)                          # exactly the bytes signed and sent
    status = UnicodeAttribute(null=True)                        # pending | retrying | succeeded | dead
    attempts = JSONAttribute(null=True)                         # [{attempt, at, status_code, ...}]
    attempt_count = NumberAttribute(null=True)
    max_attempts = NumberAttribute(null=True)
    backoff_ms = NumberAttribute(null=True)                     # the first retry's delay
    next_attempt_at = NumberAttribute(null=True)
    lease_until = NumberAttribute(null=True)                    # a worker is sending it
    delivered_at = NumberAttribute(null=True)
    last_status_code = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)


class BreakerRecord(Record):
    name = UnicodeAttribute(null=True)
    state = UnicodeAttribute(null=True)                         # closed | open | half_open
    forced = UnicodeAttribute(null=True)                        # open: held open by an operator
    failure_count = NumberAttribute(null=True)                  # in the current window
    window_started_at = NumberAttribute(null=True)
    opened_at = NumberAttribute(null=True)
    open_until = NumberAttribute(null=True)
    probe_until = NumberAttribute(null=True)                    # a half-open trial is running
    half_open_successes = NumberAttribute(null=True)
    total_successes = NumberAttribute(null=True)
    total_failures = NumberAttribute(null=True)
    last_failure_at = NumberAttribute(null=True)
    last_success_at = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    failure_threshold = NumberAttribute(null=True)
    recovery_timeout_s = NumberAttribute(null=True)
    success_threshold = NumberAttribute(null=True)
    window_s = NumberAttribute(null=True)


class SSHConnectionRecord(Record):
    name = UnicodeAttribute(null=True)
    host = UnicodeAttribute(null=True)
    port = NumberAttribute(null=True)
    username = UnicodeAttribute(null=True)
    auth_type = UnicodeAttribute(null=True)                     # password | key
    sealed = UnicodeAttribute(null=True)                        # JSON {password | private_key, passphrase}
    description = UnicodeAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, null=True)
    status = UnicodeAttribute(null=True)                        # untested | connected | failed
    last_tested_at = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    host_key = UnicodeAttribute(null=True)                      # pinned on the first success
    host_key_fingerprint = UnicodeAttribute(null=True)


def delivery_pk(network_id: str, target_kind: str, target_id: str) -> str:
    return child_pk(network_id, target_kind, target_id, "delivery")
