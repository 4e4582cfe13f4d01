"""The shape every platform family shares (services/records.py) and the audit trail."""
from __future__ import annotations

import time

import pytest
from pynamodb.attributes import UnicodeAttribute

from chalicelib.errors import Conflict, NotFound
from chalicelib.services import audit, events
from chalicelib.services.records import Family
from chalicelib.store.records import Record


class GadgetRecord(Record):
    name = UnicodeAttribute(null=True)
    colour = UnicodeAttribute(null=True)


GADGETS = Family(GadgetRecord, kind="gadget", id_prefix="gdg", label="Gadget", unique_names=True)


def test_a_family_keeps_its_records_names_counts_and_events(aws):
    made = [GADGETS.create(GADGETS.new("net_a", created_by="user:1", name=f"G{i}",
                                       colour="red" if i % 2 else "blue"))
            for i in range(5)]
    GADGETS.create(GADGETS.new("net_b", created_by="user:2", name="G0"))  # another network

    first = GADGETS.list("net_a", limit=2)
    assert [g.name for g in first.items] == ["G4", "G3"] and first.total == 5
    rest = GADGETS.list("net_a", limit=10, cursor=first.next_cursor)
    assert [g.name for g in rest.items] == ["G2", "G1", "G0"] and rest.next_cursor is None
    assert GADGETS.list("net_a", offset=3).items[0].name == "G1"
    red = GADGETS.list("net_a", condition=GadgetRecord.colour == "red")
    assert {g.name for g in red.items} == {"G1", "G3"} and red.total == 2

    with pytest.raises(Conflict):
        GADGETS.create(GADGETS.new("net_a", created_by="user:1", name=" g2 "))

    stale = GADGETS.get("net_a", made[2].id)
    fresh = GADGETS.get("net_a", made[2].id)
    GADGETS.update(fresh, {"colour": "green"})
    with pytest.raises(Conflict):
        GADGETS.update(stale, {"colour": "black"})  # read before the change: no lost update
    assert GADGETS.get("net_a", made[2].id).colour == "green"
    with pytest.raises(Conflict):
        GADGETS.update(GADGETS.get("net_a", made[2].id), {"name": "G3"})
    renamed = GADGETS.update(GADGETS.get("net_a", made[2].id), {"name": "Renamed"})
    GADGETS.create(GADGETS.new("net_a", created_by="user:1", name="G2"))  # the old name is free

    GADGETS.delete(renamed)
    with pytest.raises(NotFound):
        GADGETS.get("net_a", renamed.id)
    with pytest.raises(NotFound):
        GADGETS.delete(renamed)
    assert GADGETS.get("net_a", renamed.id, deleted=True).deleted_at
    listed = GADGETS.list("net_a")
    assert renamed.id not in {g.id for g in listed.items} and listed.total == 5
    GADGETS.create(GADGETS.new("net_a", created_by="user:1", name="Renamed"))

    time.sleep(0.6)  # streams read half a second behind now (services/events.py)
    logged, _ = events.read("net_a", None)
    kinds = [e.type for e in logged]
    assert kinds.count("gadget.created") == 7 and kinds.count("gadget.updated") == 2
    assert kinds.count("gadget.deleted") == 1
    assert all(e.data["id"].startswith("gdg_") for e in logged)
    assert events.known_type("gadget.updated") and events.known_type("gadget.*")


def test_the_audit_trail_is_newest_first_paginated_and_secret_free(aws):
    for n in range(7):
        audit.append("net_a", action=f"thing.{n}", outcome="success", actor_id="user:1",
                     details={"password": "hunter2", "api_key": "k", "count": n})
    audit.append("net_b", action="elsewhere", outcome="success")
    page, cursor = audit.entries("net_a", limit=3)
    assert [e.action for e in page] == ["thing.6", "thing.5", "thing.4"]
    page2, cursor2 = audit.entries("net_a", limit=10, before=cursor)
    assert [e.action for e in page2] == ["thing.3", "thing.2", "thing.1", "thing.0"]
    assert cursor2 is None
    assert all(e.details == {"count": int(e.action[-1])} for e in page + page2)
    assert [e.action for e in audit.entries("net_a", action="thing.2")[0]] == ["thing.2"]
    with pytest.raises(Exception):
        audit.entries("net_a", before="not-a-cursor")


def test_a_created_record_names_the_requests_audit_target_once(aws):
    note = audit.begin()
    try:
        first = GADGETS.create(GADGETS.new("net_a", created_by="user:1", name="Made"))
        GADGETS.create(GADGETS.new("net_a", created_by="user:1", name="Consequence"))
        assert (note.target_type, note.target_id) == ("gadget", first.id)
    finally:
        audit._note.set(None)  # the request is over
