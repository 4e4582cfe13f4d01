"""The orchestration families over HTTP: the platform's shapes, codes and pagination."""
from chalicelib.config import settings
from chalicelib.services import identity


def second_person(api):
    """Another credential of the same network: a different requester or decider."""
    _, secret = identity.issue_credential("network_token", settings().default_network_id,
                                          name="colleague")
    return api.bearer(secret)


def test_agents_memories_and_pagination(admin):
    made = [admin.post("/api/v1/agents", {"name": f"Agent {i}", "role": "dev" if i % 2 else
                                          "ops"}) for i in range(5)]
    assert {r.status_code for r in made} == {201}
    first = admin.get("/api/v1/agents?limit=2&role=dev").json
    assert first["total"] == 2 and [a["name"] for a in first["items"]] == ["Agent 3", "Agent 1"]
    page = admin.get("/api/v1/agents?limit=2").json
    assert page["total"] == 5 and page["skip"] == 0 and page["next_cursor"]
    rest = admin.get(f"/api/v1/agents?limit=10&cursor={page['next_cursor']}").json
    assert [a["name"] for a in rest["items"]] == ["Agent 2", "Agent 1", "Agent 0"]
    assert admin.get("/api/v1/agents?skip=4").json["items"][0]["name"] == "Agent 0"
    assert admin.get("/api/v1/agents?limit=201").status_code == 422
    assert admin.post("/api/v1/agents", {"name": "agent 0"}).status_code == 409

    agent = made[0].json
    assert agent["email"] == "agent-0@whiteops.local" and agent["llm_provider"] == "anthropic"
    stopped = admin.post(f"/api/v1/agents/{agent['id']}/stop").json
    assert stopped["status"] == "offline" and stopped["is_active"] is False
    assert admin.get("/api/v1/agents?status_filter=offline").json["total"] == 1
    assert admin.patch(f"/api/v1/agents/{agent['id']}", {"temperature": 0.2}).json[
        "temperature"] == 0.2
    assert admin.patch(f"/api/v1/agents/{agent['id']}",
                       {"worker_id": "nowhere"}).status_code == 422

    memory = admin.post(f"/api/v1/agents/{agent['id']}/memories",
                        {"content": "likes tea", "importance": 8, "category": "preference"})
    assert memory.status_code == 201 and memory.json["importance"] == 8
    big = admin.post(f"/api/v1/agents/{agent['id']}/memories", {"content": "x" * 70_000})
    assert big.status_code == 413
    changed = admin.put(f"/api/v1/agents/memories/{memory.json['id']}", {"importance": 3})
    assert changed.json["importance"] == 3
    listed = admin.get(f"/api/v1/agents/{agent['id']}/memories?category=preference").json
    assert listed["total"] == 1 and listed["items"][0]["content"] == "likes tea"
    stats = admin.get(f"/api/v1/agents/{agent['id']}/memory-stats").json
    assert stats["total_count"] == 1 and stats["categories"] == {"preference": 1}
    assert admin.delete(f"/api/v1/agents/memories/{memory.json['id']}").status_code == 204
    assert admin.delete(f"/api/v1/agents/{agent['id']}").status_code == 204
    assert admin.get(f"/api/v1/agents/{agent['id']}").status_code == 404
    assert admin.get(f"/api/v1/agents/{agent['id']}").json == {"detail": "Agent not found"}


