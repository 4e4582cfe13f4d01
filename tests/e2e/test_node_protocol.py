"""The WebSocket node protocol, synchronous calls and the credit ledger on the real stack."""
import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import websockets

from tests.gemmanet_peer import MsgType, Peer, frame
from tests.gemmanet_sdk import RunningNode
from tests.localstack import RunningStack
from tests.waiting import eventually

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


def test_the_gemmanet_sdk_serves_its_client_and_both_see_their_credits(hub, creds):
    from gemmanet.sdk.client import Client

    key = new_key(hub, creds)
    with RunningNode(f"{hub.ws_url}/ws/node", "echo-node", ["echo"],
                     {"echo": lambda content, **params: f"Echo: {content}"}) as node:
        node.listed_by(hub.base_url, "echo")
        with Client(key, coordinator_url=hub.base_url) as client:
            result = client.request("echo", "Hello world!")
            assert client.balance() == STARTING - COST
            history = client.history()
        deadline = time.monotonic() + 5
        while node.node.balance != COST and time.monotonic() < deadline:
            time.sleep(0.05)
        assert node.node.balance == COST, "the node saw its reward as a credit_update"
    assert result.status.value == "completed" and result.result == "Echo: Hello world!"
    assert result.cost == COST and result.node_id == node.node_id and result.task_id
    assert [(h["tx_type"], h["amount"], h["task_id"]) for h in history] == [
        ("charge", -COST, result.task_id), ("grant", STARTING, None)]


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


def node_balance(hub, node_id) -> int:
    """A node's balance, as the hub tells a node that registers (its first credit_update)."""
    async def ask():
        peer = await Peer(f"{hub.ws_url}/ws/node", "auditor", ["none"], node_id=node_id).connect()
        await peer.register()
        update = await peer.next()
        await peer.close()
        assert update.msg_type == MsgType.CREDIT_UPDATE
        return update.payload["balance"]
    return run(ask())


def test_the_ledger_is_conserved_to_the_credit_across_150_concurrent_calls(tmp_path, creds):
    """Three clients, fifty calls each, at once, to three SDK nodes: one serves, one fails
    every task, one answers after the caller gave up. Every client uses the same keys
    (`order-<n>`); a fifth of the calls are sent twice at once, and a seventh are retried
    with another body. Nothing is created, charged or paid twice or lost."""
    from gemmanet.sdk.client import Client

    stack = RunningStack(tmp_path / "data", SWITCHBOARD_REQUEST_TIMEOUT="1",
                         SWITCHBOARD_STARTING_CREDITS="1000").start()
    slow = threading.Event()
    slow.set()

    def refuse(content, **params):
        raise RuntimeError("refused")

    def dawdle(content, **params):
        if slow.is_set():
            time.sleep(1.3)
        return f"late {content}"

    def client(key):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"

        def send(n, content):
            return session.post(stack.url("/api/v1/request"), timeout=30,
                                headers={"Idempotency-Key": f"order-{n}"},
                                json={"task_type": "work", "content": content, "api_key": key})

        def one(n):
            if n % 5 == 0:  # a retry racing the first attempt
                with ThreadPoolExecutor(2) as twice:
                    sent = list(twice.map(lambda _: send(n, str(n)), range(2)))
            else:
                sent = [send(n, str(n))]
            changed = send(n, "something else") if n % 7 == 0 else None
            return n, sent, changed
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(50)))

    try:
        keys = [new_key(stack, creds) for _ in range(3)]
        with RunningNode(f"{stack.ws_url}/ws/node", "good", ["work"],
                         {"work": lambda content, **p: f"done {content}"}) as good, \
                RunningNode(f"{stack.ws_url}/ws/node", "failing", ["work"], {"work": refuse}) as bad, \
                RunningNode(f"{stack.ws_url}/ws/node", "slow", ["work"], {"work": dawdle}) as late:
            for node in (good, bad, late):
                node.listed_by(stack.base_url, "work")
            with ThreadPoolExecutor(3) as pool:
                outcomes = dict(zip(keys, pool.map(client, keys)))
            slow.clear()
        served = {good.node_id: 0, bad.node_id: 0, late.node_id: 0}
        total = 0
        for key, calls in outcomes.items():
            completed = failed = timed_out = 0
            for n, sent, changed in calls:
                statuses = {r.status_code for r in sent}
                assert len(statuses) == 1, (n, [r.text for r in sent])
                if sent[0].status_code == 200:
                    body = sent[0].json()
                    assert {r.json()["task_id"] for r in sent} == {body["task_id"]}, "a replay is the same call"
                    if body["status"] == "completed":
                        completed += 1
                        served[body["node_id"]] += 1
                    else:
                        assert body["node_id"] == bad.node_id and body["cost"] == 0
                        failed += 1
                else:
                    assert sent[0].status_code == 504, sent[0].text
                    timed_out += 1
                if changed is not None:
                    assert changed.status_code == 409, changed.text
            with Client(key, coordinator_url=stack.base_url) as sdk:
                balance, history = sdk.balance(), sdk.history(limit=500)
            charges = [h for h in history if h["tx_type"] == "charge"]
            refunds = [h for h in history if h["tx_type"] == "refund"]
            assert len(charges) == 50 and len({h["task_id"] for h in charges}) == 50, \
                "charged once per call, whatever the replays and other clients' keys"
            assert len(refunds) == failed + timed_out
            assert {h["task_id"] for h in refunds} <= {h["task_id"] for h in charges}
            assert balance == 1000 - COST * completed == sum(h["amount"] for h in history)
            total += balance
        assert served[bad.node_id] == 0 and served[good.node_id] > 0
        assert sum(1 for calls in outcomes.values() for _, sent, _ in calls
                   if sent[0].status_code == 504) > 0, "the slow node was given work"
        earned = {node_id: node_balance(stack, node_id) for node_id in served}
        assert earned == {node_id: COST * count for node_id, count in served.items()}, \
            "each node earned the price of each task it completed, and nothing else"
        assert total + sum(earned.values()) == 3 * 1000, "the sum of balances is the sum of grants"
    finally:
        stack.stop()


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


