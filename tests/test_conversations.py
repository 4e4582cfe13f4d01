"""Collaboration sessions and chat, at the service level (the node end is in tests/e2e)."""
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.auth.principal import Principal
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.services import messaging, nodes
from chalicelib.services.orchestration import agents, chat, collaboration

NET = "net_a"


def test_a_session_keeps_an_ordered_log_and_a_merged_context_until_closed(aws):
    for node_id in ("w1", "w2"):
        nodes.register(Principal(NET, "admin_token", "admin", system_admin=True), node_id,
                       kind="platform")
    writer = agents.create(NET, {"name": "Writer", "worker_id": "w1"}, created_by="user:1")
    editor = agents.create(NET, {"name": "Editor", "worker_id": "w2"}, created_by="user:1")
    session = collaboration.create(NET, {"name": "launch post",
                                         "participants": [writer.id, editor.id],
                                         "initial_context": {"tone": "dry"}},
                                   created_by="user:1")
    with ThreadPoolExecutor(8) as pool:  # concurrent merges of different keys all land
        list(pool.map(lambda i: collaboration.merge_context(NET, session.id, {f"k{i}": i}),
                      range(16)))
    assert collaboration.context(NET, session.id) == {"tone": "dry",
                                                      **{f"k{i}": i for i in range(16)}}
    for n in range(3):
        collaboration.post(NET, session.id, agent_id=writer.id, message=f"draft {n}")
    assert collaboration.post(NET, session.id, agent_id=editor.id, message="ok",
                              message_type="decision") == 4
    assert [m.message for m in collaboration.messages(NET, session.id)] == \
        ["draft 0", "draft 1", "draft 2", "ok"]
    inbox = messaging.receive(NET, "w2", count=10)
    assert [m.content for m in inbox] == ["draft 0", "draft 1", "draft 2"]
    assert inbox[0].channel == f"collaboration:{session.id}"
    with pytest.raises(ValidationFailed):
        collaboration.post(NET, session.id, agent_id="agt_stranger", message="hi")

    collaboration.close(NET, session.id)
    with pytest.raises(Conflict):
        collaboration.post(NET, session.id, agent_id=writer.id, message="late")
    with pytest.raises(Conflict):
        collaboration.merge_context(NET, session.id, {"late": True})
    assert collaboration.get(NET, session.id).message_count == 4
    assert collaboration.list_sessions(NET, status="completed").total == 1


def test_chat_without_a_connected_node_says_so_at_once(aws):
    nodes.register(Principal(NET, "admin_token", "admin", system_admin=True), "w1",
                   kind="platform")  # online, but no WebSocket connection
    agent = agents.create(NET, {"name": "Helper", "worker_id": "w1"}, created_by="user:1")
    conversation = chat.create(NET, "user:1", agent_id=agent.id)
    assert conversation.title == "Chat with Helper"
    started = time.monotonic()
    answer = chat.send(NET, conversation.id, "user:1", "hello?",
                       deadline=time.monotonic() + 20)
    assert time.monotonic() - started < 2
    assert answer["delivered"] is False and answer["assistant_message"].role == "system"
    listed = chat.messages(NET, conversation.id, "user:1")
    assert [m.role for m in listed.items] == ["user", "system"] and listed.total == 2
    first = chat.messages(NET, conversation.id, "user:1", limit=1)  # a page, not the total
    assert [m.role for m in first.items] == ["user"] and first.total == 2
    assert [m.role for m in chat.messages(NET, conversation.id, "user:1",
                                          cursor=first.next_cursor).items] == ["system"]
    with pytest.raises(NotFound):  # conversations belong to their user
        chat.messages(NET, conversation.id, "user:2")
    other = chat.create(NET, "user:1", agent_id=agent.id, title="second")
    chat.send(NET, other.id, "user:1", "again", deadline=time.monotonic())
    mine = chat.list_conversations(NET, "user:1")
    assert [c.id for c in mine.items] == [other.id, conversation.id] and mine.total == 2
    assert chat.list_conversations(NET, "user:2").total == 0
