"""The secrets vault's records (records table). Values are stored sealed only (see
services/vault.py): envelope-encrypted text that names its KMS-wrapped data key.

Keys (store/records.py)
- secret   pk NET#<net>#SECRET                    sk <sec id>        the secret, its current
           version sealed, and its metadata
- version  pk NET#<net>#SECRET#<sec id>#VERSION   sk <version, 6 digits>   every version ever
           stored, sealed (rotate keeps the earlier ones, readable by number)
- by_time  time_pk NET#<net>#SECRET#EXPIRES  time_sk <expiry ms>#<id>   secrets with an
           expiry, for `expiring?days=N` (a Query on time, never a Scan)
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.store.records import Record, child_pk, family_pk


class SecretRecord(Record):
    name = UnicodeAttribute(null=True)
    category = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    sealed = UnicodeAttribute(null=True)            # the current version, sealed
    current_version = NumberAttribute(null=True)
    expires_on = NumberAttribute(null=True)         # epoch ms (not the table's TTL attribute:
    #                                                 an expired secret is kept and refused)
    rotated_at = NumberAttribute(null=True)
    rotated_by = UnicodeAttribute(null=True)
    metadata = JSONAttribute(null=True)


class SecretVersionRecord(Record):
    sealed = UnicodeAttribute(null=True)
    secret_version = NumberAttribute(null=True)


def version_key(network_id: str, secret_id: str, version: int) -> tuple[str, str]:
    return child_pk(network_id, "secret", secret_id, "version"), f"{int(version):06d}"


def expiry_partition(network_id: str) -> str:
    return f"{family_pk(network_id, 'secret')}#EXPIRES"
