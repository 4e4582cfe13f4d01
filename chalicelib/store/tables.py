"""Every table the app uses, as PynamoDB models: the one source of table definitions
(the local stack creates from these, infra/ synthesizes from these)."""
from chalicelib.store.connections import ConnectionRecord
from chalicelib.store.identity import IdentityRecord

MODELS = (IdentityRecord, ConnectionRecord)

# Attribute holding an epoch-seconds expiry, for tables with DynamoDB TTL.
TTL_ATTRIBUTES = {ConnectionRecord: "expires_at"}


def create_all(wait: bool = False) -> None:
    for model in MODELS:
        if not model.exists():
            model.create_table(wait=wait)
