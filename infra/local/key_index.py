"""Sorted key indexes for moto's DynamoDB tables, so a Query costs what it reads.

moto answers a Query by walking and sorting every item of the table (or, for an index,
every item of the table again), so listing 50 tasks slows down as the table grows. Here
each table keeps, per partition, its sort keys in order, and each secondary index keeps
its own partitions in (index sort key, table key) order. A Query then finds its first
key by bisection and reads items one by one until its Limit, its 1 MB page or the end of
its key range: time proportional to the items it returns, as in DynamoDB.

The indexes are derived data: every way moto changes an item (Table.put_item and
delete_item, the backend's update_item, which transactions and batches use too) refreshes
that key's entries afterwards, and a table whose index was never built (a fresh
`mock_aws`, a bulk restore) builds it from its items on first use.

Key order follows DynamoDB: strings by code point (the order of their UTF-8 bytes),
numbers by value, binary by bytes. Queries this index cannot answer exactly (legacy
QueryFilter arguments, multi-attribute index keys) go to moto's own implementation.
"""
from __future__ import annotations

import base64
from bisect import bisect_left, bisect_right, insort
from decimal import Decimal
from typing import Any

from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, GlobalSecondaryIndex, Table


def native(value: DynamoType) -> Any:
    """A key attribute as a Python value with DynamoDB's ordering."""
    if value.type == "N":
        return Decimal(value.value)
    if value.type == "B":
        raw = value.value
        return raw if isinstance(raw, bytes) else base64.b64decode(raw)
    return value.value


class Partition:
    """One partition's sort keys in order, and the moto key object for each."""

    __slots__ = ("hash_key", "order", "keys")

    def __init__(self, hash_key: DynamoType):
        self.hash_key = hash_key
        self.order: list = []                 # native sort keys, ascending
        self.keys: dict[Any, DynamoType] = {}  # native sort key -> moto's range key

    def add(self, range_key: DynamoType) -> None:
        key = native(range_key)
        if key not in self.keys:
            insort(self.order, key)
        self.keys[key] = range_key

    def discard(self, range_key: DynamoType) -> None:
        key = native(range_key)
        if self.keys.pop(key, None) is not None:
            del self.order[bisect_left(self.order, key)]


