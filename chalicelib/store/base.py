"""What every table shares: naming, billing, the limits every write is held to, and cursor
pagination over PynamoDB queries.

Key layout convention: every tenant item's partition key starts with `NET#<network_id>`;
the few global lookup items (a credential's hash, a username, a connection id) say so
where they are defined.
"""
from __future__ import annotations

import base64
import json
import threading

from pynamodb.constants import PAY_PER_REQUEST_BILLING_MODE
from pynamodb.expressions.operand import Path, Value
from pynamodb.models import Model

from chalicelib.config import settings
from chalicelib.errors import PayloadTooLarge, ValidationFailed

# DynamoDB's own limits: an item, a partition key value, a sort key value (bytes).
ITEM_MAX_BYTES = 400 * 1024
HASH_KEY_MAX_BYTES = 2048
RANGE_KEY_MAX_BYTES = 1024


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


class TableModel(Model):
    """Base of every table's model. Every write — `save`, `update`, `delete`, and the same
    inside a transaction — passes `check_write` first, so an item DynamoDB would refuse
    (over 400 KB, a key over its size, text that is not text or not well-formed Unicode)
    is refused with a 413 or a 422 naming the attribute, never a 500 from botocore.

    The edge's field limits (api/inputs.py) normally stop such input long before; this
    is the last line of defence."""

    def save(self, condition=None, **kwargs):
        check_write(type(self), self.serialize(null_check=False))
        return super().save(condition, **kwargs)

    def get_save_kwargs_from_instance(self, *args, **kwargs):
        check_write(type(self), self.serialize(null_check=False))
        return super().get_save_kwargs_from_instance(*args, **kwargs)

    def update(self, actions, condition=None, **kwargs):
        check_write(type(self), self._updated(actions))
        return super().update(actions, condition, **kwargs)

    def get_update_kwargs_from_instance(self, actions, *args, **kwargs):
        check_write(type(self), self._updated(actions))
        return super().get_update_kwargs_from_instance(actions, *args, **kwargs)

    def delete(self, condition=None, **kwargs):
        check_write(type(self), self._keys())
        return super().delete(condition, **kwargs)

    def get_delete_kwargs_from_instance(self, *args, **kwargs):
        check_write(type(self), self._keys())
        return super().get_delete_kwargs_from_instance(*args, **kwargs)

    def _keys(self) -> dict:
        item = self.serialize(null_check=False)
        return {name: item[name] for name in (self._hash_keyname, self._range_keyname)
                if name and name in item}

    def _updated(self, actions) -> dict:
        """The item as it will be after `actions`, as far as this instance knows it: its
        attributes, with those the actions set replaced by the values they set."""
        item = self.serialize(null_check=False)
        for action in actions:
            path, *operands = action.values
            name = path.path[0] if isinstance(path, Path) else str(path)
            values = [v.value for v in _values(operands)]
            if values:
                item[name] = values[0] if len(values) == 1 else {"L": values}
        return item


def _values(operands):
    for operand in operands:
        if isinstance(operand, Value):
            yield operand
        elif hasattr(operand, "values"):
            yield from _values(operand.values)


def check_write(model: type[Model], item: dict) -> None:
    """Refuse an item (DynamoDB wire form) that DynamoDB would refuse, naming the attribute."""
    keys = {model._hash_keyname: HASH_KEY_MAX_BYTES, model._range_keyname: RANGE_KEY_MAX_BYTES}
    for index in model._indexes.values():
        for attribute in index.Meta.attributes.values():
            if attribute.is_hash_key:
                keys[attribute.attr_name] = HASH_KEY_MAX_BYTES
            elif attribute.is_range_key:
                keys[attribute.attr_name] = RANGE_KEY_MAX_BYTES
    total, largest = 0, (0, None)
    for name, value in item.items():
        size = _wire_size(name, value)
        if name in keys and size - len(name) > keys[name]:
            raise ValidationFailed(name, f"'{name}' would make a key of {size - len(name)} bytes; "
                                         f"keys are limited to {keys[name]} bytes")
        total += size
        largest = max(largest, (size, name))
    if total > ITEM_MAX_BYTES:
        raise PayloadTooLarge(f"this would store {total} bytes in one item, over the "
                              f"{ITEM_MAX_BYTES // 1024} KB DynamoDB allows; the largest field "
                              f"is '{largest[1]}' ({largest[0]} bytes)",
                              field=largest[1], limit=ITEM_MAX_BYTES)


