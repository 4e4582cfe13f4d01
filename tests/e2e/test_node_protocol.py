"""The WebSocket node protocol, synchronous calls and the credit ledger on the real stack."""
import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import websockets

from tests.gemmanet_peer import MsgType, Peer, frame
from tests.localstack import RunningStack

STARTING = 300
COST = 10


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    stack = RunningStack(tmp_path_factory.mktemp("nodes") / "data",
                         SWITCHBOARD_REQUEST_TIMEOUT="2",
                         SWITCHBOARD_STARTING_CREDITS=str(STARTING)).start()
    yield stack
    stack.stop()


def new_key(hub, creds) -> str:
    """A fresh API key: a fresh account with the starting grant."""
    created = requests.post(hub.url("/api/v1/security/api-keys"), json={"name": "client"},
                            headers={"Authorization": f"Bearer {creds['admin_token']}"})
    assert created.status_code == 201
    return created.json()["key"]


def call(hub, key, task_type="echo", content="Hello world!", **extra):
    body = {"task_type": task_type, "content": content, "params": {}, "api_key": key, **extra}
    return requests.post(hub.url("/api/v1/request"), json=body,
                         headers={"Authorization": f"Bearer {key}"}, timeout=30)


def ledger_of(hub, key):
    auth = {"Authorization": f"Bearer {key}"}
    return (requests.get(hub.url("/api/v1/balance"), headers=auth).json(),
            requests.get(hub.url("/api/v1/history?limit=500"), headers=auth).json())


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_node_serves_a_client_and_both_see_their_credits(hub):
    key = None

    async def scenario(key):
        peer = await Peer(f"{hub.ws_url}/ws/node", "echo-node", ["echo"], node_id="echo-1").connect()
        registered = await peer.register()
        assert registered.msg_type == MsgType.NODE_REGISTERED
        assert registered.payload["node_id"] == "echo-1"
        opening = await peer.next()
        assert opening.msg_type == MsgType.CREDIT_UPDATE and opening.payload["balance"] == 0
        peer.serve()
        answer = await asyncio.to_thread(call, hub, key)
        await asyncio.sleep(0.5)
        await peer.close()
        return peer, answer

    key = new_key(hub, {"admin_token": "sba_e2e_admin_token"})
    peer, answer = run(scenario(key))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "completed" and body["result"] == "Echo: Hello world!"
    assert body["cost"] == COST and body["node_id"] == "echo-1"
    assert {"task_id", "processing_time_ms"} <= set(body)
    assert [a["content"] for a in peer.assigned] == ["Hello world!"]
    assert peer.assigned[0]["task_type"] == "echo" and peer.assigned[0]["task_id"] == body["task_id"]
    assert peer.credit_updates[-1] == {"node_id": "echo-1", "balance": COST, "change": COST,
                                       "reason": "task_reward", "task_id": body["task_id"]}

    balance, history = ledger_of(hub, key)
    assert balance["balance"] == STARTING - COST and balance["total_spent"] == COST
    assert [(h["tx_type"], h["amount"], h["task_id"]) for h in history] == [
        ("charge", -COST, body["task_id"]), ("grant", STARTING, None)]


def test_the_later_sdk_registers_with_an_api_key_and_keeps_its_node_id(hub, creds):
    key = new_key(hub, creds)

    async def register_once():
        peer = await Peer(f"{hub.ws_url}/ws/node", "stable", ["echo"], api_key=key).connect()
        first = await peer.register()
        await peer.close()
        return first

    first, second = run(register_once()), run(register_once())
    assert first.msg_type == MsgType.NODE_REGISTERED, "the first frame is node_registered"
    assert first.payload["node_id"] == second.payload["node_id"]

    async def forged():
        peer = await Peer(f"{hub.ws_url}/ws/node", "bad", ["echo"], api_key="sbk_forged").connect()
        refused = await peer.register()
        with pytest.raises(websockets.ConnectionClosed):
            await peer.next(timeout=5)
        return refused
    refused = run(forged())
    assert refused.msg_type == MsgType.ERROR and refused.payload["code"] == "auth_failed"


