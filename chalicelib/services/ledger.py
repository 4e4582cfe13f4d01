"""The credit ledger: GemmaNet credits, SkyCetus LUX rewards and platform cost are one ledger.

Rules
- every account is opened on first use with a starting grant (recorded as a `grant` entry);
- every change is an entry written in one DynamoDB transaction with the balance;
- an entry is applied at most once per idempotency key (a retry returns the first entry);
- a balance never goes negative: a charge that would is refused with PaymentRequired.
"""
from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.clock import now_ms
from chalicelib.config import settings
from chalicelib.errors import PaymentRequired, ValidationFailed
from chalicelib.ids import new_id
from chalicelib.services import fanout
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


def get_account(network_id: str, account_id: str) -> L:
    """The account, opened with its starting grant if this is its first use."""
    try:
        return L.get(account_pk(network_id, account_id), "ACCOUNT", consistent_read=True)
    except DoesNotExist:
        pass
    grant = starting_grant(account_id)
    stamp = now_ms()
    pk = account_pk(network_id, account_id)
    account = L(pk, "ACCOUNT", account_id=account_id, balance=grant, total_earned=0,
                total_spent=0, created_at=stamp)
    try:
        with transaction() as tx:
            tx.save(account, condition=L.pk.does_not_exist())
            if grant:
                tx_id = new_id("tx")
                tx.save(L(pk, f"TX#{tx_id[3:]}", account_id=account_id, tx_id=tx_id,
                          tx_type="grant", amount=grant, balance_after=grant,
                          memo="starting grant", created_at=stamp))
    except TransactWriteError as error:
        if not cancelled_by_condition(error):
            raise
    return L.get(pk, "ACCOUNT", consistent_read=True)


def add_to_transaction(tx, posting: Posting, account: L) -> L:
    """Add a posting's writes to `tx`; `account` is its current state (from get_account).

    The balance update is conditioned on the balance read, so a concurrent change makes
    the whole transaction fail and the caller retries with a fresh read.
    """
    if posting.tx_type not in ENTRY_TYPES:
        raise ValueError(f"unknown entry type {posting.tx_type}")
    balance_after = account.balance + posting.amount
    if balance_after < 0:
        raise PaymentRequired(f"insufficient credits: balance {account.balance}, "
                              f"needs {-posting.amount}")
    stamp = now_ms()
    tx_id = new_id("tx")
    pk = account_pk(posting.network_id, posting.account_id)
    actions = [L.balance.set(balance_after)]
    if posting.amount > 0 and posting.tx_type == "reward":
        actions.append(L.total_earned.add(posting.amount))
    if posting.amount < 0:
        actions.append(L.total_spent.add(-posting.amount))
    if posting.tx_type == "refund":
        actions.append(L.total_spent.add(-posting.amount))
    tx.update(account, actions=actions, condition=L.balance == account.balance)
    entry = L(pk, f"TX#{tx_id[3:]}", account_id=posting.account_id, tx_id=tx_id,
              tx_type=posting.tx_type, amount=posting.amount, balance_after=balance_after,
              task_id=posting.task_id, memo=posting.memo, created_at=stamp)
    tx.save(entry)
    tx.save(L(pk, f"KEY#{posting.key}", account_id=posting.account_id, tx_id=tx_id,
              created_at=stamp), condition=L.pk.does_not_exist())
    return entry


def applied(posting: Posting) -> L | None:
    """The entry a posting's idempotency key already produced, if any."""
    pk = account_pk(posting.network_id, posting.account_id)
    try:
        marker = L.get(pk, f"KEY#{posting.key}", consistent_read=True)
    except DoesNotExist:
        return None
    return L.get(pk, f"TX#{marker.tx_id[3:]}", consistent_read=True)


def post(posting: Posting, attempts: int = 8) -> L:
    """Apply one posting on its own; idempotent on its key; retried on concurrent changes."""
    if not isinstance(posting.amount, int) or isinstance(posting.amount, bool):
        raise ValidationFailed("amount", "amounts are whole credits")
    for _ in range(attempts):
        previous = applied(posting)
        if previous is not None:
            return previous
        account = get_account(posting.network_id, posting.account_id)
        try:
            with transaction() as tx:
                entry = add_to_transaction(tx, posting, account)
            fanout.credit_changed(posting.network_id, posting.account_id, entry, posting.tx_type)
            return entry
        except TransactWriteError as error:
            if not _retryable(error):
                raise
    raise RuntimeError("ledger posting kept conflicting")


def _retryable(error: TransactWriteError) -> bool:
    reasons = getattr(error, "cancellation_reasons", None) or []
    return any(r is not None and r.code in ("ConditionalCheckFailed", "TransactionConflict")
               for r in reasons) or "TransactionConflict" in str(error)


def history(network_id: str, account_id: str, *, limit: int = 20,
            cursor: str | None = None) -> tuple[list[L], str | None]:
    """Entries newest first."""
    return page(L, account_pk(network_id, account_id), limit=limit, cursor=cursor,
                range_key_condition=L.sk.startswith("TX#"), newest_first=True)