def test_workflows_triggers_and_approvals(api, admin):
    flow = admin.post("/api/v1/workflows", {"name": "pipeline"})
    assert flow.status_code == 201 and flow.json["status"] == "draft"
    wid = flow.json["id"]
    one = admin.post(f"/api/v1/workflows/{wid}/steps", {"name": "one"}).json
    bad = admin.post(f"/api/v1/workflows/{wid}/steps", {"name": "two", "depends_on": ["ghost"]})
    assert bad.status_code == 422
    admin.post(f"/api/v1/workflows/{wid}/steps", {"name": "two", "depends_on": [one["id"]],
                                                 "order": 1})
    shown = admin.get(f"/api/v1/workflows/{wid}").json
    assert [s["name"] for s in shown["steps"]] == ["one", "two"]
    run = admin.post(f"/api/v1/workflows/{wid}/run", {"input": {"x": 1}})
    assert run.status_code == 202 and run.json["steps"][0]["status"] == "running"
    runs = admin.get(f"/api/v1/workflows/{wid}/runs").json
    assert runs["total"] == 1 and runs["items"][0]["id"] == run.json["id"]
    task_id = run.json["steps"][0]["task_id"]
    assert admin.get(f"/api/v1/tasks/{task_id}").json["status"] == "pending"

    hook = admin.post("/api/v1/triggers", {"name": "deploy hook", "trigger_type": "webhook",
                                           "action_type": "execute_workflow",
                                           "action_config": {"workflow_id": wid}})
    assert hook.status_code == 201 and hook.json["webhook_token"].startswith("sbt_")
    fire = f"/api/v1/triggers/{hook.json['id']}/fire"
    assert api.post(fire, {"ref": "main"}).status_code == 401
    assert api.post(fire, {"ref": "main"}, headers={"X-Trigger-Token": "sbt_nope"}
                    ).status_code == 401
    fired = api.post(fire, {"ref": "main"},
                     headers={"X-Trigger-Token": hook.json["webhook_token"]})
    assert fired.status_code == 202 and fired.json["result"]["workflow_run_id"]
    assert admin.get(f"/api/v1/workflows/{wid}/runs").json["total"] == 2
    history = admin.get(f"/api/v1/triggers/{hook.json['id']}/history").json
    assert history["total"] == 1 and history["items"][0]["cause"] == {"type": "webhook"}
    toggled = admin.post(f"/api/v1/triggers/{hook.json['id']}/toggle").json
    assert toggled == {"id": hook.json["id"], "name": "deploy hook", "is_active": False,
                       "message": "Trigger disabled"}
    detail = admin.get(f"/api/v1/triggers/{hook.json['id']}").json
    assert detail["stats"]["total_executions"] == 1 and "webhook_token" not in detail
    assert admin.post("/api/v1/triggers", {"name": "t", "trigger_type": "cron",
                                           "action_type": "notify",
                                           "config": {"cron_expression": "nope"}}
                      ).status_code == 422

    asked = admin.post("/api/v1/approvals", {"action": "execute_tool:shell",
                                             "details": {"tool_name": "shell"}})
    assert asked.status_code == 200 and asked.json["status"] == "pending"
    aid = asked.json["id"]
    assert admin.post(f"/api/v1/approvals/{aid}/approve").status_code == 403  # four eyes
    colleague = second_person(api)
    assert colleague.post(f"/api/v1/approvals/{aid}/reject", {}).status_code == 400
    decided = colleague.post(f"/api/v1/approvals/{aid}/approve", {"note": "fine"})
    assert decided.json["status"] == "approved" and decided.json["decision_note"] == "fine"
    again = colleague.post(f"/api/v1/approvals/{aid}/reject", {"reason": "changed my mind"})
    assert again.status_code == 400
    assert again.json["detail"] == "Cannot reject request with status 'approved'"
    assert admin.get("/api/v1/approvals?status=approved").json["total"] == 1