def test_a_busy_sdk_node_is_pushed_queued_work_as_it_finishes(hub, creds):
    """More tasks than the node has room for: the rest wait in the queue, and each result
    the node sends makes room for the next, pushed at once (the node cannot pull)."""
    admin = {"Authorization": f"Bearer {creds['admin_token']}"}

    def slow_echo(content, **params):
        time.sleep(0.2)
        return content
    with RunningNode(f"{hub.ws_url}/ws/node", "busy", ["busy"], {"busy": slow_echo}) as node:
        node.listed_by(hub.base_url, "busy")
        created = [requests.post(hub.url("/api/v1/tasks"), headers=admin, json={
            "title": f"job {n}", "required_tools": ["busy"]}).json() for n in range(8)]
        assert sum(t["status"] == "pending" for t in created) >= 3, "more than it has room for"
        deadline = time.monotonic() + 15  # batch assignment, the other way, runs each minute
        while time.monotonic() < deadline:
            states = [requests.get(hub.url(f"/api/v1/tasks/{t['id']}"), headers=admin)
                      .json()["status"] for t in created]
            if set(states) == {"completed"}:
                break
            time.sleep(0.2)
        assert states == ["completed"] * 8


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


def test_a_task_one_sdk_node_fails_is_done_by_another_at_once(hub, creds):
    """Two SDK nodes that can do the work; the one given the task fails it. The task is
    pushed at once to the other, idle one (not back to the node that failed it, and not
    after the minute's batch assignment: the test waits ten seconds)."""
    admin = {"Authorization": f"Bearer {creds['admin_token']}"}

    def refuse(content, **params):
        raise RuntimeError("cannot do it")

    def echo(content, **params):
        return content
    with RunningNode(f"{hub.ws_url}/ws/node", "refuser", ["redo"], {"redo": refuse}) as bad, \
            RunningNode(f"{hub.ws_url}/ws/node", "doer", ["redo"], {"redo": echo}) as good:
        bad.listed_by(hub.base_url, "redo")
        good.listed_by(hub.base_url, "redo")
        created = requests.post(hub.url("/api/v1/tasks"), headers=admin, json={
            "title": "job", "required_tools": ["redo"], "worker_id": bad.node_id}).json()
        assert created["worker_id"] == bad.node_id
        task = eventually(lambda: (lambda t: t["status"] == "completed" and t)(requests.get(
            hub.url(f"/api/v1/tasks/{created['id']}"), headers=admin).json()))
        assert task["worker_id"] == good.node_id
