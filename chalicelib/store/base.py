"""What every table shares: naming, billing, and cursor pagination over PynamoDB queries.

Key layout convention: every tenant item's partition key starts with `NET#<network_id>`;
the few global lookup items (a credential's hash, a username, a connection id) say so
where they are defined.
"""
from __future__ import annotations

import base64
import json

from pynamodb.constants import PAY_PER_REQUEST_BILLING_MODE
from pynamodb.models import Model

from chalicelib.config import settings
from chalicelib.errors import ValidationFailed


def meta(name: str, stream: str | None = None) -> type:
    """A PynamoDB Meta for the table `name` under the stage's prefix; `stream` is the
    view type of the table's DynamoDB stream (`NEW_IMAGE`), for tables a consumer follows."""
    cfg = settings()
    fields = {
        "table_name": cfg.table_prefix + name,
        "region": cfg.region,
        "billing_mode": PAY_PER_REQUEST_BILLING_MODE,
        "max_retry_attempts": 5,
    }
    if stream:
        fields["stream_view_type"] = stream
    return type("Meta", (), fields)


def net_key(network_id: str, *parts: str) -> str:
    return "#".join(("NET", network_id) + parts)


def encode_cursor(last_key: dict | None) -> str | None:
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, field: str = "cursor") -> dict | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError:
        raise ValidationFailed(field, "the cursor is not one this server issued") from None
    if not isinstance(value, dict):
        raise ValidationFailed(field, "the cursor is not one this server issued")
    return value


def page(model: type[Model], hash_key: str, *, limit: int, cursor: str | None = None,
         range_key_condition=None, filter_condition=None, newest_first: bool = False,
         index=None, consistent: bool = True, budget: int | None = None,
         offset: int = 0) -> tuple[list, str | None]:
    """One page of a Query in key order and the cursor for the next one (None at the end).

    DynamoDB counts items read, not items kept, so with a filter a page stops after reading
    `budget` items (default: four pages' worth) even if it holds fewer than `limit`, and
    still returns a next cursor: the cost of a request stays bounded whatever the table
    holds. `offset` skips matching items by reading past them.
    """
    budget = budget or max(limit * 4, 200) + offset
    source = index if index is not None else model
    pages = source.query(
        hash_key, range_key_condition=range_key_condition, filter_condition=filter_condition,
        scan_index_forward=not newest_first, last_evaluated_key=decode_cursor(cursor),
        consistent_read=consistent if index is None else False,
        page_size=min(budget, max(limit + offset, 25), 500),
    ).page_iter
    kept, skipped = [], 0
    for raw_page in pages:
        items = raw_page.get("Items", [])
        for position, raw in enumerate(items):
            if skipped < offset:
                skipped += 1
                continue
            kept.append(model.from_raw_data(raw))
            if len(kept) == limit:
                more = position < len(items) - 1 or pages.last_evaluated_key is not None
                return kept, encode_cursor({k: raw[k] for k in pages.key_names}) if more else None
        if pages.last_evaluated_key is None:
            return kept, None
        if pages.total_scanned_count >= budget:
            return kept, encode_cursor(pages.last_evaluated_key)
    return kept, None


_connection = None


def transaction():
    """A PynamoDB TransactWrite on a shared connection (endpoint from the environment)."""
    global _connection
    from pynamodb.connection import Connection
    from pynamodb.transactions import TransactWrite
    if _connection is None:
        _connection = Connection(region=settings().region)
    return TransactWrite(connection=_connection)


def cancelled_by_condition(error) -> bool:
    """True when a TransactWriteError was cancelled by a failed condition.

    PynamoDB reorders a transaction's items by kind (checks, deletes, puts, updates), so
    reasons cannot be matched to items by position: transactions here put a condition on
    the one item whose failure they need to tell apart.
    """
    reasons = getattr(error, "cancellation_reasons", None) or []
    return any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons)