def test_knowledge_marketplace_collaboration_and_chat(admin):
    for i in range(3):
        admin.post("/api/v1/knowledge", {"title": f"Runbook {i}", "content": "restart the "
                                         "queue worker" if i else "rotate keys",
                                         "category": "ops", "tags": ["oncall"]})
    found = admin.get("/api/v1/knowledge?search=queue+worker&category=ops")
    assert found.json["total"] == 2 and int(found.headers["X-Items-Read"]) == 2 + 2 + 2
    entry = admin.get(f"/api/v1/knowledge/{found.json['items'][0]['id']}").json
    assert entry["content"] == "restart the queue worker" and "updated_at" in entry

    catalogue = admin.get("/api/v1/marketplace/templates").json
    assert catalogue["total"] >= 6 and "data" in catalogue
    installed = admin.post("/api/v1/marketplace/templates/support-triage/install", {})
    assert installed.status_code == 201
    assert len(installed.json["data"]["agents"]) == 2
    assert admin.post("/api/v1/marketplace/templates/support-triage/install", {}
                      ).status_code == 409
    assert admin.get("/api/v1/marketplace/templates/nope").status_code == 404

    agent_ids = [a["id"] for a in installed.json["data"]["agents"]]
    session = admin.post("/api/v1/collaboration", {"name": "triage", "participants": agent_ids})
    sid = session.json["id"]
    assert admin.post(f"/api/v1/collaboration/{sid}/messages",
                      {"agent_id": agent_ids[0], "message": "label: billing"}).json == \
        {"status": "sent", "message_count": 1}
    assert admin.post(f"/api/v1/collaboration/{sid}/context", {"label": "billing"}).json == \
        {"status": "updated", "context_keys": ["label"]}
    assert admin.post(f"/api/v1/collaboration/{sid}/close").json["status"] == "completed"
    assert admin.post(f"/api/v1/collaboration/{sid}/messages",
                      {"agent_id": agent_ids[0], "message": "late"}).status_code == 409
    full = admin.get(f"/api/v1/collaboration/{sid}").json
    assert full["shared_context"] == {"label": "billing"} and len(full["messages"]) == 1

    conversation = admin.post("/api/v1/chat/conversations", {"agent_id": agent_ids[1]})
    assert conversation.status_code == 201
    cid = conversation.json["id"]
    said = admin.post(f"/api/v1/chat/conversations/{cid}/messages", {"content": "hi"})
    assert said.status_code == 200 and said.json["delivered"] is False
    assert said.json["assistant_message"]["role"] == "system"
    assert admin.get("/api/v1/chat/conversations").json["total"] == 1
    page = admin.get(f"/api/v1/chat/conversations/{cid}/messages?limit=1").json
    assert [m["role"] for m in page["items"]] == ["user"] and page["total"] == 2
    assert page["next_cursor"]
    assert admin.delete(f"/api/v1/chat/conversations/{cid}").status_code == 204
    assert admin.get(f"/api/v1/chat/conversations/{cid}/messages").status_code == 404


def test_four_eyes_means_another_person_not_another_credential(api):
    """A user's API key is the user: it cannot approve what their session asked for, nor
    their session what their key asked for; a second person can."""
    from tests.test_accounts import sign_up
    signed = sign_up(api)
    me = api.bearer(signed["access_token"])
    key = me.post("/api/v1/security/api-keys", {"name": "mine", "scopes": ["read", "write"]})
    assert key.status_code == 201, key.json
    my_key = api.as_(**{"X-API-Key": key.json["key"]})
    asked = me.post("/api/v1/approvals", {"action": "deploy"}).json
    assert my_key.post(f"/api/v1/approvals/{asked['id']}/approve").status_code == 403
    gated = my_key.post("/api/v1/tasks", {"title": "migrate", "requires_approval": True}).json
    assert gated["status"] == "awaiting_approval"
    assert me.post(f"/api/v1/approvals/{gated['approval_id']}/approve").status_code == 403
    assert me.get(f"/api/v1/approvals/{gated['approval_id']}").json["requested_by"] == \
        asked["requested_by"]

    network_id = me.get("/api/v1/auth/me").json.get("network_id") or \
        me.get("/api/networks").json["networks"][0]["network_id"]
    _, secret = identity.issue_credential("network_token", network_id, name="colleague")
    colleague = api.bearer(secret)
    decided = colleague.post(f"/api/v1/approvals/{gated['approval_id']}/approve")
    assert decided.status_code == 200 and decided.json["status"] == "approved"
