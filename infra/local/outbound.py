"""What the outbound context needs from AWS, provided locally (the local stack and the tests):

- the vault's KMS key under its alias (moto KMS). The local stack keeps the key's id and
  material in its data directory (`vault-key.json`, 0600, beside `keys.json`), so values
  sealed before a restart still open after it; moto's KMS itself forgets everything;
- the SES sender identity (moto SES refuses mail from an unverified address);
- the deliveries queue (moto SQS);
- the consumers Lambda would run: the events table's stream into the app's
  `on_dynamodb_record` handlers, and the deliveries queue into its `on_sqs_message`
  handlers, with the event shapes AWS sends (see `Consumers`).
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from moto.core import DEFAULT_ACCOUNT_ID

log = logging.getLogger("switchboard.local")
KEY_FILE = "vault-key.json"
VISIBILITY_S = 60            # a batch whose handler failed comes back after this
_built_keys: dict = {}


def _kms_key(backend, alias: str, saved: dict | None):
    """One moto KMS key object per process (moto makes an RSA key for every key it creates,
    ~0.1 s), registered in this backend under `alias`, with the saved id and material."""
    key = _built_keys.get(alias)
    if key is None:
        key = backend.create_key(policy=None, key_usage="ENCRYPT_DECRYPT",
                                 key_spec="SYMMETRIC_DEFAULT",
                                 description="Switchboard vault (local)", tags=None)
        backend.keys.pop(key.id)
        if saved:
            key.id = saved["id"]
            key.arn = f"{key.arn.rsplit('/', 1)[0]}/{key.id}"
            key.key_material = bytes.fromhex(saved["material"])
        _built_keys[alias] = key
    backend.keys[key.id] = key
    if alias not in key.aliases:
        backend.create_alias(key.id, alias)
    return key


def provision(region: str, data_dir: Path | None = None) -> None:
    """Create the vault key, the SES sender identity and the deliveries queue in the
    in-process emulator (or under moto's mock_aws in tests)."""
    import boto3
    from moto.kms.models import kms_backends

    from chalicelib.config import settings
    cfg = settings()
    saved = None
    path = data_dir / KEY_FILE if data_dir is not None else None
    if path is not None and path.exists():
        saved = json.loads(path.read_text())
    key = _kms_key(kms_backends[DEFAULT_ACCOUNT_ID][region], cfg.vault_key_id, saved)
    if path is not None and saved is None:
        path.write_text(json.dumps({"id": key.id, "material": key.key_material.hex()}))
        path.chmod(0o600)
    boto3.client("ses", region_name=region).verify_email_identity(EmailAddress=cfg.mail_from)
    boto3.client("sqs", region_name=region).create_queue(QueueName=cfg.deliveries_queue)


# --------------------------------------------------------------------------- consumers


def _stream_table(stream_arn: str) -> str:
    """`arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>` → `<name>`."""
    return stream_arn.split(":table/", 1)[1].split("/", 1)[0]


class Consumers:
    """Runs the app's stream and queue handlers as Lambda's event source mappings would.

    - DynamoDB stream: moto records every write to a table created with a stream. The
      records are taken under the emulator's lock, so a transaction's writes come as one
      batch; an item put and then removed in the same batch (moto applies a cancelled
      transaction's puts, then undoes them) never reaches the handler, as in DynamoDB,
      where a cancelled transaction writes nothing to the stream.
    - SQS: polls the queue (moto honours DelaySeconds and visibility), hands batches
      to the handler, and deletes the messages once it returns, as Lambda does; a handler
      that raises leaves them to come back after the visibility timeout.
    `drain()` runs both until nothing is left (tests); `start()` runs them on threads.
    """

    def __init__(self, app_module, region: str, poll_s: float = 0.05):
        from chalicelib.api.application import SwitchboardApp  # noqa: F401 (app is loaded)
        self.region = region
        self.poll_s = poll_s
        self.streams, self.queues = [], []
        for source in app_module.app.event_sources:
            handler = getattr(app_module, source.handler_string.rsplit(".", 1)[-1], None)
            if getattr(source, "stream_arn", None):
                self.streams.append((source.stream_arn, handler, source.batch_size or 100))
            elif getattr(source, "queue", None) or getattr(source, "queue_arn", None):
                name = source.queue or source.queue_arn.rsplit(":", 1)[-1]
                self.queues.append((name, handler, source.batch_size or 10))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ streams

    def _take_stream(self, stream_arn: str) -> list[dict]:
        from infra.local import dynamodb
        engine = dynamodb._installed
        with engine.lock:
            table = engine.backend.tables.get(_stream_table(stream_arn))
            shard = getattr(table, "stream_shard", None)
            if shard is None or not shard.items:
                return []
            taken, shard.items = shard.items, []
            shard.starting_sequence_number += len(taken)
        records = [r.to_json() for r in taken]
        for record in records:  # what Lambda's records carry and moto's lack
            record["eventSourceARN"] = stream_arn
            record["awsRegion"] = self.region
            stamp = record["dynamodb"]["ApproximateCreationDateTime"]
            record["dynamodb"]["ApproximateCreationDateTime"] = \
                datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc).timestamp()
        removed = {json.dumps(r["dynamodb"]["Keys"], sort_keys=True)
                   for r in records if r["eventName"] == "REMOVE"}
        return [r for r in records if r["eventName"] != "REMOVE" and
                json.dumps(r["dynamodb"]["Keys"], sort_keys=True) not in removed]

    def _run_stream(self, stream_arn, handler, batch_size) -> int:
        records = self._take_stream(stream_arn)
        for start in range(0, len(records), batch_size):
            self._invoke(handler, {"Records": records[start:start + batch_size]},
                         f"stream {_stream_table(stream_arn)}")
        return len(records)

    # ------------------------------------------------------------------ queues

    def _run_queue(self, name, handler, batch_size) -> int:
        """One receive from moto's queue, in process (a poll costs microseconds, not an
        HTTP round trip), shaped as Lambda's SQS event."""
        from moto.sqs.models import sqs_backends
        backend = sqs_backends[DEFAULT_ACCOUNT_ID][self.region]
        received = backend.receive_message(name, min(batch_size, 10), wait_seconds_timeout=0,
                                           visibility_timeout=VISIBILITY_S)
        if not received:
            return 0
        arn = f"arn:aws:sqs:{self.region}:{DEFAULT_ACCOUNT_ID}:{name}"
        event = {"Records": [{
            "messageId": m.id, "receiptHandle": m.receipt_handle, "body": m.body,
            "attributes": {"ApproximateReceiveCount": str(m.approximate_receive_count)},
            "messageAttributes": {}, "md5OfBody": m.body_md5, "eventSource": "aws:sqs",
            "eventSourceARN": arn, "awsRegion": self.region} for m in received]}
        if self._invoke(handler, event, f"queue {name}"):
            for message in received:
                backend.delete_message(name, message.receipt_handle)
        return len(received)

    # ------------------------------------------------------------------ running

    def _invoke(self, handler, event: dict, label: str) -> bool:
        from infra.local.gateway import LambdaContext
        try:
            handler(event, LambdaContext(label, 900))
            return True
        except Exception:  # Lambda retries the batch; so does this runner
            log.exception("consumer failed", extra={"consumer": label})
            return False

    def drain(self, timeout_s: float = 10.0) -> int:
        """Run every consumer until a full pass finds nothing (or `timeout_s`); the number
        of records handled. Messages delayed into the future are not waited for."""
        handled, deadline = 0, time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = sum(self._run_stream(*s) for s in self.streams) + \
                sum(self._run_queue(*q) for q in self.queues)
            if not found:
                return handled
            handled += found
        return handled

    def start(self) -> None:
        for stream_arn, handler, batch in self.streams:
            self._spawn(f"stream-{_stream_table(stream_arn)}", lambda s=(stream_arn, handler, batch):
                        self._run_stream(*s), idle_s=self.poll_s)
        for name, handler, batch in self.queues:
            # Short polls: moto's long poll notices a delayed message only once a second.
            self._spawn(f"queue-{name}", lambda q=(name, handler, batch): self._run_queue(*q),
                        idle_s=self.poll_s)

    def _spawn(self, name: str, step, idle_s: float) -> None:
        def loop():
            while not self._stop.is_set():
                try:
                    if not step() and idle_s:
                        self._stop.wait(idle_s)
                except Exception:
                    log.exception("consumer loop failed", extra={"consumer": name})
                    self._stop.wait(1.0)
        thread = threading.Thread(target=loop, name=f"consumer-{name}-{uuid.uuid4().hex[:4]}",
                                  daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
