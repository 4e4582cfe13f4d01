"""The one outbound path: webhooks delivered from the event stream through the queue,
signed per Standard Webhooks, retried with growing delays, dead after the last attempt;
circuit breakers; the SSRF guard. Receivers are real HTTP servers on 127.0.0.1."""
from __future__ import annotations

import os
import socket
import time

import pytest
from standardwebhooks import Webhook

from chalicelib.errors import ValidationFailed
from chalicelib.services import events, notifications
from chalicelib.services.outbound import breakers, deliveries, guard, http, webhooks
from tests.receivers import Receiver
from tests.waiting import eventually

NET = "net_default"
OWNER = "user:owner"


@pytest.fixture
def loopback(settings_env):
    """A stage that allows the test receivers (the local stack's default)."""
    settings_env(SWITCHBOARD_OUTBOUND_ALLOW="127.0.0.0/8")


@pytest.fixture
def consumers(hub, loopback):
    """The app's stream and queue consumers, running as Lambda would run them."""
    import app as app_module
    from infra.local.outbound import Consumers
    running = Consumers(app_module, os.environ["AWS_DEFAULT_REGION"], poll_s=0.02)
    running.start()
    yield running
    running.stop()


def test_events_reach_subscribers_signed_retried_with_growing_delays_or_dead(consumers, monkeypatch):
    monkeypatch.setattr(webhooks, "DISABLE_AFTER", 1)
    with Receiver([500, 500, (200, b'{"ok":true}', {})]) as flaky, Receiver([503]) as broken, \
            Receiver([200]) as other:
        hook, secret = webhooks.create_webhook(
            NET, actor="user:1", owner=OWNER, name="CI", url=flaky.url, events=["gadget.*"],
            headers={"Authorization": "Bearer ci-token"},
            retry_policy={"max_retries": 2, "backoff_seconds": 1})
        dying, _ = webhooks.create_webhook(
            NET, actor="user:1", owner=OWNER, name="Dying", url=broken.url, events=["gadget.made"],
            retry_policy={"max_retries": 1, "backoff_seconds": 1})
        webhooks.create_webhook(NET, actor="user:1", owner=OWNER, name="Elsewhere",
                                url=other.url, events=["task.*"])
        assert secret.startswith("whsec_")

        published = time.monotonic()
        events.publish(NET, "gadget.made", {"gadget_id": "g1", "colour": "red"})
        assert time.monotonic() - published < 0.5  # the writer does not wait for delivery

        attempts = flaky.wait_for(3)
        assert len(attempts) == 3
        first_gap, second_gap = (attempts[1].at - attempts[0].at, attempts[2].at - attempts[1].at)
        assert 0.8 < first_gap < 1.8 and 1.7 < second_gap < 3.2 and second_gap > first_gap
        verifier = Webhook(secret)
        for received in attempts:
            assert verifier.verify(received.body, received.headers) == received.json
            assert received.headers["Authorization"] == "Bearer ci-token"
        assert len({r.headers["webhook-id"] for r in attempts}) == 1
        assert attempts[0].json["type"] == "gadget.made"
        assert attempts[0].json["data"] == {"gadget_id": "g1", "colour": "red"}

        log = eventually(lambda: (page := webhooks.list_deliveries(NET, hook.id)).items and
                    page.items[0].status == deliveries.SUCCEEDED and page)
        delivery = log.items[0]
        assert log.total == 1 and delivery.event_type == "gadget.made"
        assert [a["status_code"] for a in delivery.attempts] == [500, 500, 200]
        assert all(a["latency_ms"] >= 0 for a in delivery.attempts)
        assert delivery.attempts[-1]["response"] == '{"ok":true}'

        dead = eventually(lambda: (page := webhooks.list_deliveries(NET, dying.id)).items and
                     page.items[0].status == deliveries.DEAD and page.items[0])
        assert [a["status_code"] for a in dead.attempts] == [503, 503]
        assert len(broken.received) == 2 and other.received == []
        disabled = webhooks.get_webhook(NET, dying.id)
        assert disabled.is_active is False and "failed" in disabled.disabled_reason
        told = notifications.list_notifications(NET, OWNER)
        assert [n.subject for n in told.items] == ["Webhook Dying was disabled"]

        # an update keeps the history; a test is one more real, signed delivery in it
        webhooks.update_webhook(NET, hook.id, name="CI (renamed)")
        test_delivery, outcome = webhooks.test_webhook(NET, hook.id)
        assert outcome.status_code == 200 and test_delivery.status == deliveries.SUCCEEDED
        assert verifier.verify(flaky.received[-1].body, flaky.received[-1].headers)["type"] == "test"
        assert webhooks.list_deliveries(NET, hook.id).total == 2


