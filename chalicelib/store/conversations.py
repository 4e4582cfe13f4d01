"""Chat conversations and collaboration sessions (records table, store/records.py keys).

- conversation       family `conversation`; in the by_time index under
                     `NET#<net>#CONVERSATION#<owner>` at its last message, so an owner's
                     conversations list most recent first with one Query
- chat message       child `conversation/<id>/MESSAGE`, sk <ulid>: oldest first
- session            family `collaboration`
- session message    child `collaboration/<id>/MESSAGE`, sk <ulid>: one item per message
                     (an ordered log; concurrent posts never overwrite each other)
- context entry      child `collaboration/<id>/CONTEXT`, sk <key>: one item per key of the
                     shared context, so concurrent merges of different keys all land
"""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, JSONAttribute, ListAttribute, NumberAttribute,
                                 UnicodeAttribute)

from chalicelib.store.records import Record, child_pk, family_pk


class ConversationRecord(Record):
    title = UnicodeAttribute(null=True)
    agent_id = UnicodeAttribute(null=True)
    is_active = BooleanAttribute(null=True)
    total_tokens = NumberAttribute(null=True)
    total_cost_usd = NumberAttribute(null=True)
    last_message_at = NumberAttribute(null=True)
    message_count = NumberAttribute(null=True)


class ChatMessageRecord(Record):
    conversation_id = UnicodeAttribute(null=True)
    role = UnicodeAttribute(null=True)              # user|assistant|system|tool
    content = UnicodeAttribute(null=True)
    task_id = UnicodeAttribute(null=True)           # the task that carried it to the agent
    reply_id = UnicodeAttribute(null=True)          # a user message's answer
    tokens_used = NumberAttribute(null=True)
    cost_usd = NumberAttribute(null=True)


class SessionRecord(Record):
    name = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)            # active|completed
    participants = ListAttribute(of=UnicodeAttribute, null=True)
    task_id = UnicodeAttribute(null=True)
    message_count = NumberAttribute(null=True)


class SessionMessageRecord(Record):
    session_id = UnicodeAttribute(null=True)
    agent_id = UnicodeAttribute(null=True)
    message = UnicodeAttribute(null=True)
    message_type = UnicodeAttribute(null=True)


class ContextRecord(Record):
    key = UnicodeAttribute(null=True)
    value = JSONAttribute(null=True)


def owner_index_pk(network_id: str, owner: str) -> str:
    return f"{family_pk(network_id, 'conversation')}#{owner}"


def chat_message_pk(network_id: str, conversation_id: str) -> str:
    return child_pk(network_id, "conversation", conversation_id, "MESSAGE")


def session_message_pk(network_id: str, session_id: str) -> str:
    return child_pk(network_id, "collaboration", session_id, "MESSAGE")


def context_pk(network_id: str, session_id: str) -> str:
    return child_pk(network_id, "collaboration", session_id, "CONTEXT")
