"""The outbound path on a real local stack, over HTTP: a SkyCetus task's event reaches a
webhook receiver signed; secrets, channel tokens, SSH passwords and webhook secrets never
reach the stack's data directory (journal, snapshots) in clear; the vault's key survives a
restart, so a secret revealed before it is revealed after it."""
from __future__ import annotations

import requests
from standardwebhooks import Webhook

from tests.localstack import STACK_CREDENTIALS, RunningStack
from tests.receivers import Receiver

SECRET_VALUE = "sk-live-e2e-7f3a9c1d2b4e6f8091a2b3c4d5e6f708"
ROTATED_VALUE = "sk-live-e2e-rotated-0a1b2c3d4e5f60718293a4b5"
SLACK_TOKEN = "xoxb-e2e-slack-token-5c6d7e8f9a0b1c2d3e4f"
SSH_PASSWORD = "e2e-ssh-password-9d8c7b6a5f4e3d2c1b0a"


def _files(root):
    return [p for p in root.rglob("*") if p.is_file()]


def test_deliveries_over_http_and_no_plaintext_at_rest(tmp_path):
    data = tmp_path / "data"
    stack = RunningStack(data).start()
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {STACK_CREDENTIALS['SWITCHBOARD_ADMIN_TOKEN']}"
    try:
        with Receiver([200]) as receiver:
            made = admin.post(stack.url("/api/v1/webhooks"), json={
                "name": "ci", "url": receiver.url, "events": ["task.created"]})
            assert made.status_code == 201, made.text
            webhook_secret = made.json()["secret"]
            task = requests.post(stack.url("/api/v1/task/create"), json={"title": "build", "description": "ci run"},
                                 headers={"X-Matrix-Secret": STACK_CREDENTIALS["SWITCHBOARD_SHARED_SECRET"]})
            assert task.status_code in (200, 201), task.text
            (received,) = receiver.wait_for(1)
            event = Webhook(webhook_secret).verify(received.body, received.headers)
            assert event["type"] == "task.created" and event["data"]["title"] == "build"

        secret = admin.post(stack.url("/api/v1/secrets"), json={
            "name": "deploy key", "value": SECRET_VALUE, "category": "api_key"}).json()
        assert admin.post(stack.url(f"/api/v1/secrets/{secret['id']}/rotate"),
                          json={"value": ROTATED_VALUE}).json()["version"] == 2
        assert admin.get(stack.url(f"/api/v1/secrets/{secret['id']}")).json()["value"] == "********"
        assert admin.get(stack.url(f"/api/v1/secrets/{secret['id']}?reveal=true&version=1")) \
            .json()["value"] == SECRET_VALUE
        channel = admin.post(stack.url("/api/v1/notifications/channels"), json={
            "name": "ops", "type": "telegram",
            "config": {"bot_token": SLACK_TOKEN, "chat_id": 42}})
        assert channel.status_code == 201 and SLACK_TOKEN not in channel.text
        connection = admin.post(stack.url("/api/v1/ssh-connections"), json={
            "host": "127.0.0.1", "port": 2222, "username": "deploy", "password": SSH_PASSWORD})
        assert connection.status_code == 201 and SSH_PASSWORD not in connection.text
    finally:
        assert stack.stop() == 0  # a clean stop folds the journal into a snapshot

    stored = b"".join(path.read_bytes() for path in _files(data))
    logged = stack.log()
    for plaintext in (SECRET_VALUE, ROTATED_VALUE, SLACK_TOKEN, SSH_PASSWORD, webhook_secret):
        assert plaintext.encode() not in stored and plaintext not in logged, plaintext
    assert b"deploy key" in stored  # the grep does see the stack's data

    restarted = RunningStack(data).start()
    try:
        revealed = admin.get(restarted.url(f"/api/v1/secrets/{secret['id']}?reveal=true"))
        assert revealed.json()["value"] == ROTATED_VALUE
    finally:
        restarted.stop()
