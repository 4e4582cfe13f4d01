"""The shape every platform family shares, written once: network-scoped records with ids
that sort by time, cursor (and skip) pagination with a total, optimistic updates, soft
deletes, unique names, and an event in the network's log for every change — in the same
transaction as the change.

A family's service declares one `Family` and keeps its own rules (what may change, which
transitions are legal, what else a change implies); this helper only does the bookkeeping.
Audit records are written at the edge (api/routing.py), where the action and the caller are
known.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.clock import now_ms
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.ids import ulid
from chalicelib.services import audit, events, fanout
from chalicelib.store.base import cancelled_by_condition, page, transaction
from chalicelib.store.records import (COUNTER_SK, Record, family_pk, name_key)

COUNT_BUDGET = 2000  # items a filtered total may read; beyond it the total is a lower bound


def commit(network_id: str, writes: Callable, *changes) -> bool:
    """`writes(tx)` and the events `changes` in one transaction, announced once it commits;
    False when one of its conditions failed (someone else got there first)."""
    try:
        with transaction() as tx:
            writes(tx)
            for event in changes:
                tx.save(event)
    except TransactWriteError as error:
        if cancelled_by_condition(error):
            return False
        raise
    fanout.announce(network_id, list(changes))
    return True


@dataclass
class Page:
    items: list
    next_cursor: str | None
    total: int


@dataclass(frozen=True)
class Family:
    model: type[Record]
    kind: str                    # "agent": key prefix and event names (agent.created, ...)
    id_prefix: str               # "agt": ids look like agt_01J...
    label: str                   # "Agent": messages ("Agent not found")
    unique_names: bool = False   # a live record's `name` is unique in its network

    def __post_init__(self):
        events.register_types(*(f"{self.kind}.{verb}" for verb in ("created", "updated",
                                                                     "deleted")))

    def event_type(self, verb: str) -> str:
        return f"{self.kind}.{verb}"

    # ------------------------------------------------------------------ reading

    def key(self, network_id: str, record_id: str) -> tuple[str, str]:
        return family_pk(network_id, self.kind), record_id

    def get(self, network_id: str, record_id: str, *, deleted: bool = False) -> Record:
        try:
            record = self.model.get(*self.key(network_id, str(record_id)), consistent_read=True)
        except DoesNotExist:
            record = None
        if record is None or (record.deleted_at and not deleted):
            raise NotFound(f"{self.label} not found")
        return record

    def list(self, network_id: str, *, limit: int = 50, offset: int = 0,
             cursor: str | None = None, condition=None, newest_first: bool = True) -> Page:
        """Live records, newest first: one bounded Query page (see store.base.page), and the
        total matching (the counter item when unfiltered)."""
        live = self.model.deleted_at.does_not_exist()
        condition = live if condition is None else live & condition
        items, next_cursor = page(self.model, family_pk(network_id, self.kind), limit=limit,
                                  offset=offset, cursor=cursor, filter_condition=condition,
                                  range_key_condition=self.model.sk > COUNTER_SK,
                                  newest_first=newest_first)
        return Page(items, next_cursor, self._total(network_id, condition, filtered=condition
                                                    is not live))

    def _total(self, network_id: str, condition, *, filtered: bool) -> int:
        if not filtered:
            try:
                counter = Record.get(family_pk(network_id, self.kind), COUNTER_SK,
                                     consistent_read=True)
                return max(0, int(counter.record_count or 0))
            except DoesNotExist:
                return 0
        return self.model.count(family_pk(network_id, self.kind), self.model.sk > COUNTER_SK,
                                filter_condition=condition, consistent_read=True,
                                limit=COUNT_BUDGET)

    # ------------------------------------------------------------------ writing

    def new(self, network_id: str, *, created_by: str | None, **fields) -> Record:
        """An unsaved record with a fresh id."""
        stamp = now_ms()
        record_id = f"{self.id_prefix}_{ulid(stamp)}"
        return self.model(*self.key(network_id, record_id), kind=self.kind, id=record_id,
                          network_id=network_id, created_by=created_by, created_at=stamp,
                          updated_at=stamp, version=1, **fields)

    def create(self, record: Record, *, event: dict | None = None,
               extra: Callable | None = None) -> Record:
        """Save a new record with its event (and name claim, and counter), atomically.
        `extra(tx)` adds the family's own writes to the same transaction."""
        name = getattr(record, "name", None)
        if self.unique_names and not (isinstance(name, str) and name.strip()):
            raise ValidationFailed("name", "'name' is required")
        try:
            with transaction() as tx:
                tx.save(record, condition=self.model.pk.does_not_exist())
                if self.unique_names:
                    tx.save(Record(*name_key(record.network_id, self.kind, name), id=record.id),
                            condition=Record.pk.does_not_exist())
                tx.update(Record(family_pk(record.network_id, self.kind), COUNTER_SK),
                          actions=[Record.record_count.add(1)])
                event_record = self._event(tx, record, "created", event)
                if extra:
                    extra(tx)
        except TransactWriteError as error:
            if self.unique_names and cancelled_by_condition(error):
                raise Conflict(f"{self.label} named {name!r} already exists") from None
            raise
        audit.note_created(self.kind, record.id)
        fanout.announce(record.network_id, [event_record])
        return record

    def update(self, record: Record, sets: dict, *, removals: Iterable[str] = (),
               event: dict | None = None, verb: str = "updated",
               extra: Callable | None = None) -> Record:
        """Change fields of a record read at `record.version`: a concurrent change in
        between is a Conflict (read again and retry), never a lost update."""
        stamp = now_ms()
        sets = {**sets, "updated_at": stamp}
        renamed = self.unique_names and "name" in sets and \
            sets["name"].strip().casefold() != record.name.strip().casefold()
        actions = [getattr(self.model, k).set(v) for k, v in sets.items()] + \
                  [getattr(self.model, k).remove() for k in removals] + \
                  [self.model.version.add(1)]
        try:
            with transaction() as tx:
                tx.update(record, actions=actions,
                          condition=(self.model.version == record.version) &
                          self.model.deleted_at.does_not_exist())
                if renamed:
                    tx.delete(Record(*name_key(record.network_id, self.kind, record.name)))
                    tx.save(Record(*name_key(record.network_id, self.kind, sets["name"]),
                                   id=record.id), condition=Record.pk.does_not_exist())
                for name, value in sets.items():
                    setattr(record, name, value)
                for name in removals:
                    setattr(record, name, None)
                event_record = self._event(tx, record, verb, event)
                if extra:
                    extra(tx)
        except TransactWriteError as error:
            if cancelled_by_condition(error):
                current = self.get(record.network_id, record.id, deleted=True)
                if current.deleted_at:
                    raise NotFound(f"{self.label} not found") from None
                if renamed and current.version == record.version:
                    raise Conflict(f"{self.label} named {sets['name']!r} already exists") from None
                raise Conflict(f"{self.label} {record.id} changed meanwhile; read it again") \
                    from None
            raise
        record.version = (record.version or 0) + 1
        fanout.announce(record.network_id, [event_record])
        return record

    def delete(self, record: Record, *, event: dict | None = None,
               extra: Callable | None = None) -> None:
        """Soft delete: the record stays (history, audit) but lists and gets skip it, its
        name is free again, the count drops, and it leaves the due-time index."""
        stamp = now_ms()
        try:
            with transaction() as tx:
                tx.update(record, actions=[self.model.deleted_at.set(stamp),
                                           self.model.updated_at.set(stamp),
                                           self.model.version.add(1),
                                           self.model.time_pk.remove(),
                                           self.model.time_sk.remove()],
                          condition=self.model.deleted_at.does_not_exist())
                if self.unique_names and getattr(record, "name", None):
                    tx.delete(Record(*name_key(record.network_id, self.kind, record.name)))
                tx.update(Record(family_pk(record.network_id, self.kind), COUNTER_SK),
                          actions=[Record.record_count.add(-1)])
                event_record = self._event(tx, record, "deleted", event)
                if extra:
                    extra(tx)
        except TransactWriteError as error:
            if cancelled_by_condition(error):
                raise NotFound(f"{self.label} not found") from None
            raise
        record.deleted_at = stamp
        fanout.announce(record.network_id, [event_record])

    def _event(self, tx, record: Record, verb: str, data: dict | None):
        event = events.record(record.network_id, self.event_type(verb),
                              {"id": record.id, **(data or {})}, source=record.created_by)
        tx.save(event)
        return event
