"""Messages and event streams on the real stack: SSE with forced reconnects, long-polls,
and ten thousand messages whose receivers crash before acknowledging."""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sseclient

from tests.localstack import RunningStack

VISIBILITY_S = 30


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    # Windowed SSE, as API Gateway's buffered proxy answers (tests/e2e/test_real_clients.py
    # covers the streamed responses the local gateway offers by default).
    stack = RunningStack(tmp_path_factory.mktemp("streams") / "data",
                         SWITCHBOARD_LOCAL_STREAMING="off", SWITCHBOARD_STREAM_WAIT="1", SWITCHBOARD_EVENT_SETTLE_MS="200",
                         SWITCHBOARD_VISIBILITY_TIMEOUT=str(VISIBILITY_S)).start()
    yield stack
    stack.stop()


def sky(creds):
    session = requests.Session()
    session.headers["X-Matrix-Secret"] = creds["shared_secret"]
    return session


class Reader:
    """An sseclient-py reader that reconnects like an EventSource, with Last-Event-ID."""

    def __init__(self, url: str, headers=None):
        self.url, self.headers = url, headers or {}
        self.last_id = None
        self.events = []
        self.connections = 0

    def read_once(self, stop_after: int | None = None) -> None:
        headers = {"Accept": "text/event-stream", **self.headers}
        if self.last_id:
            headers["Last-Event-ID"] = self.last_id
        with requests.get(self.url, headers=headers, stream=True, timeout=30) as response:
            assert response.status_code == 200, response.text
            assert response.headers["Content-Type"].startswith("text/event-stream")
            self.connections += 1
            for event in sseclient.SSEClient(response).events():
                if event.id:
                    self.last_id = event.id
                self.events.append(event)
                if stop_after and len(self.events) % stop_after == 0:
                    return  # a forced reconnect in the middle of a response


def test_an_sse_reader_sees_every_event_exactly_once_across_reconnects(hub, creds):
    reader = Reader(hub.url("/v1/events?to=roland"))
    reader.read_once()  # connected before anything is sent: it only learns its position
    sent, done = [], threading.Event()

    def sender():
        for i in range(60):
            reply = requests.post(hub.url("/v1/send"), json={
                "room_id": "general", "from": "serina", "to": "roland" if i % 3 else None,
                "content": f"message {i}"}).json()
            sent.append(reply["event_id"])
            requests.post(hub.url("/v1/send"), json={"from": "serina", "to": "cortana",
                                                     "content": "not for roland"})
            time.sleep(0.02)
        done.set()

    thread = threading.Thread(target=sender)
    thread.start()
    while not done.is_set() or len(reader.events) < len(sent):
        reader.read_once(stop_after=7)
        assert reader.connections < 200
    thread.join()

    ids = [e.id for e in reader.events]
    assert len(ids) == len(set(ids)) == 60, "no event lost, none repeated"
    assert ids == sent, "in the order they were sent"
    payloads = [json.loads(e.data) for e in reader.events]
    assert all(p["to"] in ("roland", None) for p in payloads), "to= keeps the reader's and broadcasts"
    assert payloads[1] == {"event_id": sent[1], "room_id": "general", "from": "serina",
                           "to": "roland", "content": "message 1", "ts_ms": payloads[1]["ts_ms"],
                           "msg_id": payloads[1]["msg_id"]}
    assert reader.connections > 8, "the reader really reconnected"
    assert requests.get(hub.url("/healthz")).json()["clients"] >= 1


def test_commhub_streams_replay_what_a_reader_missed(hub, creds):
    admin = {"Authorization": f"Bearer {creds['admin_token']}"}
    url = hub.url(f"/events/coder-1?token={creds['admin_token']}")
    idle = requests.get(url, timeout=10).text
    assert "data:" not in idle and "\nid: " in "\n" + idle, "an idle window names its position only"
    reader = Reader(url)
    reader.last_id = next(line[4:] for line in idle.splitlines() if line.startswith("id: "))

    # while the reader is away: a message, a broadcast, a task for it, a reply to it
    client = sky(creds)
    client.post(hub.url("/api/v1/node/register"), json={"node_id": "coder-1", "name": "Coder"})
    client.post(hub.url("/api/v1/message/send"),
                json={"from_node": "commander", "to_node": "coder-1", "content": "build it"})
    client.post(hub.url("/api/v1/message/broadcast"), json={"from_node": "commander",
                                                            "content": "standup"})
    requests.post(hub.url("/api/v1/tasks"), headers=admin,
                  json={"title": "ship", "priority": "high", "worker_id": "coder-1"})
    asked = requests.post(hub.url("/v1/send"), json={"from": "coder-1", "to": "reviewer",
                                                     "content": "review?"}).json()
    requests.post(hub.url("/v1/replies"), json={"event_id": asked["event_id"], "text": "lgtm",
                                                "status": "ok"})
    time.sleep(0.3)
    reader.read_once()
    kinds = [e.event for e in reader.events]
    assert kinds == ["new_message", "broadcast", "new_task", "new_reply"], kinds
    data = [json.loads(e.data) for e in reader.events]
    assert data[0] == {"type": "new_message", "message": "build it", "from": "commander",
                       "message_id": data[0]["message_id"]}
    assert data[1] == {"type": "broadcast", "content": "standup", "from": "commander"}
    assert data[2]["priority"] == "high" and data[2]["inbox_count"] == 1
    assert data[3]["status"] == "ok" and data[3]["from"] == "reviewer"
    stream = requests.get(hub.url("/events/coder-1"), timeout=10)
    assert stream.status_code == 401