class SecondaryKeys:
    """One secondary index: per index partition, entries `(index sort key, table hash,
    table sort key)` in order; and where each table item currently sits."""

    def __init__(self, index, table: Table):
        schema = index.schema
        hashes = [k["AttributeName"] for k in schema if k["KeyType"] == "HASH"]
        ranges = [k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"]
        self.name = index.name
        self.index = index
        self.exact = len(hashes) == 1 and len(ranges) <= 1
        self.hash_attr = hashes[0] if hashes else None
        self.range_attr = ranges[0] if ranges else None
        self.global_ = isinstance(index, GlobalSecondaryIndex)
        self.partitions: dict[Any, list] = {}
        self.placed: dict[tuple, tuple] = {}   # table key -> (index hash, entry)

    def entry_for(self, item: Item | None, table_key: tuple):
        if item is None or self.hash_attr not in item.attrs:
            return None
        if self.range_attr is not None:
            if self.range_attr not in item.attrs:
                return None
            return native(item.attrs[self.hash_attr]), (native(item.attrs[self.range_attr]),
                                                        *table_key)
        return native(item.attrs[self.hash_attr]), table_key

    def place(self, item: Item | None, table_key: tuple) -> None:
        wanted = self.entry_for(item, table_key)
        current = self.placed.get(table_key)
        if current == wanted:
            return
        if current is not None:
            entries = self.partitions[current[0]]
            del entries[bisect_left(entries, current[1])]
            if not entries:
                del self.partitions[current[0]]
            del self.placed[table_key]
        if wanted is not None:
            insort(self.partitions.setdefault(wanted[0], []), wanted[1])
            self.placed[table_key] = wanted


class TableKeys:
    """Every index of one table, kept in step with its items."""

    def __init__(self, table: Table):
        self.table = table
        self.ranged = table.range_key_attr is not None
        self.partitions: dict[Any, Partition] = {}   # tables with a sort key
        self.hash_keys: dict[Any, DynamoType] = {}    # hash-only tables
        self.secondary = {index.name: SecondaryKeys(index, table)
                          for index in table.all_indexes()}
        for hash_key, content in table.items.items():
            if self.ranged:
                for range_key, item in content.items():
                    self._place(hash_key, range_key, item)
            else:
                self._place(hash_key, None, content)

    def table_key(self, hash_key: DynamoType, range_key: DynamoType | None) -> tuple:
        return (native(hash_key), native(range_key)) if self.ranged else (native(hash_key),)

    def _place(self, hash_key, range_key, item) -> None:
        key = native(hash_key)
        if self.ranged:
            partition = self.partitions.get(key)
            if item is not None:
                if partition is None:
                    partition = self.partitions[key] = Partition(hash_key)
                partition.add(range_key)
            elif partition is not None:
                partition.discard(range_key)
                if not partition.keys:
                    del self.partitions[key]
        elif item is not None:
            self.hash_keys[key] = hash_key
        else:
            self.hash_keys.pop(key, None)
        for secondary in self.secondary.values():
            secondary.place(item, self.table_key(hash_key, range_key))

    def refresh(self, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
        """Bring one key's index entries up to date; the item now stored there (or None)."""
        item = self.table.get_item(hash_key, range_key if self.ranged else None)
        if item is not None:
            item._switchboard_size = None
        self._place(hash_key, range_key, item)
        return item

    def item(self, table_key: tuple) -> Item | None:
        if not self.ranged:
            hash_key = self.hash_keys.get(table_key[0])
            return None if hash_key is None else self.table.items.get(hash_key)
        partition = self.partitions.get(table_key[0])
        if partition is None:
            return None
        range_key = partition.keys.get(table_key[1])
        return None if range_key is None else self.table.items[partition.hash_key].get(range_key)


def keys_of(table: Table) -> TableKeys:
    keys = getattr(table, "_switchboard_keys", None)
    if keys is None:
        keys = table._switchboard_keys = TableKeys(table)
    return keys


def refresh(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    return keys_of(table).refresh(hash_key, range_key)


# --------------------------------------------------------------------------- Query

def _bounds(order: list, comparison: str | None, values: list, key=None) -> tuple[int, int]:
    """The slice of `order` whose (first) sort key satisfies the key condition."""
    if not comparison:
        return 0, len(order)
    first = native(values[0])
    if comparison in ("=", "EQ"):
        return bisect_left(order, first, key=key), bisect_right(order, first, key=key)
    if comparison in ("<", "LT"):
        return 0, bisect_left(order, first, key=key)
    if comparison in ("<=", "LE"):
        return 0, bisect_right(order, first, key=key)
    if comparison in (">", "GT"):
        return bisect_right(order, first, key=key), len(order)
    if comparison in (">=", "GE"):
        return bisect_left(order, first, key=key), len(order)
    if comparison == "BETWEEN":
        return (bisect_left(order, first, key=key),
                bisect_right(order, native(values[1]), key=key))
    if comparison == "BEGINS_WITH":
        after_prefix = _successor(first)
        return (bisect_left(order, first, key=key),
                len(order) if after_prefix is None else bisect_left(order, after_prefix, key=key))
    raise MockValidationException(f"Unsupported key condition: {comparison}")


def _successor(prefix):
    """The least value above every value starting with `prefix` (None: there is none)."""
    top = "\U0010ffff" if isinstance(prefix, str) else b"\xff"
    while prefix and prefix[-1:] == top:
        prefix = prefix[:-1]
    if not prefix:
        return None
    if isinstance(prefix, str):
        return prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return prefix[:-1] + bytes([prefix[-1] + 1])


def _start_after(order: list, start: int, end: int, after, forward: bool,
                 key=None) -> tuple[int, int]:
    """Narrow [start, end) to the entries after `after` in reading direction."""
    if forward:
        return max(start, bisect_right(order, after, key=key)), end
    return start, min(end, bisect_left(order, after, key=key))


def _walk(order: list, start: int, end: int, forward: bool):
    return (order[i] for i in (range(start, end) if forward else range(end - 1, start - 1, -1)))


def size_of(item: Item) -> int:
    """moto's item size, remembered until the next write to the item (`refresh`)."""
    size = getattr(item, "_switchboard_size", None)
    if size is None:
        size = item._switchboard_size = item.size()
    return size


_moto_query = Table.query


def indexed_query(self: Table, hash_key, range_comparison, range_objs, limit,
                  exclusive_start_key, scan_index_forward, projection_expressions,
                  index_name=None, consistent_read=False, filter_expression=None,
                  hash_key_conditions=None, range_key_conditions=None, **filter_kwargs):
    keys = keys_of(self)
    secondary = keys.secondary.get(index_name) if index_name else None
    if filter_kwargs or len(hash_key_conditions or []) > 1 or \
            len(range_key_conditions or []) > 1 or (secondary is not None and not secondary.exact):
        return _moto_query(self, hash_key, range_comparison, range_objs, limit,
                           exclusive_start_key, scan_index_forward, projection_expressions,
                           index_name, consistent_read, filter_expression,
                           hash_key_conditions=hash_key_conditions,
                           range_key_conditions=range_key_conditions, **filter_kwargs)
    if index_name and secondary is None:
        raise MockValidationException(
            f"Invalid index: {index_name} for table: {self.name}. Available indexes are: "
            f"{', '.join(keys.secondary)}")
    if secondary is not None and consistent_read and secondary.global_:
        raise MockValidationException("Consistent reads are not supported on global secondary "
                                      "indexes")
    if hash_key is None and hash_key_conditions:
        hash_key = hash_key_conditions[0][1]
    forward = scan_index_forward is not False

    if secondary is None:
        if not keys.ranged:
            item = self.items.get(hash_key)
            candidates = [item] if item is not None else []
            fetch = None
        else:
            partition = keys.partitions.get(native(hash_key))
            order = partition.order if partition else []
            start, end = _bounds(order, range_comparison, range_objs)
            if exclusive_start_key:
                after = native(DynamoType(exclusive_start_key[self.range_key_attr]))
                start, end = _start_after(order, start, end, after, forward)
            candidates = _walk(order, start, end, forward)

            def fetch(sort_key, partition=partition):
                return self.items[partition.hash_key][partition.keys[sort_key]]
    else:
        order = secondary.partitions.get(native(hash_key), [])
        by_sort_key = (lambda entry: entry[0]) if secondary.range_attr else None
        if secondary.range_attr is None and range_comparison:
            raise ValueError(f"Range Key comparison but no range key found for index: "
                             f"{index_name}")
        start, end = _bounds(order, range_comparison, range_objs, key=by_sort_key)
        if exclusive_start_key:
            table_key = keys.table_key(DynamoType(exclusive_start_key[self.hash_key_attr]),
                                       DynamoType(exclusive_start_key[self.range_key_attr])
                                       if keys.ranged else None)
            after = ((native(DynamoType(exclusive_start_key[secondary.range_attr])), *table_key)
                     if secondary.range_attr else table_key)
            start, end = _start_after(order, start, end, after, forward)
        candidates = _walk(order, start, end, forward)

        def fetch(entry):
            return keys.item(entry[1:] if secondary.range_attr else entry)

    results: list[Item] = []
    size = 0
    last_evaluated_key = None
    for candidate in candidates:
        item = candidate if fetch is None else fetch(candidate)
        if item is None:
            continue
        item_size = size_of(item)
        if limit is not None and len(results) == limit or size + item_size > RESULT_SIZE_LIMIT:
            last_evaluated_key = self._get_last_evaluated_key(results[-1], index_name)
            break
        results.append(item)
        size += item_size
    scanned = len(results)
    if secondary is not None:
        results = [secondary.index.project(item) for item in results]
    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection_expressions:
        results = [item.project(projection_expressions) for item in results]
    return results, scanned, last_evaluated_key


# --------------------------------------------------------------------------- upkeep

def _key_of(table: Table, key: dict) -> tuple[DynamoType, DynamoType | None]:
    hash_key = DynamoType(key[table.hash_key_attr])
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_key, range_key


def _maintained_put(original):
    def put_item(self: Table, item_attrs, *args, **kwargs):
        try:
            return original(self, item_attrs, *args, **kwargs)
        finally:
            if self.hash_key_attr in item_attrs and \
                    (self.range_key_attr is None or self.range_key_attr in item_attrs):
                refresh(self, *_key_of(self, item_attrs))
    return put_item


def _maintained_delete(original):
    def delete_item(self: Table, hash_key, range_key=None):
        try:
            return original(self, hash_key, range_key)
        finally:
            refresh(self, hash_key, range_key)
    return delete_item


def _maintained_update(original):
    def update_item(self, table_name, key, *args, **kwargs):
        try:
            return original(self, table_name, key, *args, **kwargs)
        finally:
            table = self.tables.get(table_name)
            if table is not None and table.hash_key_attr in key:
                refresh(table, *_key_of(table, key))
    return update_item


def install() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    if getattr(Table.query, "__name__", "") == "indexed_query":
        return
    Table.query = indexed_query
    Table.put_item = _maintained_put(Table.put_item)
    Table.delete_item = _maintained_delete(Table.delete_item)
    DynamoDBBackend.update_item = _maintained_update(DynamoDBBackend.update_item)
