"""The embedded local stack, driven as a client would: real HTTP, real WebSockets."""
import asyncio
import json

import requests
import websockets

from tests.localstack import RunningStack


def test_health_routes_answer_over_http(stack):
    health = requests.get(stack.url("/health")).json()
    assert health["status"] == "healthy" and "version" in health and "uptime" in health
    healthz = requests.get(stack.url("/healthz")).json()  # hub2d is open on the local stack
    assert healthz["status"] == "ok" and isinstance(healthz["clients"], int)


def test_unknown_routes_wrong_methods_and_bad_json_answer_in_the_dialects_shape(stack):
    unknown = requests.get(stack.url("/api/v1/config/template"))
    assert unknown.status_code == 404 and "detail" in unknown.json()
    commhub_unknown = requests.get(stack.url("/api/nothing"))
    assert commhub_unknown.status_code == 404 and commhub_unknown.json()["error"] == "not_found"
    wrong = requests.get(stack.url("/api/v1/auth/login"))
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST, OPTIONS"
    bad = requests.post(stack.url("/api/auth/login"), data="{oops",
                        headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"] == "malformed_json"
    trailing = requests.post(stack.url("/api/v1/auth/login/"), json={"email": "x@y.z", "password": "p"})
    assert trailing.status_code == 401, "a trailing slash reaches the same route, as in API Gateway"


def test_protected_routes_need_credentials_over_http(stack, creds):
    assert requests.get(stack.url("/api/networks")).status_code == 401
    ok = requests.get(stack.url("/api/networks"),
                      headers={"Authorization": f"Bearer {creds['admin_token']}"})
    assert ok.status_code == 200 and ok.json()["networks"][0]["network_id"] == "net_default"


def test_websocket_node_endpoint_and_management_api(stack, creds):
    async def scenario():
        async with websockets.connect(f"{stack.ws_url}/ws/node") as node:
            await node.send("not json")
            error = json.loads(await node.recv())
            assert error["msg_type"] == "error" and error["payload"]["message"]
            assert {"msg_id", "payload", "sender_id", "timestamp"} <= set(error)
            clients = requests.get(stack.url("/healthz")).json()["clients"]
            assert clients >= 1

        try:
            async with websockets.connect(f"{stack.ws_url}/ws"):
                raise AssertionError("the platform socket needs a token")
        except websockets.exceptions.InvalidStatus as refused:
            assert refused.response.status_code == 403

        async with websockets.connect(f"{stack.ws_url}/ws?token={creds['admin_token']}") as events:
            await events.send(json.dumps({"type": "ping"}))
            assert json.loads(await events.recv())["type"] == "pong"
            await events.send(json.dumps({"type": "subscribe", "event": "task.created"}))
            assert json.loads(await events.recv()) == {"type": "subscribed",
                                                       "events": ["task.created"]}

    asyncio.run(scenario())
    gone = requests.post(stack.url("/@connections/bm90LWEtc29ja2V0"), data=b"{}")
    assert gone.status_code == 410


def test_data_survives_a_restart_and_ctrl_c_stops_cleanly(tmp_path, creds):
    stack = RunningStack(tmp_path / "data").start()
    try:
        registered = requests.post(stack.url("/api/auth/register"),
                                   headers={"Authorization": f"Bearer {creds['admin_token']}"},
                                   json={"username": "persisted", "password": "keep-me-around-1"})
        assert registered.status_code == 200
        token = registered.json()["token"]
    finally:
        assert stack.stop() == 0
    assert "stopped" in stack.log()

    again = RunningStack(tmp_path / "data").start()
    try:
        me = requests.get(again.url("/api/auth/me"), headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["user"]["username"] == "persisted"
        login = requests.post(again.url("/api/auth/login"),
                              json={"username": "persisted", "password": "keep-me-around-1"})
        assert login.status_code == 200
    finally:
        again.stop()