def test_a_blocking_receive_returns_as_soon_as_a_message_arrives(hub, creds):
    client = sky(creds)
    latencies = []
    for n in range(5):
        sent_at = {}

        def send_soon():
            time.sleep(0.4)
            sent_at["t"] = time.monotonic()
            client.post(hub.url("/api/v1/message/send"),
                        json={"from_node": "a", "to_node": "waiter", "content": f"wake {n}"})
        threading.Thread(target=send_soon).start()
        got = sky(creds).post(hub.url("/api/v1/message/receive"), timeout=30,
                              json={"node_id": "waiter", "blocking": True, "timeout": 10}).json()
        latencies.append(time.monotonic() - sent_at["t"])
        assert [m["content"] for m in got["messages"]] == [f"wake {n}"]
    assert max(latencies) < 1.0, latencies  # generous; bench/receive_latency measures it
    quiet = time.monotonic()
    empty = client.post(hub.url("/api/v1/message/receive"),
                        json={"node_id": "waiter", "blocking": True, "timeout": 0.5}).json()
    assert empty["count"] == 0 and 0.45 < time.monotonic() - quiet < 5


@pytest.mark.soak
def test_ten_thousand_messages_survive_receivers_that_crash_before_acking(hub, creds):
    receivers = [f"worker-{i:02d}" for i in range(20)]
    total = 10_000

    def send(offset):
        client = sky(creds)
        ids = []
        for n in range(offset, total, 8):
            reply = client.post(hub.url("/api/v1/message/send"), json={
                "from_node": "producer", "to_node": receivers[n % len(receivers)],
                "content": f"job {n}", "require_ack": True})
            assert reply.status_code == 200, reply.text
            ids.append(reply.json()["message_id"])
        return ids

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        sent = {m for ids in pool.map(send, range(8)) for m in ids}
    assert len(sent) == total

    def take_all(node, ack=False):
        client, taken, acked, repeats = sky(creds), [], [], 0
        while True:
            batch = client.post(hub.url("/api/v1/message/receive"),
                                json={"node_id": node, "count": 100}).json()["messages"]
            if not batch:
                return taken, acked, repeats
            taken.extend(batch)
            if ack:
                reply = client.post(hub.url("/api/v1/message/ack"), json={
                    "node_id": node, "message_ids": [m["id"] for m in batch]}).json()
                acked.extend(reply["acked"])
                repeats += len(reply["already_acked"])

    leased_at = time.monotonic()
    with ThreadPoolExecutor(len(receivers)) as pool:  # the crash: take all, ack nothing
        first = [m for taken, _, _ in pool.map(take_all, receivers) for m in taken]
    all_leased_by = time.monotonic()
    assert sorted(m["id"] for m in first) == sorted(sent), "every message delivered once"
    with ThreadPoolExecutor(len(receivers)) as pool:
        assert sum(len(t) for t, _, _ in pool.map(take_all, receivers)) == 0, \
            "nothing comes back before the visibility timeout"
    checked_by = time.monotonic() - leased_at
    # Every lease began after `leased_at`, so the empty pass proves they were all still
    # hidden only if it ended before the earliest lease could expire.
    assert checked_by < VISIBILITY_S, f"too slow to tell: leasing took {checked_by:.1f}s"

    # Every lease was taken by `all_leased_by`, so from then on a timeout later all are due.
    time.sleep(max(0.0, all_leased_by + VISIBILITY_S + 0.5 - time.monotonic()))
    with ThreadPoolExecutor(len(receivers)) as pool:  # the restart: all back; ack now
        recovered = list(pool.map(lambda node: take_all(node, ack=True), receivers))
    second = [m for taken, _, _ in recovered for m in taken]
    acked = [m for _, acks, _ in recovered for m in acks]
    elapsed = time.monotonic() - started
    assert sorted(m["id"] for m in second) == sorted(sent), "none lost: all came back"
    assert all(m["delivery_count"] == 2 for m in second)
    assert sorted(acked) == sorted(sent), "each acknowledged once"
    assert sum(repeats for _, _, repeats in recovered) == 0
    client = sky(creds)
    again = client.post(hub.url("/api/v1/message/ack"), json={
        "node_id": receivers[0], "message_ids": [m["id"] for m in second
                                                 if m["to_node"] == receivers[0]][:10]}).json()
    assert again["acked"] == [] and len(again["already_acked"]) == 10, "a second ack changes nothing"
    time.sleep(VISIBILITY_S + 0.5)
    with ThreadPoolExecutor(len(receivers)) as pool:
        assert sum(len(t) for t, _, _ in pool.map(take_all, receivers)) == 0, \
            "nothing left after the acks"
    print(f"10,000 messages sent, crashed on, redelivered and acknowledged in {elapsed:.0f}s")
