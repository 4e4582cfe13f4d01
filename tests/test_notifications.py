"""Notifications: rules turn events into in-app notifications (counted right under
concurrent readers, pushed to the recipient only) and channel messages sent through the
delivery path — Slack and Telegram to local receivers, email through moto's SES."""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from standardwebhooks import Webhook

from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.services import events, notifications
from chalicelib.services.outbound import channels, deliveries
from tests.receivers import Receiver
from tests.test_outbound import NET
from tests.waiting import eventually


@pytest.fixture
def consumers(hub, settings_env):
    settings_env(SWITCHBOARD_OUTBOUND_ALLOW="127.0.0.0/8")
    import app as app_module
    from infra.local.outbound import Consumers
    running = Consumers(app_module, os.environ["AWS_DEFAULT_REGION"], poll_s=0.02)
    running.start()
    yield running
    running.stop()


def test_a_rule_notifies_in_app_and_sends_to_slack_telegram_email_and_a_signed_webhook(consumers):
    with Receiver([200]) as slack, Receiver([(200, b'{"ok":true}', {})]) as telegram, \
            Receiver([200]) as generic:
        to_slack = channels.create_channel(NET, actor="user:admin", name="ops", type="slack",
                                           config={"webhook_url": slack.url + "/T000/B000/XXXXsecretpart"})
        to_telegram = channels.create_channel(
            NET, actor="user:admin", name="on-call", type="telegram",
            config={"bot_token": "123456:ABC-telegram-token-value", "chat_id": -1001,
                    "api_base": f"http://127.0.0.1:{telegram.port}"})
        to_mail = channels.create_channel(NET, actor="user:admin", name="mail", type="email",
                                          config={"to": ["ops@example.test"]})
        signing_secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        to_ci = channels.create_channel(NET, actor="user:admin", name="ci", type="webhook",
                                        config={"url": generic.url, "secret": signing_secret})
        assert channels.masked_config(to_slack) == {"webhook_url": "...part"}
        assert channels.masked_config(to_telegram)["bot_token"] == "...alue"
        assert channels.masked_config(to_ci) == {"url": generic.url, "secret": "...LaSw"}

        rule = notifications.create_rule(
            NET, actor="user:admin", recipient="user:alice", name="failed tasks",
            event_type="task.*", conditions={"status": "failed"},
            template="Task {data.task_id} {status}", severity="error",
            channel_ids=[to_slack.id, to_telegram.id, to_mail.id, to_ci.id],
            recipients=["user:alice", "user:bob"])
        events.publish(NET, "task.updated", {"task_id": "t-9", "status": "running"})  # no match
        events.publish(NET, "task.failed", {"task_id": "t-1", "status": "failed"})

        slack_message = slack.wait_for(1)[0].json
        assert slack_message["text"].startswith("*Task t-1 failed*\n")
        sent = telegram.wait_for(1)[0]
        assert sent.path == "/bot123456:ABC-telegram-token-value/sendMessage"
        assert sent.json["chat_id"] == -1001 and sent.json["parse_mode"] == "Markdown"
        ci = generic.wait_for(1)[0]
        assert Webhook(signing_secret).verify(ci.body, ci.headers)["subject"] == "Task t-1 failed"
        mail = eventually(lambda: ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)
        assert mail[0].destinations["ToAddresses"] == ["ops@example.test"]
        assert mail[0].subject == "Task t-1 failed"
        assert eventually(lambda: deliveries.list_deliveries(
            NET, "channel", to_mail.id, status=deliveries.SUCCEEDED).total == 1)

        for person in ("user:alice", "user:bob"):
            inbox = notifications.list_notifications(NET, person)
            assert [n.subject for n in inbox.items] == ["Task t-1 failed"]
            assert inbox.items[0].severity == "error" and inbox.items[0].rule_id == rule.id
        assert notifications.list_notifications(NET, "user:carol").total == 0
        assert len(slack.received) == 1 and len(generic.received) == 1

        # other callers (a trigger's action) send to a channel through the same path
        channels.send(NET, to_slack.id, subject="Deploy finished", body="v1.2 is live")
        assert slack.wait_for(2)[1].json == {"text": "*Deploy finished*\nv1.2 is live"}

    with pytest.raises(ValidationFailed):
        notifications.create_rule(NET, actor="a", recipient="a", name="x", event_type="task.*",
                                  channel="slack")  # a type is not a channel
    with pytest.raises(NotFound):
        notifications.create_rule(NET, actor="a", recipient="a", name="x", event_type="task.*",
                                  channel_ids=["chn_missing"])


def test_unread_counts_stay_right_under_concurrent_readers(hub):
    made = [notifications.create(NET, "user:alice", subject=f"n{i}", body="b") for i in range(30)]
    notifications.create(NET, "user:bob", subject="bob's", body="b")
    assert notifications.unread_count(NET, "user:alice") == 30
    targets = [made[i % 10] for i in range(40)]  # the same ten, read four times each, at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: notifications.mark_read(NET, "user:alice", notifications.public_id(n)),
                      targets))
    assert notifications.unread_count(NET, "user:alice") == 20
    with ThreadPoolExecutor(max_workers=4) as pool:  # read-all racing single reads
        counts = list(pool.map(lambda job: job(), [
            lambda: notifications.mark_all_read(NET, "user:alice"),
            lambda: notifications.mark_all_read(NET, "user:alice"),
            lambda: notifications.mark_read(NET, "user:alice", notifications.public_id(made[15])),
            lambda: notifications.mark_read(NET, "user:alice", notifications.public_id(made[25]))]))
    flipped_by_read_all = counts[0] + counts[1]
    assert 18 <= flipped_by_read_all <= 20
    assert notifications.unread_count(NET, "user:alice") == 0
    assert notifications.unread_count(NET, "user:bob") == 1
    unread = notifications.list_notifications(NET, "user:alice", unread=True)
    assert unread.items == [] and unread.total == 0
    assert notifications.list_notifications(NET, "user:alice").total == 30
    with pytest.raises(NotFound):  # bob's notification is not alice's to read
        bobs = notifications.list_notifications(NET, "user:bob").items[0]
        notifications.mark_read(NET, "user:alice", notifications.public_id(bobs))
    time.sleep(0.6)
    pushed = events.read(NET, None, types=("notification",))[0]
    assert {e.target for e in pushed} == {"user:alice", "user:bob"}
