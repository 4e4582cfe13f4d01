"""Agents and their memories (records table, store/records.py keys).

- agent         family `agent`: an LLM configuration bound to a worker node (`worker_id`)
- memory        family `memory`: the memory itself (found by id alone, as
                `PUT /agents/memories/{id}` needs)
- memory index  child `agent/<agent id>/MEMORY`, sk `<importance 01-10>#<memory id>`: an
                agent's memories in the order the platform lists them (importance, then
                newest), read newest-first as one Query; moved when the importance changes
- memory stats  child `agent/<agent id>/MEMSTATS`, sk `#STATS`: count, characters, bytes,
                importance sum and per-category counts, updated in the transaction of
                every memory write
"""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, JSONAttribute, ListAttribute, MapAttribute,
                                 NumberAttribute, UnicodeAttribute)

from chalicelib.store.records import Record, child_pk


class AgentRecord(Record):
    name = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    role = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)            # idle|busy|error|offline|paused|maintenance
    is_active = BooleanAttribute(null=True)
    worker_id = UnicodeAttribute(null=True)         # the node the agent runs on
    settings = JSONAttribute(null=True)             # llm_provider, llm_model, prompt, tools, ...
    tags = ListAttribute(of=UnicodeAttribute, null=True)
    email = UnicodeAttribute(null=True)
    last_active_at = NumberAttribute(null=True)


class MemoryRecord(Record):
    agent_id = UnicodeAttribute(null=True)
    content = UnicodeAttribute(null=True)
    category = UnicodeAttribute(null=True)
    importance = NumberAttribute(null=True)
    metadata = JSONAttribute(null=True)


class MemoryIndexRecord(Record):
    category = UnicodeAttribute(null=True)


class MemoryStatsRecord(Record):
    memory_count = NumberAttribute(null=True)
    characters = NumberAttribute(null=True)
    bytes = NumberAttribute(null=True)
    importance_sum = NumberAttribute(null=True)
    categories = MapAttribute(null=True)            # category -> count


STATS_SK = "#STATS"


def memory_index_key(network_id: str, agent_id: str, importance: int, memory_id: str):
    return child_pk(network_id, "agent", agent_id, "MEMORY"), f"{int(importance):02d}#{memory_id}"


def memory_stats_key(network_id: str, agent_id: str):
    return child_pk(network_id, "agent", agent_id, "MEMSTATS"), STATS_SK
