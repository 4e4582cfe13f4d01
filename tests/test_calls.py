"""Synchronous calls and their credits, in process: a call is charged only if it runs, once;
the node earns the price when it completes it; a call that ends unserved is refunded in the
move that ends it; keys are the caller's own. (Over real sockets with the GemmaNet SDK:
tests/e2e/test_node_protocol.py.)"""
import json
from types import SimpleNamespace

import pytest

from chalicelib import ws
from chalicelib.auth.principal import anonymous
from chalicelib.push import sockets
from chalicelib.services import connections, ledger, tasks

COST = 10


class Nodes:
    """GemmaNet nodes behind a stand-in Management API: a node answers each TASK_ASSIGN
    at once with `answer(payload)` -> (status, result), or never (None)."""

    def __init__(self):
        self.answers, self.frames = {}, []

    def connect(self, node_id, capability, answer):
        connection_id = f"conn-{node_id}"
        self.answers[connection_id] = answer
        connections.open_connection(connection_id, "node", anonymous("net_default"))
        self.frame(connection_id, "node_register", {"node_id": node_id, "name": node_id,
                                                    "capabilities": [capability]})

    def frame(self, connection_id, msg_type, payload):
        ws.message(SimpleNamespace(connection_id=connection_id,
                                   body=json.dumps({"msg_type": msg_type, "payload": payload})))

    def send(self, connection_id, data):
        frame = json.loads(data) if isinstance(data, str) else data
        self.frames.append((connection_id, frame))
        if frame["msg_type"] == "task_assign":
            outcome = self.answers[connection_id](frame["payload"])
            if outcome is not None:
                status, result = outcome
                self.frame(connection_id, "task_result", {"task_id": frame["payload"]["task_id"],
                                                          "status": status, "result": result})
        return True

    def received(self, connection_id, msg_type):
        return [f["payload"] for c, f in self.frames if c == connection_id and f["msg_type"] == msg_type]


@pytest.fixture
def nodes(monkeypatch, settings_env):
    settings_env(SWITCHBOARD_OPEN_DIALECTS="gemmanet", SWITCHBOARD_REQUEST_TIMEOUT="0.3")
    fleet = Nodes()
    monkeypatch.setattr(sockets, "send", fleet.send)
    return fleet


@pytest.fixture
def caller(api, admin):
    key = admin.post("/api/v1/security/api-keys", {"name": "client"}).json["key"]
    return api.bearer(key)


def call(client, task_type="echo", content="hi", key=None, **extra):
    return client.post("/api/v1/request", {"task_type": task_type, "content": content, **extra},
                       headers={"Idempotency-Key": key} if key else {})


def ledger_of(client):
    return client.get("/api/v1/balance").json, \
        [(h["tx_type"], h["amount"], h["task_id"]) for h in client.get("/api/v1/history").json]


def node_balance(node_id):
    return ledger.get_account("net_default", f"node:{node_id}").balance


def test_a_call_that_runs_is_charged_once_and_its_node_earns_the_price(nodes, caller):
    nodes.connect("echo-1", "echo", lambda p: ("completed", f"Echo: {p['content']}"))
    answer = call(caller, content="Hello")
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert (body["status"], body["result"], body["cost"], body["node_id"]) == (
        "completed", "Echo: Hello", COST, "echo-1")
    balance, history = ledger_of(caller)
    assert balance["balance"] == 1000 - COST and balance["total_spent"] == COST
    assert history == [("charge", -COST, body["task_id"]), ("grant", 1000, None)]
    assert node_balance("echo-1") == COST
    assert nodes.received("conn-echo-1", "credit_update")[-1]["balance"] == COST


def test_a_call_that_ends_before_running_is_never_charged(nodes, caller):
    assert call(caller, task_type="nobody-does-this").status_code == 404
    nodes.connect("echo-1", "echo", lambda p: ("completed", "ok"))
    assert call(caller, max_cost=COST - 1).status_code == 402
    assert call(caller, content=42).status_code == 422
    balance, history = ledger_of(caller)
    assert balance["balance"] == 1000 and history == [("grant", 1000, None)]