def test_a_breaker_opens_makes_deliveries_wait_then_half_opens_and_closes(consumers):
    with Receiver([503, 503, 200]) as receiver:
        hook, _ = webhooks.create_webhook(NET, actor="user:1", owner=OWNER, name="Flaky",
                                          url=receiver.url, events=["gadget.*"])
        name = f"127.0.0.1:{receiver.port}"
        breakers.configure(NET, name, failure_threshold=2, recovery_timeout_s=1)
        for _ in range(2):
            webhooks.test_webhook(NET, hook.id)
        breaker = breakers.get(NET, name)
        assert breaker.state == breakers.OPEN and breaker.failure_count == 2

        # while open: a test is refused without a request, an event's delivery waits
        _, outcome = webhooks.test_webhook(NET, hook.id)
        assert outcome is None and len(receiver.received) == 2
        events.publish(NET, "gadget.made", {"gadget_id": "g2"})
        time.sleep(0.4)
        waiting = webhooks.list_deliveries(NET, hook.id, status=deliveries.PENDING).items
        assert len(waiting) == 1 and waiting[0].attempt_count == 0

        # after the cooldown the waiting delivery is the one trial; its success closes it
        receiver.wait_for(3, timeout_s=5)
        closed = eventually(lambda: (b := breakers.get(NET, name)).state == breakers.CLOSED and b)
        assert closed.total_successes == 1 and closed.total_failures == 2
        assert eventually(lambda: webhooks.list_deliveries(
            NET, hook.id, status=deliveries.SUCCEEDED).total == 1)

    time.sleep(0.6)  # event streams read half a second behind now
    alerts = [e.data for e in events.read(NET, None, types=("system.alert",))[0]]
    assert [(a["from"], a["to"]) for a in alerts] == [("closed", "open"), ("open", "half_open"),
                                                      ("half_open", "closed")]
    admin = notifications.admins(NET)[0]
    subjects = [n.subject for n in notifications.list_notifications(NET, admin).items]
    assert subjects[-1] == f"Circuit breaker {name} is open"


def _cool_down(name: str) -> None:
    """As if the cooldown had passed (the test above waits for a real one)."""
    breakers.get(NET, name).update(actions=[breakers.B.open_until.set(0)])


def test_half_open_lets_one_trial_through_and_a_failed_trial_reopens(hub):
    name = "hooks.example.com:443"
    breakers.configure(NET, name, failure_threshold=3, recovery_timeout_s=60, window_s=60)
    for _ in range(2):
        breakers.record_result(NET, name, ok=False, error="HTTP 502")
    assert breakers.admit(NET, name).allowed  # 2 of 3: still closed
    breakers.record_result(NET, name, ok=False, error="timed out")
    refused = breakers.admit(NET, name)
    assert not refused.allowed and refused.retry_at > time.time() * 1000 + 50_000
    _cool_down(name)
    trial = breakers.admit(NET, name)
    assert trial.allowed and trial.trial
    assert not breakers.admit(NET, name).allowed  # one trial at a time
    breakers.record_result(NET, name, ok=False, trial=True, error="HTTP 503")
    assert breakers.get(NET, name).state == breakers.OPEN
    assert not breakers.admit(NET, name).allowed  # a new cooldown
    breakers.force_open(NET, name)
    _cool_down(name)
    assert not breakers.admit(NET, name).allowed  # held open by the operator
    closed = breakers.force_close(NET, name)
    assert closed.state == breakers.CLOSED and closed.forced is None and closed.failure_count == 0
    assert breakers.reset(NET, name).total_failures == 0
    with pytest.raises(ValidationFailed):
        breakers.configure(NET, name, failure_threshold=0)


