"""CommHub's MCP endpoint driven by the official MCP Python SDK (`streamablehttp_client` +
`ClientSession`) over real sockets: two agents exchange a task and a message through MCP
tools, and a third party sees the outcome through CommHub's HTTP routes."""
import asyncio
import json

import httpx
import pytest
import requests
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError

EXPECTED_TOOLS = {"report_status", "report_completion", "get_inbox", "ack_inbox", "send_task",
                  "send_message", "send_reply", "send_ack", "retry_task", "cancel_task",
                  "reassign_task", "get_task", "list_tasks", "get_all_status",
                  "get_session_status", "broadcast", "get_completions"}


@pytest.fixture(scope="module")
def network_token(stack, creds):
    registered = requests.post(stack.url("/api/auth/register"), json={
        "username": "mcp_owner", "password": "mcp-password"},
        headers={"Authorization": f"Bearer {creds['admin_token']}"})
    assert registered.status_code == 200, registered.text
    return registered.json()["network_token"]


def flatten(error):
    yield error
    for inner in getattr(error, "exceptions", ()):
        yield from flatten(inner)


def structured(result) -> dict:
    assert not result.isError, result.content
    return json.loads(result.content[0].text)


async def as_agent(stack, token, work):
    async with streamablehttp_client(stack.url("/mcp"),
                                     headers={"Authorization": f"Bearer {token}"}) as (
            read, write, session_id):
        async with ClientSession(read, write) as session:
            initialized = await session.initialize()
            assert initialized.protocolVersion == "2025-06-18"
            assert initialized.serverInfo.name == "switchboard-commhub"
            assert session_id()  # the server assigned Mcp-Session-Id
            return await work(session)


def test_two_agents_exchange_work_through_mcp_and_a_third_sees_it_over_http(stack, network_token):
    async def bob_reports(bob):
        listed = await bob.list_tools()
        assert {t.name for t in listed.tools} == EXPECTED_TOOLS
        for tool in listed.tools:
            assert tool.inputSchema["type"] == "object" and tool.description
        send_task = next(t for t in listed.tools if t.name == "send_task")
        assert set(send_task.inputSchema["required"]) == {"alias", "to", "content"}
        return structured(await bob.call_tool("report_status", {"alias": "bob",
                                                                "status": "idle",
                                                                "model": "gpt-5.5"}))

    status = asyncio.run(as_agent(stack, network_token, bob_reports))
    assert status["alias"] == "bob" and status["status"] == "idle"

    async def alice_sends(alice):
        await alice.call_tool("report_status", {"alias": "alice"})
        task = structured(await alice.call_tool("send_task", {
            "alias": "alice", "to": "bob", "content": "summarize the logs", "priority": "high"}))
        message = structured(await alice.call_tool("send_message", {
            "alias": "alice", "to": "bob", "content": "ping"}))
        with pytest.raises(McpError):
            await alice.call_tool("no_such_tool", {})
        with pytest.raises(McpError):  # arguments are checked against the input schema
            await alice.call_tool("send_task", {"alias": "alice"})
        missing = await alice.call_tool("cancel_task", {"task_id": "task-missing"})
        assert missing.isError and "not found" in missing.content[0].text
        return task, message

    task, message = asyncio.run(as_agent(stack, network_token, alice_sends))
    assert task["status"] in ("delivered", "pending") and task["from_name"] == "alice"

    async def bob_works(bob):
        inbox = structured(await bob.call_tool("get_inbox", {"alias": "bob"}))
        assert [t["task_id"] for t in inbox["tasks"]] == [task["task_id"]]
        assert [m["message_id"] for m in inbox["messages"]] == [message["message_id"]]
        replied = structured(await bob.call_tool("send_reply", {
            "alias": "bob", "message_id": message["message_id"], "content": "pong"}))
        assert replied["to"] == "alice"
        done = structured(await bob.call_tool("report_completion", {
            "alias": "bob", "task_id": task["task_id"], "result": {"summary": "all quiet"}}))
        assert done["status"] == "replied"
        again = structured(await bob.call_tool("get_inbox", {"alias": "bob"}))
        return again

    again = asyncio.run(as_agent(stack, network_token, bob_works))
    assert again["tasks"] == [] and again["messages"] == []

    # a third party, through CommHub's HTTP routes with the same network token
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {network_token}"
    listed = http.get(stack.url("/api/tasks")).json()
    (seen,) = [t for t in listed["tasks"] if t["task_id"] == task["task_id"]]
    assert seen["status"] == "replied" and seen["result"] == {"summary": "all quiet"}
    assert seen["to_name"] == "bob" and seen["from_name"] == "alice"
    completions = http.get(stack.url("/api/completions")).json()["completions"]
    assert task["task_id"] in [c["task_id"] for c in completions]
    sessions = {s["alias"]: s for s in http.get(stack.url("/api/status")).json()["sessions"]}
    assert sessions["bob"]["model"] == "gpt-5.5"


def test_the_transport_refuses_what_the_specification_refuses(stack, network_token):
    url = stack.url("/mcp")
    with pytest.raises(BaseException) as refused:  # the SDK raises it inside a task group
        asyncio.run(as_agent(stack, "ntok_forged", lambda s: None))
    (status_error,) = [e for e in flatten(refused.value) if isinstance(e, httpx.HTTPStatusError)]
    assert status_error.response.status_code == 401
    assert requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}).status_code == 401
    auth = {"Authorization": f"Bearer {network_token}"}
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert requests.post(url, json=ping, headers=auth).status_code == 400   # no session
    unknown = requests.post(url, json=ping, headers={**auth, "Mcp-Session-Id": "0" * 32})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == -32600
    assert requests.get(url, headers=auth).status_code == 405             # no stream offered
    initialize = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "raw"}}}
    opened = requests.post(url, json=initialize, headers=auth)
    assert opened.json()["result"]["protocolVersion"] == "2025-03-26"
    session = {**auth, "Mcp-Session-Id": opened.headers["Mcp-Session-Id"]}
    notified = requests.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                             headers=session)
    assert notified.status_code == 202 and notified.text == ""
    batch = requests.post(url, json=[ping, {**ping, "id": 2}], headers=session).json()
    assert [a["id"] for a in batch] == [1, 2]
    assert requests.post(url, data="{not json", headers=session).json()["error"]["code"] == -32700
    assert requests.post(url, json=ping, headers={**session, "MCP-Protocol-Version": "1999-01-01"}
                         ).status_code == 400
    assert requests.post(url, json=ping, headers={**session, "Origin": "http://evil.example"}
                         ).status_code == 403
    assert requests.delete(url, headers=session).status_code == 204
    assert requests.post(url, json=ping, headers=session).status_code == 404
