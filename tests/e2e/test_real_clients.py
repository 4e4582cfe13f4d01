"""The Hub2d channel plugin's way of reading SSE, over real HTTP on the local stack.

The nexus channel plugin (OpenClaw) reads `/v1/events` with its own parser: it ignores
`event:` lines, dispatches every `data:` block as a message, takes a position only from a
block that had data, reports itself connected when the response headers arrive, and
reconnects a second after a response ends, with `?last_event_id=`. `PluginReader` does the
same. Against the local stack's streamed responses it must look connected at once and stay
connected; against windowed responses (API Gateway's buffered proxy) it must still see every
message exactly once and nothing that is not a message.
"""
from __future__ import annotations

import json
import threading
import time

import requests
import sseclient

from tests.localstack import RunningStack


class PluginReader:
    """A Python rendering of the plugin's connectSSE loop."""

    def __init__(self, url: str, agent: str):
        self.url, self.agent = url, agent
        self.last_event_id = None
        self.dispatched: list[dict] = []
        self.connects = 0
        self.header_delays: list[float] = []
        self.connected_since: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            params = {"to": self.agent}
            if self.last_event_id:
                params["last_event_id"] = self.last_event_id
            asked = time.monotonic()
            try:
                with requests.get(self.url, params=params, stream=True, timeout=60,
                                  headers={"Accept": "text/event-stream"}) as response:
                    self.header_delays.append(time.monotonic() - asked)
                    self.connects += 1
                    self.connected_since = time.monotonic()
                    self._read(response)
            except requests.RequestException:
                pass
            self.connected_since = None
            self.stop.wait(1.0)  # the plugin's reconnect delay after a clean end

    def _read(self, response) -> None:
        buffer, current_id, current_data = "", None, ""
        for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
            if self.stop.is_set():
                return
            buffer += chunk
            *lines, buffer = buffer.split("\n")
            for line in lines:
                if line.startswith("id: "):
                    current_id = line[4:].strip()
                elif line.startswith("data: "):
                    current_data += line[6:]
                elif line == "" and current_data:
                    if current_id:
                        self.last_event_id = current_id
                    self.dispatched.append(json.loads(current_data))
                    current_data, current_id = "", None


def _send_and_collect(stack, reader: PluginReader, count: int) -> list[str]:
    thread = threading.Thread(target=reader.run, daemon=True)
    thread.start()
    sent = []
    try:
        time.sleep(1.5)
        for n in range(count):
            sent.append(requests.post(stack.url("/v1/send"), json={
                "from": "cortana", "to": "serina" if n % 2 else None,
                "content": f"message {n}"}).json()["event_id"])
            requests.post(stack.url("/v1/send"), json={"from": "cortana", "to": "roland",
                                                       "content": "for someone else"})
            time.sleep(0.15)
        deadline = time.monotonic() + 20
        while len(reader.dispatched) < count and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        reader.stop.set()
    return sent


def _assert_only_messages_once(reader: PluginReader, sent: list[str]) -> None:
    assert all(set(d) >= {"event_id", "from", "content"} for d in reader.dispatched), \
        "nothing but messages is dispatched"
    assert [d["event_id"] for d in reader.dispatched] == sent, "each message once, in order"


def test_the_plugin_stays_connected_to_a_streamed_response(tmp_path):
    stack = RunningStack(tmp_path / "data", SWITCHBOARD_STREAM_KEEPALIVE="1").start()
    try:
        reader = PluginReader(stack.url("/v1/events"), "serina")
        sent = _send_and_collect(stack, reader, 12)
        _assert_only_messages_once(reader, sent)
        assert reader.connects == 1, "one connection held open: no reconnect cycle"
        assert reader.header_delays[0] < 1.0, "headers at once: the plugin reports connected"

        # A spec-following reader on the same stream: keepalives dispatch nothing.
        with requests.get(stack.url("/v1/events?to=serina"), stream=True, timeout=30) as response:
            events = sseclient.SSEClient(response).events()
            requests.post(stack.url("/v1/send"), json={"from": "cortana", "to": "serina",
                                                       "content": "after the keepalives"})
            first = next(events)
            assert json.loads(first.data)["content"] == "after the keepalives"
            assert first.event == "message" and first.id
    finally:
        stack.stop()


def test_the_plugin_sees_each_message_once_through_windowed_responses(tmp_path):
    stack = RunningStack(tmp_path / "data", SWITCHBOARD_LOCAL_STREAMING="off",
                         SWITCHBOARD_STREAM_WAIT="1").start()
    try:
        reader = PluginReader(stack.url("/v1/events"), "serina")
        sent = _send_and_collect(stack, reader, 12)
        _assert_only_messages_once(reader, sent)
        assert reader.connects > 3, "windows end and the plugin comes back"
    finally:
        stack.stop()