class _NoSockets:
    """Records every address resolved and every socket opened; refuses to open any that
    is not loopback (a test must never connect anywhere else)."""

    def __init__(self, monkeypatch, answers: dict):
        self.resolved, self.opened = [], []
        real_getaddrinfo, real_socket = socket.getaddrinfo, socket.socket
        recorder = self

        def getaddrinfo(host, port, *args, **kwargs):
            recorder.resolved.append(host)
            if host in answers:
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
            return real_getaddrinfo(host, port, *args, **kwargs)

        class RecordingSocket(real_socket):
            def connect(self, address):
                recorder.opened.append(address)
                if address[0] not in ("127.0.0.1", "::1"):
                    raise AssertionError(f"a test tried to connect to {address}")
                return super().connect(address)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket, "socket", RecordingSocket)


def test_the_guard_refuses_private_targets_before_any_socket_opens(aws, monkeypatch, settings_env):
    settings_env(SWITCHBOARD_OUTBOUND_ALLOW="")  # a deployed stage: no allow-list
    sockets = _NoSockets(monkeypatch, {"rebind.example.test": "127.0.0.1"})
    for url in ("http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/",
                "http://rebind.example.test:8080/hook", "http://[::ffff:10.0.0.1]/",
                "https://0x7f000001/", "ftp://example.com/", "http://user:pw@example.com/"):
        outcome = http.send(http.Request("POST", url, b"{}"))
        assert outcome.refused and outcome.status_code is None, url
        if "rebind" not in url:  # a name is checked when it is used, not when configured
            with pytest.raises(ValidationFailed):
                webhooks.create_webhook(NET, actor="u", owner="u", name="x", url=url)
    hook, _ = webhooks.create_webhook(NET, actor="u", owner="u", name="rebinding",
                                      url="http://rebind.example.test:8080/hook")
    _, outcome = webhooks.test_webhook(NET, hook.id)
    assert outcome.refused and "127.0.0.1" in outcome.error
    assert sockets.opened == []
    assert "rebind.example.test" in sockets.resolved  # refused after resolution, not by name
    assert "rebind.example.test (127.0.0.1)" in http.send(
        http.Request("GET", "http://rebind.example.test/")).error


def test_redirects_are_checked_hop_by_hop(aws, monkeypatch, settings_env):
    settings_env(SWITCHBOARD_OUTBOUND_ALLOW="127.0.0.1/32")
    with Receiver([(307, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})]) as to_metadata, \
            Receiver([(302, b"", {"Location": "file:///etc/passwd"})]) as to_file, \
            Receiver([(308, b"", {"Location": "/elsewhere"}), 200]) as relative:
        sockets = _NoSockets(monkeypatch, {})
        for receiver in (to_metadata, to_file):
            outcome = http.send(http.Request("POST", receiver.url, b"{}",
                                             headers={"Authorization": "Bearer t"}))
            assert outcome.refused and len(receiver.received) == 1
        hop = http.send(http.Request("POST", relative.url, b'{"a":1}'))
        assert hop.status_code == 200 and relative.received[1].path == "/elsewhere"
        assert relative.received[1].body == b'{"a":1}'  # 308 keeps the method and body
        assert guard.target(relative.url).breaker_name == f"127.0.0.1:{relative.port}"
        assert all(address[0] == "127.0.0.1" for address in sockets.opened)
