"""Knowledge: entries (title, content, category, tags, source) and a word search that
reads an index kept on write, never the entries themselves.

Indexing: an entry's words (title, tags and content, case-folded, stop words dropped) are
weighed — a title or tag word counts TITLE_WEIGHT, each occurrence in the content one
(capped) — and the MAX_TERMS heaviest become postings (store/knowledge.py), written before
the entry itself: a posting without its entry (a crash in between) is dropped by the
search, which reads the entries it returns.

Search: each query word's postings are read heaviest first, at most POSTINGS_PER_WORD of
them (filtered by category as they are read), and entries are ranked by how many query
words they match, then by summed weight, then newest. Only the page returned is read from
the entries. The cost of a search is the postings of its words, not the size of the
network's knowledge: `Search.items_read` reports it.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from chalicelib.errors import PayloadTooLarge, ValidationFailed
from chalicelib.services.records import Family, Page
from chalicelib.store.knowledge import EntryRecord as E, PostingRecord as P, posting_key

KNOWLEDGE = Family(E, kind="knowledge", id_prefix="kn", label="Knowledge entry")
MAX_CONTENT_BYTES = 200_000
MAX_TERMS = 200
TITLE_WEIGHT = 5
CONTENT_CAP = 20
POSTINGS_PER_WORD = 500
MAX_QUERY_WORDS = 10
STOP_WORDS = frozenset("a an and are as at be but by for from has have in into is it its of on "
                       "or that the their this to was were will with".split())
WORD = re.compile(r"\w+")


@dataclass
class Search(Page):
    items_read: int = 0


def words(text: str | None) -> list[str]:
    return [w for w in WORD.findall((text or "").casefold())
            if 2 <= len(w) <= 60 and w not in STOP_WORDS]


def weigh(title: str, content: str, tags) -> dict[str, int]:
    weights = Counter({w: min(n, CONTENT_CAP) for w, n in Counter(words(content)).items()})
    for word in set(words(title)) | {w for tag in tags or [] for w in words(tag)}:
        weights[word] += TITLE_WEIGHT
    return dict(weights.most_common(MAX_TERMS))


def create(network_id: str, fields: dict, *, created_by: str) -> E:
    title = str(fields.get("title") or "").strip()
    content = fields.get("content")
    if not title or len(title) > 500:
        raise ValidationFailed("title", "'title' is 1-500 characters")
    if not isinstance(content, str) or not content.strip():
        raise ValidationFailed("content", "'content' is required")
    if len(content.encode("utf-8")) > MAX_CONTENT_BYTES:
        raise PayloadTooLarge(f"an entry's content is at most {MAX_CONTENT_BYTES} bytes; "
                              "store larger documents as files")
    tags = [str(t) for t in fields.get("tags") or []]
    category = str(fields.get("category") or "general")
    terms = weigh(title, content, tags)
    entry = KNOWLEDGE.new(network_id, created_by=created_by, title=title, content=content,
                          category=category, tags=tags or None, source=fields.get("source"),
                          terms=terms)
    with P.batch_write() as batch:
        for term, weight in terms.items():
            batch.save(P(*posting_key(network_id, term, weight, entry.id), entry_id=entry.id,
                         category=category, weight=weight))
    return KNOWLEDGE.create(entry, event={"title": title, "category": category})


def get(network_id: str, entry_id: str) -> E:
    return KNOWLEDGE.get(network_id, entry_id)


def delete(network_id: str, entry_id: str) -> None:
    entry = get(network_id, entry_id)
    KNOWLEDGE.delete(entry, event={"title": entry.title})
    with P.batch_write() as batch:
        for term, weight in (entry.terms or {}).items():
            batch.delete(P(*posting_key(network_id, term, weight, entry.id)))


def list_entries(network_id: str, *, category: str | None = None, limit=50, offset=0,
                 cursor=None) -> Page:
    return KNOWLEDGE.list(network_id, limit=limit, offset=offset, cursor=cursor,
                          condition=(E.category == category) if category else None)


def search(network_id: str, query: str, *, category: str | None = None, limit: int = 50,
           offset: int = 0) -> Search:
    wanted = list(dict.fromkeys(words(query)))[:MAX_QUERY_WORDS]
    if not wanted:
        return Search([], None, 0, 0)
    matched, score, reads = Counter(), Counter(), 0
    for word in wanted:
        pk = posting_key(network_id, word, 0, "")[0]
        results = P.query(pk, filter_condition=(P.category == category) if category else None,
                          limit=POSTINGS_PER_WORD, page_size=POSTINGS_PER_WORD)
        for posting in results:
            matched[posting.entry_id] += 1
            score[posting.entry_id] += int(posting.weight)
        reads += results.page_iter.total_scanned_count  # items DynamoDB read, kept or not
    ranked = sorted(matched, key=lambda e: (-matched[e], -score[e], _newest(e)))
    chosen = ranked[offset:offset + limit]
    entries = {}
    if chosen:
        entries = {e.id: e for e in E.batch_get([KNOWLEDGE.key(network_id, i) for i in chosen])}
        reads += len(chosen)
    items = [entries[i] for i in chosen if i in entries and not entries[i].deleted_at]
    return Search(items, None, len(ranked), reads)


def _newest(entry_id: str) -> str:
    """Sorts newer ids first (ULIDs sort by time)."""
    return "".join(chr(0x10FFFF - ord(c)) for c in entry_id)