def test_a_short_balance_is_402_and_charges_nothing(nodes, api, admin, settings_env):
    settings_env(SWITCHBOARD_STARTING_CREDITS="15", SWITCHBOARD_OPEN_DIALECTS="gemmanet",
                 SWITCHBOARD_REQUEST_TIMEOUT="0.3")
    poor = api.bearer(admin.post("/api/v1/security/api-keys", {"name": "poor"}).json["key"])
    nodes.connect("echo-1", "echo", lambda p: ("completed", "ok"))
    assert call(poor).status_code == 200
    assert call(poor).status_code == 402
    balance, history = ledger_of(poor)
    assert balance["balance"] == 5 and [h[0] for h in history] == ["charge", "grant"]


def test_a_call_that_fails_or_times_out_is_refunded_by_the_move_that_ends_it(nodes, caller):
    nodes.connect("broken", "broken", lambda p: ("failed", "no can do"))
    failed = call(caller, task_type="broken")
    assert failed.status_code == 200
    assert (failed.json["status"], failed.json["result"], failed.json["cost"]) == (
        "failed", "no can do", 0)
    assert tasks.get("net_default", failed.json["task_id"]).status == "failed", \
        "a call is failed for good, not dead-lettered for a retry nobody waits for"

    nodes.connect("mute", "mute", lambda p: None)
    timed_out = call(caller, task_type="mute")
    assert timed_out.status_code == 504
    late_id = nodes.received("conn-mute", "task_assign")[0]["task_id"]
    assert tasks.get("net_default", late_id).status == "expired"
    nodes.frame("conn-mute", "task_result", {"task_id": late_id, "status": "completed",
                                             "result": "late"})
    assert "expired" in nodes.received("conn-mute", "error")[-1]["message"], "a late result is refused"

    balance, history = ledger_of(caller)
    assert balance["balance"] == 1000 and balance["total_spent"] == 0
    assert sorted(history) == sorted([
        ("refund", COST, late_id), ("charge", -COST, late_id),
        ("refund", COST, failed.json["task_id"]), ("charge", -COST, failed.json["task_id"]),
        ("grant", 1000, None)])
    assert node_balance("broken") == node_balance("mute") == 0


def test_a_refund_that_cannot_be_written_leaves_the_task_as_it_was(nodes, admin, monkeypatch):
    from chalicelib.services import identity
    key = admin.post("/api/v1/security/api-keys", {"name": "c"}).json["key"]
    principal = identity.resolve_secret(key)
    nodes.connect("mute", "mute", lambda p: None)
    task, _ = tasks.create(principal, title="mute call", source="test", task_type="mute",
                           lux_reward=COST, max_attempts=1, connected_node_only=True, charge=COST)
    assert task.status == "assigned"
    write_posting = ledger.add_to_transaction

    def unreachable_for_refunds(tx, posting, account):
        if posting.tx_type == "refund":
            raise RuntimeError("the ledger is unreachable")
        return write_posting(tx, posting, account)
    monkeypatch.setattr(ledger, "add_to_transaction", unreachable_for_refunds)
    with pytest.raises(RuntimeError):
        tasks.expire("net_default", task.task_id, reason="the caller stopped waiting")
    assert tasks.get("net_default", task.task_id).status == "assigned", "nothing half-written"
    monkeypatch.setattr(ledger, "add_to_transaction", write_posting)
    assert tasks.expire("net_default", task.task_id, reason="again").status == "expired"
    entries, _ = ledger.history("net_default", principal.account_id)
    assert [(e.tx_type, e.amount, e.task_id) for e in entries] == [
        ("refund", COST, task.task_id), ("charge", -COST, task.task_id), ("grant", 1000, None)]


def test_call_keys_are_the_callers_own(nodes, caller, api, admin):
    nodes.connect("echo-1", "echo", lambda p: ("completed", f"Echo: {p['content']}"))
    first = call(caller, content="a", key="order-1")
    again = call(caller, content="a", key="order-1")
    assert first.status_code == again.status_code == 200
    assert again.json["task_id"] == first.json["task_id"] and again.json["result"] == "Echo: a"
    assert call(caller, content="b", key="order-1").status_code == 409
    other = api.bearer(admin.post("/api/v1/security/api-keys", {"name": "other"}).json["key"])
    theirs = call(other, content="b", key="order-1")
    assert theirs.status_code == 200 and theirs.json["result"] == "Echo: b", \
        "another client's identical key is its own call: nothing leaks, nothing blocks"
    assert [h[0] for h in ledger_of(caller)[1]] == ["charge", "grant"], "charged once"
    assert [h[0] for h in ledger_of(other)[1]] == ["charge", "grant"]
    assert node_balance("echo-1") == 2 * COST
