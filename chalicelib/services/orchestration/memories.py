"""Agent memories: what an agent keeps (facts, preferences, procedures), with a category
and an importance (1-10), listed by importance then newest, and stats kept with the writes.

A memory is at most MAX_BYTES of UTF-8 (PayloadTooLarge beyond: DynamoDB items are
400 KB, and a memory is a note, not a document — documents go to files or knowledge).
Store layout: store/agents.py.
"""
from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib.errors import PayloadTooLarge, ValidationFailed
from chalicelib.services.orchestration import agents
from chalicelib.services.records import Family, Page
from chalicelib.store.agents import (MemoryIndexRecord as IX, MemoryRecord as M,
                                     MemoryStatsRecord as S, memory_index_key,
                                     memory_stats_key)
from chalicelib.store.base import page

MEMORIES = Family(M, kind="memory", id_prefix="mem", label="Memory")
MAX_BYTES = 64 * 1024
SEARCH_BUDGET = 1000          # memories a substring search reads at most
DEFAULT_CATEGORY = "general"


def _content(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("content", "'content' is required")
    if len(value.encode("utf-8")) > MAX_BYTES:
        raise PayloadTooLarge(f"a memory is at most {MAX_BYTES} bytes; keep documents in "
                              "knowledge or files")
    return value


def _importance(value, default: int = 5) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationFailed("importance", "'importance' must be a number from 1 to 10")
    return max(1, min(10, int(value)))  # clamped, as the platform does


def _stat_changes(tx, network_id: str, agent_id: str, *, count: int, before: M | None,
                  after: M | None) -> None:
    """Move the agent's stats from `before` to `after` (None: no memory)."""
    def measure(memory):
        if memory is None:
            return 0, 0, 0
        return (len(memory.content), len(memory.content.encode("utf-8")),
                int(memory.importance))
    (c0, b0, i0), (c1, b1, i1) = measure(before), measure(after)
    tx.update(S(*memory_stats_key(network_id, agent_id)),
              actions=[S.memory_count.add(count), S.characters.add(c1 - c0),
                       S.bytes.add(b1 - b0), S.importance_sum.add(i1 - i0)])
    if count:
        pk, _ = memory_stats_key(network_id, agent_id)
        category = (after or before).category
        tx.update(S(pk, f"CAT#{category}"), actions=[S.memory_count.add(count)])


def _index(memory: M) -> IX:
    return IX(*memory_index_key(memory.network_id, memory.agent_id, memory.importance,
                                memory.id), category=memory.category)


def create(network_id: str, agent_id: str, fields: dict, *, created_by: str) -> M:
    agents.get(network_id, agent_id)
    category = str(fields.get("category") or DEFAULT_CATEGORY)[:100]
    memory = MEMORIES.new(network_id, created_by=created_by, agent_id=agent_id,
                          content=_content(fields.get("content")), category=category,
                          importance=_importance(fields.get("importance")),
                          metadata=fields.get("metadata") or None)

    def extra(tx):
        tx.save(_index(memory))
        _stat_changes(tx, network_id, agent_id, count=1, before=None, after=memory)
    return MEMORIES.create(memory, event={"agent_id": agent_id, "category": category},
                           extra=extra)


def get(network_id: str, memory_id: str) -> M:
    return MEMORIES.get(network_id, memory_id)


def update(network_id: str, memory_id: str, fields: dict) -> M:
    memory = get(network_id, memory_id)
    before = M(content=memory.content, importance=memory.importance, category=memory.category)
    old_index = _index(memory)
    content = _content(fields["content"]) if fields.get("content") is not None else memory.content
    importance = _importance(fields.get("importance"), default=int(memory.importance))

    def extra(tx):
        if importance != before.importance:
            tx.delete(old_index)
            tx.save(_index(memory))
        _stat_changes(tx, network_id, memory.agent_id, count=0, before=before, after=memory)
    return MEMORIES.update(memory, {"content": content, "importance": importance},
                           event={"agent_id": memory.agent_id}, extra=extra)


def delete(network_id: str, memory_id: str) -> None:
    memory = get(network_id, memory_id)

    def extra(tx):
        tx.delete(_index(memory))
        _stat_changes(tx, network_id, memory.agent_id, count=-1, before=memory, after=None)
    MEMORIES.delete(memory, event={"agent_id": memory.agent_id}, extra=extra)


def list_memories(network_id: str, agent_id: str, *, category: str | None = None,
                  search: str | None = None, limit: int = 50, offset: int = 0,
                  cursor: str | None = None) -> Page:
    """By importance, then newest. A category filter reads the index only; a substring
    `search` reads memories too, at most SEARCH_BUDGET of them (its total is what that
    reading found)."""
    agents.get(network_id, agent_id)
    pk = memory_index_key(network_id, agent_id, 0, "")[0]
    condition = (IX.category == category) if category else None
    if not search:
        entries, next_cursor = page(IX, pk, limit=limit, offset=offset, cursor=cursor,
                                    filter_condition=condition, newest_first=True)
        return Page(_load(network_id, entries), next_cursor, _total(network_id, agent_id, category))
    needle, found = search.casefold(), []
    entries, _ = page(IX, pk, limit=SEARCH_BUDGET, filter_condition=condition,
                      newest_first=True, budget=SEARCH_BUDGET)
    for memory in _load(network_id, entries):
        if needle in memory.content.casefold():
            found.append(memory)
    return Page(found[offset:offset + limit], None, len(found))


def _load(network_id: str, entries) -> list[M]:
    ids = [e.sk.split("#", 1)[1] for e in entries]
    if not ids:
        return []
    loaded = {m.id: m for m in M.batch_get([MEMORIES.key(network_id, i) for i in ids])}
    return [loaded[i] for i in ids if i in loaded and not loaded[i].deleted_at]


def _total(network_id: str, agent_id: str, category: str | None) -> int:
    pk, sk = memory_stats_key(network_id, agent_id)
    try:
        item = S.get(pk, f"CAT#{category}" if category else sk, consistent_read=True)
    except DoesNotExist:
        return 0
    return max(0, int(item.memory_count or 0))


def stats(network_id: str, agent_id: str) -> dict:
    agents.get(network_id, agent_id)
    pk, sk = memory_stats_key(network_id, agent_id)
    items = {i.sk: i for i in S.query(pk, consistent_read=True)}
    total = items.get(sk)
    count = max(0, int(total.memory_count or 0)) if total else 0
    size = int(total.bytes or 0) if total else 0
    return {"agent_id": agent_id, "total_count": count,
            "categories": {k[4:]: int(v.memory_count) for k, v in sorted(items.items())
                           if k.startswith("CAT#") and v.memory_count},
            "avg_importance": round(int(total.importance_sum or 0) / count, 2) if count else 0,
            "total_characters": int(total.characters or 0) if total else 0,
            "total_bytes": size, "estimated_storage_kb": round(size / 1024, 2)}