def test_bad_frames_get_errors_and_any_case_is_understood(hub):
    async def scenario():
        async with websockets.connect(f"{hub.ws_url}/ws/node") as ws:
            replies = []
            for raw in ("not json", frame("HEARTBEAT", {"node_id": "x"}),
                        frame("Teleport", {}), frame("Node_Register", {"name": "mixed",
                                                                      "capabilities": ["x"]})):
                await ws.send(raw)
                replies.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            return replies
    replies = run(scenario())
    assert [r["msg_type"] for r in replies] == ["error", "error", "error", "node_registered"]
    assert replies[1]["payload"]["message"] == "NODE_REGISTER must come first"
    assert "unsupported msg_type" in replies[2]["payload"]["message"]


def test_a_call_answers_401_402_404_and_504_as_documented(hub, creds):
    key = new_key(hub, creds)
    assert requests.post(hub.url("/api/v1/request"),
                         json={"task_type": "echo", "content": "x"}).status_code == 401
    missing = call(hub, key, task_type="no-such-capability")
    assert missing.status_code == 404 and "detail" in missing.json()
    assert call(hub, key, max_cost=COST - 1).status_code == 402

    async def silent_node():
        peer = await Peer(f"{hub.ws_url}/ws/node", "mute", ["mute"], node_id="mute-1",
                          answer=lambda payload: None).connect()
        await peer.register()
        peer.serve()
        answer = await asyncio.to_thread(call, hub, key, "mute")
        late = peer.assigned[0]["task_id"]
        await peer.ws.send(frame("task_result", {"task_id": late, "node_id": "mute-1",
                                                 "status": "completed", "result": "late",
                                                 "processing_time_ms": 1}))
        await asyncio.sleep(0.5)
        await peer.close()
        return answer, peer
    answer, peer = run(silent_node())
    assert answer.status_code == 504
    errors = [m for m in peer.received if m.msg_type == MsgType.ERROR]
    assert errors and "expired" in errors[-1].payload["message"], "a late result is refused"
    balance, history = ledger_of(hub, key)
    assert balance["balance"] == STARTING, "the timed-out call was refunded"
    assert [h["tx_type"] for h in history] == ["refund", "charge", "grant"]

    poor = new_key(hub, creds)

    async def drain():
        peer = await Peer(f"{hub.ws_url}/ws/node", "echo-poor", ["echo"], node_id="echo-poor").connect()
        await peer.register()
        peer.serve()
        statuses = [(await asyncio.to_thread(call, hub, poor)).status_code
                    for _ in range(STARTING // COST + 1)]
        await peer.close()
        return statuses
    statuses = run(drain())
    assert statuses[-1] == 402 and statuses[:-1] == [200] * (STARTING // COST)
    assert ledger_of(hub, poor)[0]["balance"] == 0


def test_the_ledger_is_conserved_under_concurrent_retried_calls(hub, creds):
    keys = [new_key(hub, creds) for _ in range(4)]

    def client(key, calls=8):
        outcomes = []
        for n in range(calls):
            retry_key = f"{key[-8:]}-{n}"
            first = requests.post(hub.url("/api/v1/request"), timeout=30,
                                  headers={"Authorization": f"Bearer {key}",
                                           "Idempotency-Key": retry_key},
                                  json={"task_type": "sum", "content": str(n)})
            again = requests.post(hub.url("/api/v1/request"), timeout=30,
                                  headers={"Authorization": f"Bearer {key}",
                                           "Idempotency-Key": retry_key},
                                  json={"task_type": "sum", "content": str(n)})
            assert first.status_code == again.status_code == 200, (first.text, again.text)
            assert first.json()["task_id"] == again.json()["task_id"], "a retry is the same call"
            outcomes.append(first.json())
        return outcomes

    async def scenario():
        peers = []
        for i in range(2):
            peer = await Peer(f"{hub.ws_url}/ws/node", f"sum-{i}", ["sum"], node_id=f"sum-{i}",
                              answer=lambda p: ("completed", p["content"]) if int(p["content"]) % 4
                              else ("failed", "refused")).connect()
            await peer.register()
            peer.serve()
            peers.append(peer)
        with ThreadPoolExecutor(len(keys)) as pool:
            results = await asyncio.to_thread(lambda: list(pool.map(client, keys)))
        await asyncio.sleep(0.5)
        for peer in peers:
            await peer.close()
        return results, peers
    results, peers = run(scenario())

    earned = 0
    for key, outcomes in zip(keys, results):
        balance, history = ledger_of(hub, key)
        assert sum(h["amount"] for h in history) == balance["balance"] >= 0
        served = sum(1 for o in outcomes if o["status"] == "completed")
        failed = sum(1 for o in outcomes if o["status"] == "failed")
        assert served + failed == 8 and failed == 2
        charges = [h for h in history if h["tx_type"] == "charge"]
        assert len(charges) == 8 and len({h["task_id"] for h in charges}) == 8, "charged once per call"
        assert len([h for h in history if h["tx_type"] == "refund"]) == failed
        assert balance["balance"] == STARTING - COST * served
        earned += COST * served
    node_balances = [p.credit_updates[-1]["balance"] for p in peers if len(p.credit_updates) > 1]
    assert sum(node_balances) == earned, "what clients paid, nodes earned"


def test_platform_sockets_receive_the_events_they_subscribed_to(hub, creds):
    async def scenario():
        url = f"{hub.ws_url}/ws?token={creds['admin_token']}"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "subscribe", "event": "task.created"}))
            assert json.loads(await ws.recv())["type"] == "subscribed"
            await ws.send(json.dumps({"type": "subscribe", "event": "worker.online"}))
            await ws.recv()
            await asyncio.to_thread(requests.post, hub.url("/api/v1/tasks"),
                                    json={"title": "watch me", "required_tools": ["nobody"]},
                                    headers={"Authorization": f"Bearer {creds['admin_token']}"})
            created = json.loads(await asyncio.wait_for(ws.recv(), 10))
            peer = await Peer(f"{hub.ws_url}/ws/node", "watched", ["x"], node_id="watched").connect()
            await peer.register()
            online = json.loads(await asyncio.wait_for(ws.recv(), 10))
            await peer.close()
            return created, online
    created, online = run(scenario())
    assert created["type"] == "event" and created["event"] == "task.created"
    assert created["data"]["title"] == "watch me" and created["data"]["status"] == "pending"
    assert online["event"] == "worker.online" and online["data"]["node_id"] == "watched"


def test_work_for_a_node_that_went_away_waits_for_it_to_come_back(hub, creds):
    admin = {"Authorization": f"Bearer {creds['admin_token']}"}

    async def scenario():
        peer = await Peer(f"{hub.ws_url}/ws/node", "flaky", ["flaky"], node_id="flaky-1").connect()
        await peer.register()
        await peer.close()  # gone without a word: pushes to it now find no connection
        await asyncio.sleep(0.5)
        task = (await asyncio.to_thread(requests.post, hub.url("/api/v1/tasks"),
                                        json={"title": "for flaky", "required_tools": ["flaky"]},
                                        headers=admin)).json()
        assert task["worker_id"] == "flaky-1", "still online by heartbeat: the task is its"
        back = await Peer(f"{hub.ws_url}/ws/node", "flaky", ["flaky"], node_id="flaky-1").connect()
        await back.register()
        await back.next()  # credit_update
        assign = await back.next()
        await back.close()
        return task, assign
    task, assign = run(scenario())
    assert assign.msg_type == MsgType.TASK_ASSIGN and assign.payload["task_id"] == task["id"]
    assert assign.payload["content"] == "for flaky"
