"""Agents live on nodes; memories are ranked, bounded and counted with the writes."""
import pytest

from chalicelib.auth.principal import Principal
from chalicelib.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from chalicelib.services import nodes, tasks
from chalicelib.services.orchestration import agents, memories, work

NET = "net_a"


def node(node_id, **kw):
    return nodes.register(Principal(NET, "admin_token", "admin", system_admin=True), node_id,
                          kind="platform", capabilities=["code"], max_concurrent=5, **kw)


def test_tasks_for_an_agent_reach_its_node_only_while_it_runs(aws):
    node("worker-1")
    node("worker-2")
    agent = agents.create(NET, {"name": "Coder Bot", "worker_id": "worker-1", "role": "dev"},
                          created_by="user:1")
    assert agent.email == "coder-bot@whiteops.local" and agent.status == "idle"
    assert "agent:" + agent.id in nodes.get(NET, "worker-1").capabilities
    with pytest.raises(Conflict):
        agents.create(NET, {"name": "coder bot"}, created_by="user:1")
    with pytest.raises(ValidationFailed):
        agents.create(NET, {"name": "Ghost", "worker_id": "nowhere"}, created_by="user:1")

    first, _ = work.create_task(NET, owner_kind=None, refs=None, key="k1", created_by="user:1",
                                title="for the agent", agent_id=agent.id)
    assert first.assigned_node == "worker-1"
    # the node registering again (a reconnect) keeps the agent it runs
    node("worker-1")
    assert "agent:" + agent.id in nodes.get(NET, "worker-1").capabilities

    agents.stop(NET, agent.id)
    assert agents.get(NET, agent.id).status == "offline"
    waiting, _ = work.create_task(NET, owner_kind=None, refs=None, key="k2", created_by="user:1",
                                  title="while stopped", agent_id=agent.id)
    assert waiting.status == "pending"
    handed = []  # worker-1 may still be handed what was assigned to it before
    while (taken := tasks.claim(NET, "worker-1")) is not None:
        handed.append(taken.task_id)
    assert waiting.task_id not in handed and tasks.claim(NET, "worker-2") is None
    assert tasks.get(NET, waiting.task_id).status == "pending"
    agents.start(NET, agent.id)
    assert tasks.get(NET, waiting.task_id).assigned_node == "worker-1"

    # moving the agent moves its work
    agents.update(NET, agent.id, {"worker_id": "worker-2"})
    assert "agent:" + agent.id not in nodes.get(NET, "worker-1").capabilities
    moved, _ = work.create_task(NET, owner_kind=None, refs=None, key="k3", created_by="user:1",
                                title="after the move", agent_id=agent.id)
    assert moved.assigned_node == "worker-2"

    listed = agents.list_agents(NET, role="dev")
    assert [a.id for a in listed.items] == [agent.id] and listed.total == 1
    assert agents.list_agents(NET, status="offline").total == 0
    agents.delete(NET, agent.id)
    with pytest.raises(NotFound):
        agents.get(NET, agent.id)
    assert "agent:" + agent.id not in nodes.get(NET, "worker-2").capabilities
    agents.create(NET, {"name": "Coder Bot"}, created_by="user:1")  # the name is free again


def test_memories_rank_by_importance_and_keep_their_stats(aws):
    agent = agents.create(NET, {"name": "Rememberer"}, created_by="user:1")
    made = [memories.create(NET, agent.id, {"content": f"fact {i}", "importance": imp,
                                            "category": cat}, created_by="user:1")
            for i, (imp, cat) in enumerate([(5, "fact"), (9, "preference"), (5, "fact"),
                                            (42, "procedure")])]
    assert made[3].importance == 10  # clamped
    listed = memories.list_memories(NET, agent.id)
    assert [m.content for m in listed.items] == ["fact 3", "fact 1", "fact 2", "fact 0"]
    assert listed.total == 4
    facts = memories.list_memories(NET, agent.id, category="fact", limit=1)
    assert [m.content for m in facts.items] == ["fact 2"] and facts.total == 2
    assert [m.content for m in memories.list_memories(NET, agent.id, search="FACT 1").items] \
        == ["fact 1"]

    memories.update(NET, made[0].id, {"importance": 10, "content": "fact zero!"})
    assert [m.content for m in memories.list_memories(NET, agent.id).items][:2] == \
        ["fact 3", "fact zero!"]  # same importance: newest first
    memories.delete(NET, made[1].id)
    stats = memories.stats(NET, agent.id)
    assert stats["total_count"] == 3
    assert stats["categories"] == {"fact": 2, "procedure": 1}
    assert stats["total_characters"] == len("fact zero!") + len("fact 2") + len("fact 3")
    assert stats["avg_importance"] == round((10 + 5 + 10) / 3, 2)

    with pytest.raises(PayloadTooLarge):
        memories.create(NET, agent.id, {"content": "x" * (memories.MAX_BYTES + 1)},
                        created_by="user:1")
    with pytest.raises(ValidationFailed):
        memories.create(NET, agent.id, {"content": "  "}, created_by="user:1")
    with pytest.raises(NotFound):
        memories.create(NET, "agt_missing", {"content": "x"}, created_by="user:1")
    with pytest.raises(NotFound):
        memories.get("net_b", made[0].id)  # another network's memory does not exist here
