"""Every table the app uses, as PynamoDB models: the one source of table definitions
(the local stack creates from these, infra/ synthesizes from these)."""
from chalicelib.store.connections import ConnectionRecord
from chalicelib.store.events import EventRecord
from chalicelib.store.files import FileRecord
from chalicelib.store.identity import IdentityRecord
from chalicelib.store.ledger import LedgerRecord
from chalicelib.store.messages import MessageRecord
from chalicelib.store.nodes import NodeRecord
from chalicelib.store.records import Record
from chalicelib.store.tasks import TaskRecord

# The records table holds many families (subclasses of Record); Record defines the table.
MODELS = (IdentityRecord, ConnectionRecord, EventRecord, NodeRecord, TaskRecord, LedgerRecord,
          FileRecord, MessageRecord, Record)

# Attribute holding an epoch-seconds expiry, for tables with DynamoDB TTL.
TTL_ATTRIBUTES = {IdentityRecord: "purge_at", ConnectionRecord: "expires_at", EventRecord: "expires_at",
                  MessageRecord: "expires_at", Record: "expires_at"}


def create_all(wait: bool = False) -> None:
    for model in MODELS:
        if not model.exists():
            model.create_table(wait=wait)