def _wire_size(name: str, value: dict) -> int:
    """Bytes an attribute takes in an item, by DynamoDB's rules (numbers: an upper bound)."""
    (kind, inner), = value.items()
    if kind in ("S", "N", "B"):
        if kind != "B" and not isinstance(inner, str):
            raise ValidationFailed(name, f"'{name}' must be {'text' if kind == 'S' else 'a number'}, "
                                         f"not {type(inner).__name__}")
        try:
            raw = inner.encode("utf-8") if isinstance(inner, str) else inner
        except UnicodeEncodeError:
            raise ValidationFailed(name, f"'{name}' is not well-formed Unicode") from None
        return len(name) + len(raw)
    if kind in ("SS", "NS", "BS"):
        return len(name) + sum(_wire_size(name, {kind[0]: v}) - len(name) for v in inner)
    if kind == "L":
        return len(name) + 3 + sum(_wire_size(name, v) - len(name) + 1 for v in inner)
    if kind == "M":
        return len(name) + 3 + sum(_wire_size(k, v) + 1 for k, v in inner.items())
    return len(name) + 1  # BOOL, NULL


def net_key(network_id: str, *parts: str) -> str:
    return "#".join(("NET", network_id) + parts)


def idempotency_key(network_id: str, account_id: str, key: str) -> tuple[str, str]:
    """Where a create's idempotency marker lives, in the table of what it created: one
    partition per principal (its ledger account), so one client's key never meets another's."""
    return f"NET#{network_id}#IDEM#{account_id}", f"KEY#{key}"


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
        scan_index_forward=not newest_first,
        last_evaluated_key=_start_key(decode_cursor(cursor), model, index, hash_key),
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


def _start_key(start: dict | None, model: type[Model], index, hash_key: str) -> dict | None:
    """A decoded cursor, if it is one this query could have issued: the same partition, and
    only the table's and the index's key attributes. A cursor edited to point elsewhere
    (another network's partition) is refused, never passed on to DynamoDB."""
    if start is None:
        return None
    names = {model._hash_keyname, model._range_keyname}
    partition = model._hash_keyname
    if index is not None:
        for attribute in index.Meta.attributes.values():
            names.add(attribute.attr_name)
            if attribute.is_hash_key:
                partition = attribute.attr_name
    sound = set(start) <= names and all(
        isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("S", "N")
        and isinstance(next(iter(v.values())), str) for v in start.values())
    if not sound or start.get(partition) != {"S": hash_key}:
        raise ValidationFailed("cursor", "the cursor is not one this server issued")
    return start


_connection = None


def transaction():
    """A PynamoDB TransactWrite on a shared connection (endpoint from the environment)."""
    global _connection
    from pynamodb.connection import Connection
    from pynamodb.transactions import TransactWrite
    if _connection is None:
        _connection = Connection(region=settings().region)
    return TransactWrite(connection=_connection)


_pool = None
_pool_lock = threading.Lock()


def in_parallel(*calls):
    """Run independent reads at once and return their results in order: one round trip's
    latency instead of several. A call may be None (nothing to read: its result is None);
    a lone call runs in this thread. The first exception raised is re-raised."""
    global _pool
    wanted = [call for call in calls if call is not None]
    if len(wanted) <= 1:
        return [call() if call is not None else None for call in calls]
    with _pool_lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor
            _pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="reads")
    futures = [_pool.submit(call) if call is not None else None for call in calls]
    return [future.result() if future is not None else None for future in futures]


def cancelled_by_condition(error) -> bool:
    """True when a TransactWriteError was cancelled by a failed condition.

    PynamoDB reorders a transaction's items by kind (checks, deletes, puts, updates), so
    reasons cannot be matched to items by position: transactions here put a condition on
    the one item whose failure they need to tell apart.
    """
    reasons = getattr(error, "cancellation_reasons", None) or []
    return any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons)
