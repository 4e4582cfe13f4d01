"""The local stack answers its own process's boto3 calls to its Management API in process,
with the results and errors API Gateway's HTTP answers give, and without opening a socket
(the endpoint below has no listener: a call that went over HTTP would fail)."""
from __future__ import annotations

import asyncio
import threading

import boto3
import pytest

from infra.local import transport
from infra.local.gateway import MAX_FRAME_BYTES, LocalGateway, LocalSocket

ENDPOINT = "http://127.0.0.1:9"   # the discard port: nothing answers there


@pytest.fixture
def gateway():
    import app
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    local = LocalGateway(app)
    local.loop = loop
    transport.route("apigatewaymanagementapi", ENDPOINT, local.management_call)
    yield local
    transport.unroute("apigatewaymanagementapi", ENDPOINT)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    local.executor.shutdown(wait=False)


def _socket(gateway, connection_id: str) -> list:
    sent: list = []

    async def send(message):
        sent.append(message)

    async def make():  # the socket's lock belongs to the server's loop
        gateway.sockets[connection_id] = LocalSocket(connection_id, send, "/ws/node",
                                                     "127.0.0.1", "test")
    asyncio.run_coroutine_threadsafe(make(), gateway.loop).result(timeout=5)
    return sent


def test_posts_and_deletes_reach_the_socket_and_gone_ones_say_so(gateway):
    client = boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT,
                          region_name="us-east-1")
    sent = _socket(gateway, "conn-1")

    client.post_to_connection(ConnectionId="conn-1", Data=b'{"type":"TASK_ASSIGN"}')
    assert sent == [{"type": "websocket.send", "text": '{"type":"TASK_ASSIGN"}'}]

    with pytest.raises(client.exceptions.PayloadTooLargeException):
        client.post_to_connection(ConnectionId="conn-1", Data=b"x" * (MAX_FRAME_BYTES + 1))
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="nobody", Data=b"{}")

    client.delete_connection(ConnectionId="conn-1")
    assert sent[-1] == {"type": "websocket.close", "code": 1000}
    with pytest.raises(client.exceptions.GoneException) as gone:
        client.post_to_connection(ConnectionId="conn-1", Data=b"{}")
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    assert len(sent) == 2  # nothing more reached the closed socket
