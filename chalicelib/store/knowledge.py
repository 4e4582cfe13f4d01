"""Knowledge entries and their search index (records table, store/records.py keys).

- entry    family `knowledge`; `terms` keeps what it was indexed under ({term: weight})
- posting  pk `NET#<net>#KNOWLEDGE#TERM#<term>`, sk `<9999 - weight, 4 digits>#<entry id>`:
           one item per (term, entry), written with the entry. A term's postings read in
           key order come heaviest first, so a search reads the best matches of each of
           its words and can stop early; the category rides along for filtering
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.store.records import Record, family_pk

MAX_WEIGHT = 9999


class EntryRecord(Record):
    title = UnicodeAttribute(null=True)
    content = UnicodeAttribute(null=True)
    category = UnicodeAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, null=True)
    source = UnicodeAttribute(null=True)
    terms = JSONAttribute(null=True)


class PostingRecord(Record):
    entry_id = UnicodeAttribute(null=True)
    category = UnicodeAttribute(null=True)
    weight = NumberAttribute(null=True)


def posting_key(network_id: str, term: str, weight: int, entry_id: str) -> tuple[str, str]:
    return (f"{family_pk(network_id, 'knowledge')}#TERM#{term}",
            f"{MAX_WEIGHT - min(int(weight), MAX_WEIGHT):04d}#{entry_id}")
