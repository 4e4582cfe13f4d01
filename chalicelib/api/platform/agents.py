"""Platform /api/v1/agents and agent memories: translation only (services/orchestration)."""
from typing import Annotated, Any, Literal

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Content, Id, Input, Line, Name, Object, Text, Word
from chalicelib.api.platform import router
from chalicelib.api.platform.listing import Paging, listing, no_content
from chalicelib.clock import iso
from chalicelib.services import orchestration
from chalicelib.services.insight import analytics

Tags = Annotated[list[Annotated[str, Meta(max_length=100)]], Meta(max_length=50)]


class AgentFields(Input):
    """Everything an agent carries; all optional (PATCH), `name` required on create."""
    name: Name | None = None
    description: Text | None = None
    role: Annotated[str, Meta(max_length=100)] | None = None
    status: Word | None = None
    is_active: bool | None = None
    worker_id: Id | None = None
    llm_provider: Line | None = None
    llm_model: Line | None = None
    system_prompt: Text | None = None
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    enabled_tools: Object | None = None
    max_concurrent_tasks: Annotated[int, Meta(ge=1, le=1000)] | None = None
    memory_limit_mb: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    autonomy_level: Literal["autonomous", "cautious", "supervised", "read_only"] | None = None
    tool_blacklist: Tags | None = None
    risk_rules: Object | None = None
    daily_budget_usd: Annotated[float, Meta(ge=0)] | None = None
    max_tokens_per_task: Annotated[int, Meta(ge=0)] | None = None
    tags: Tags | None = None


class NewAgent(AgentFields):
    name: Name = ""


class AgentQuery(Paging):
    status_filter: Word | None = None
    status: Word | None = None
    role: Annotated[str, Meta(max_length=100)] | None = None


class NewMemory(Input):
    content: Content
    category: Annotated[str, Meta(max_length=100)] | None = None
    importance: Annotated[float, Meta(ge=-1e9, le=1e9)] | None = None
    metadata: Object | None = None


class MemoryChange(Input):
    content: Content | None = None
    importance: Annotated[float, Meta(ge=-1e9, le=1e9)] | None = None


class MemoryQuery(Paging):
    search: Line | None = None
    category: Annotated[str, Meta(max_length=100)] | None = None


def fields_of(body: Input) -> dict[str, Any]:
    return {name: getattr(body, name) for name in body.__struct_fields__
            if getattr(body, name) is not None}


def agent_view(agent, counts: dict) -> dict:
    """An agent as the platform shows it; `counts` are its lifetime work counters (the
    ones analytics reads, kept in the transaction of each move of its tasks)."""
    settings = agent.settings or {}
    return {"id": agent.id, "name": agent.name, "description": agent.description,
            "role": agent.role, "status": agent.status, "is_active": bool(agent.is_active),
            **{k: settings.get(k) for k in orchestration.agents.SETTINGS},
            "worker_id": agent.worker_id,
            "tasks_completed": int(counts.get("completed", 0)),
            "tasks_failed": int(counts.get("failed", 0)), "email": agent.email,
            "tags": agent.tags or [], "created_at": iso(agent.created_at),
            "updated_at": iso(agent.updated_at)}


def counted(network_id: str, agent) -> dict:
    """One agent's view, with its counters."""
    return agent_view(agent, analytics.agent_totals(network_id, [agent.id])[agent.id])


def memory_view(memory) -> dict:
    return {"id": memory.id, "agent_id": memory.agent_id, "content": memory.content,
            "category": memory.category, "importance": int(memory.importance),
            "metadata": memory.metadata or {}, "created_at": iso(memory.created_at),
            "updated_at": iso(memory.updated_at)}


@router.route("/api/v1/agents", query=AgentQuery)
def list_agents(req):
    query = req.params
    found = orchestration.agents.list_agents(req.principal.network_id,
                                             status=query.status_filter or query.status, role=query.role,
                                             **query.window())
    counts = analytics.agent_totals(req.principal.network_id, [a.id for a in found.items])
    return listing(found, lambda agent: agent_view(agent, counts[agent.id]), query)


@router.route("/api/v1/agents", methods=["POST"], body=NewAgent)
def create_agent(req):
    agent = orchestration.agents.create(req.principal.network_id, fields_of(req.body),
                                        created_by=req.principal.account_id)
    return Response(body=agent_view(agent, {}), status_code=201)  # no work yet


@router.route("/api/v1/agents/{agent_id}")
def get_agent(req, agent_id):
    network_id = req.principal.network_id
    return counted(network_id, orchestration.agents.get(network_id, agent_id))


@router.route("/api/v1/agents/{agent_id}", methods=["PATCH"], body=AgentFields)
def update_agent(req, agent_id):
    network_id = req.principal.network_id
    return counted(network_id, orchestration.agents.update(network_id, agent_id, fields_of(req.body)))


@router.route("/api/v1/agents/{agent_id}", methods=["DELETE"])
def delete_agent(req, agent_id):
    orchestration.agents.delete(req.principal.network_id, agent_id)
    return no_content()


@router.route("/api/v1/agents/{agent_id}/start", methods=["POST"])
def start_agent(req, agent_id):
    network_id = req.principal.network_id
    return counted(network_id, orchestration.agents.start(network_id, agent_id))


@router.route("/api/v1/agents/{agent_id}/stop", methods=["POST"])
def stop_agent(req, agent_id):
    network_id = req.principal.network_id
    return counted(network_id, orchestration.agents.stop(network_id, agent_id))


@router.route("/api/v1/agents/{agent_id}/memories", query=MemoryQuery)
def list_memories(req, agent_id):
    query = req.params
    found = orchestration.memories.list_memories(req.principal.network_id, agent_id, search=query.search,
                                                 category=query.category, **query.window())
    return listing(found, memory_view, query)


@router.route("/api/v1/agents/{agent_id}/memories", methods=["POST"], body=NewMemory)
def create_memory(req, agent_id):
    memory = orchestration.memories.create(req.principal.network_id, agent_id, fields_of(req.body),
                                           created_by=req.principal.account_id)
    return Response(body=memory_view(memory), status_code=201)


@router.route("/api/v1/agents/memories/{memory_id}", methods=["PUT"], body=MemoryChange)
def update_memory(req, memory_id):
    return memory_view(orchestration.memories.update(req.principal.network_id, memory_id,
                                                     fields_of(req.body)))


@router.route("/api/v1/agents/memories/{memory_id}", methods=["DELETE"])
def delete_memory(req, memory_id):
    orchestration.memories.delete(req.principal.network_id, memory_id)
    return no_content()


@router.route("/api/v1/agents/{agent_id}/memory-stats")
def memory_stats(req, agent_id):
    return orchestration.memories.stats(req.principal.network_id, agent_id)
