"""Everything that leaves the hub, through one path.

guard       where we may connect: http/https only, every address a name resolves to checked
            (private, loopback, link-local, metadata and other reserved ranges refused
            unless SWITCHBOARD_OUTBOUND_ALLOW lists them), and the connection made to the
            very address that was checked; again at every redirect
http        the one HTTP sender: timeouts, capped bodies, redirects through the guard
breakers    a circuit breaker per target host; open ones make deliveries wait
signing     Standard Webhooks signatures
deliveries  durable delivery records: attempts, retries with backoff and jitter, a dead
            state, the delivery log; sent by the queue consumer, recovered by a sweep
matcher     the events table's stream consumer: events → webhook deliveries and
            notification rules
webhooks    subscriptions (and their test delivery)
channels    notification channels: Slack, Telegram, generic webhooks (HTTP) and email (SES)
ssh         SSH connections: handshake, pinned host keys, execute
"""

from chalicelib.services import on_first_use

__getattr__ = on_first_use(__name__)  # modules load on first use (see chalicelib/services)
