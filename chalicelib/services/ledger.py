"""The credit ledger: GemmaNet credits, SkyCetus LUX rewards and platform cost are one ledger.

Rules
- every account is opened on first use with a starting grant (recorded as a `grant` entry),
  in the same transaction as that first use;
- every change is an entry written in one DynamoDB transaction with the balance, and with
  the change it pays for (a call's task, a completion): there is no separate "post then
  do" step that a crash could split;
- an entry is applied at most once per key (`charge:<task>`, `refund:<task>`, `reward:<task>`);
- a balance never goes negative: a debit is conditioned on the balance covering it, and
  refused with PaymentRequired when it does not.
Balances change by adding (DynamoDB ADD), never by writing a value read before: concurrent
changes to one account (a client's parallel calls, a busy node's rewards) all apply, none
has to be retried because another landed first. So an entry records its amount, not the
balance after it (that would need every change to an account to wait for the one before).
"""
from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.clock import now_ms
from chalicelib.config import settings
from chalicelib.errors import PaymentRequired, ValidationFailed
from chalicelib.ids import new_id
from chalicelib.store.base import cancelled_by_condition, page, transaction
from chalicelib.store.ledger import LedgerRecord as L, account_pk

ENTRY_TYPES = ("grant", "charge", "reward", "refund")


@dataclass(frozen=True)
class Posting:
    """An entry to write, prepared so callers can add it to a wider transaction."""
    network_id: str
    account_id: str
    amount: int
    tx_type: str
    key: str
    task_id: str | None = None
    memo: str | None = None


def starting_grant(account_id: str) -> int:
    cfg = settings()
    return cfg.node_starting_credits if account_id.startswith("node:") else cfg.starting_credits


def account_state(network_id: str, account_id: str) -> L | None:
    """The account as it stands, or None if it was never used (a consistent read)."""
    try:
        return L.get(account_pk(network_id, account_id), "ACCOUNT", consistent_read=True)
    except DoesNotExist:
        return None


def get_account(network_id: str, account_id: str) -> L:
    """The account, opened with its starting grant if this is its first use."""
    account = account_state(network_id, account_id)
    if account is not None:
        return account
    grant = starting_grant(account_id)
    try:
        with transaction() as tx:
            _open(tx, network_id, account_id, grant, now_ms())
    except TransactWriteError as error:
        if not cancelled_by_condition(error):
            raise
    return L.get(account_pk(network_id, account_id), "ACCOUNT", consistent_read=True)


def _open(tx, network_id: str, account_id: str, balance: int, stamp: int, **totals) -> None:
    """Open an account in `tx` with its starting grant (and `balance` after the grant and
    whatever else the transaction posts); refused if another writer opened it first."""
    pk = account_pk(network_id, account_id)
    tx.save(L(pk, "ACCOUNT", account_id=account_id, balance=balance,
              total_earned=totals.get("total_earned", 0), total_spent=totals.get("total_spent", 0),
              created_at=stamp), condition=L.pk.does_not_exist())
    grant = starting_grant(account_id)
    if grant:
        tx_id = new_id("tx")
        tx.save(L(pk, f"TX#{tx_id[3:]}", account_id=account_id, tx_id=tx_id, tx_type="grant",
                  amount=grant, memo="starting grant", created_at=stamp))


def add_to_transaction(tx, posting: Posting, account: L | None) -> L:
    """Add a posting's writes to `tx`; `account` is its current state (`account_state`),
    None for an account never used, which the transaction then opens with its grant.

    A debit is conditioned on the balance still covering it (a concurrent change that
    leaves too little cancels the transaction: read again, and PaymentRequired if it is
    short); opening is conditioned on the account being new. The entry's key marker is
    conditioned on being new: a posting applies once.
    """
    if posting.tx_type not in ENTRY_TYPES:
        raise ValueError(f"unknown entry type {posting.tx_type}")
    if not isinstance(posting.amount, int) or isinstance(posting.amount, bool):
        raise ValidationFailed("amount", "amounts are whole credits")
    before = account.balance if account is not None else starting_grant(posting.account_id)
    if before + posting.amount < 0:
        raise PaymentRequired(f"insufficient credits: balance {before}, needs {-posting.amount}")
    earned = posting.amount if posting.tx_type == "reward" and posting.amount > 0 else 0
    spent = -posting.amount if posting.amount < 0 or posting.tx_type == "refund" else 0
    stamp = now_ms()
    pk = account_pk(posting.network_id, posting.account_id)
    if account is None:
        _open(tx, posting.network_id, posting.account_id, before + posting.amount, stamp,
              total_earned=earned, total_spent=spent)
    else:
        actions = [L.balance.add(posting.amount)]
        if earned:
            actions.append(L.total_earned.add(earned))
        if spent:
            actions.append(L.total_spent.add(spent))
        tx.update(account, actions=actions,
                  condition=L.balance >= -posting.amount if posting.amount < 0 else L.pk.exists())
    tx_id = new_id("tx")
    entry = L(pk, f"TX#{tx_id[3:]}", account_id=posting.account_id, tx_id=tx_id,
              tx_type=posting.tx_type, amount=posting.amount, task_id=posting.task_id,
              memo=posting.memo, created_at=stamp)
    tx.save(entry)
    tx.save(L(pk, f"KEY#{posting.key}", account_id=posting.account_id, tx_id=tx_id,
              created_at=stamp), condition=L.pk.does_not_exist())
    return entry


def history(network_id: str, account_id: str, *, limit: int = 20,
            cursor: str | None = None) -> tuple[list[L], str | None]:
    """Entries newest first."""
    return page(L, account_pk(network_id, account_id), limit=limit, cursor=cursor,
                range_key_condition=L.sk.startswith("TX#"), newest_first=True)
