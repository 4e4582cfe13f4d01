"""The ledger table: credit accounts and their entries.

Keys
- account    pk NET#<net>#ACCT#<account_id>  sk ACCOUNT
- entry      pk NET#<net>#ACCT#<account_id>  sk TX#<ulid>       (time order: history is a Query)
- applied    pk NET#<net>#ACCT#<account_id>  sk KEY#<idempotency key>  → the entry it produced
An account's balance and its entries change in one transaction, so the balance always
equals the sum of its entries.
"""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.store.base import TableModel, meta


class LedgerRecord(TableModel):
    Meta = meta("ledger")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    account_id = UnicodeAttribute()
    balance = NumberAttribute(null=True)          # account
    total_earned = NumberAttribute(null=True)     # account
    total_spent = NumberAttribute(null=True)      # account
    tx_id = UnicodeAttribute(null=True)           # entry, applied
    tx_type = UnicodeAttribute(null=True)         # entry: grant | charge | reward | refund
    amount = NumberAttribute(null=True)           # entry: signed
    balance_after = NumberAttribute(null=True)    # entry (written before balances were added to)
    task_id = UnicodeAttribute(null=True)         # entry
    memo = UnicodeAttribute(null=True)            # entry
    created_at = NumberAttribute()


def account_pk(network_id: str, account_id: str) -> str:
    return f"NET#{network_id}#ACCT#{account_id}"
