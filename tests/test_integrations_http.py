"""The integration routes over HTTP (chalice.test.Client): roles, status codes, masking,
the peer's shapes and our paging. Delivery, signing, breakers, the guard and SSH are
exercised end to end in tests/test_outbound.py, tests/test_ssh.py and tests/e2e."""
from __future__ import annotations

import pytest

import time

from chalicelib.services import identity, notifications
from tests.conftest import SHARED_SECRET
from tests.receivers import Receiver


@pytest.fixture
def loopback(settings_env):
    settings_env(SWITCHBOARD_OUTBOUND_ALLOW="127.0.0.0/8")


def test_webhooks_roles_masking_paging_test_and_history(admin, sky, loopback):
    with Receiver([(200, b'{"received":true}', {})]) as receiver:
        made = sky.post("/api/v1/webhooks", {"name": "CI", "url": receiver.url,
                                             "events": ["task.*"],
                                             "headers": {"X-Token": "abc123"},
                                             "retry_policy": {"max_retries": 2,
                                                              "backoff_seconds": 5}})
        assert made.status_code == 201, made.json
        hook = made.json
        assert hook["secret"].startswith("whsec_") and hook["headers"] == {"X-Token": "***"}
        assert hook["retry_policy"] == {"max_retries": 2, "backoff_seconds": 5}
        shown = admin.get(f"/api/v1/webhooks/{hook['id']}").json
        assert shown["secret"] == "***" and "abc123" not in str(shown)

        tested = sky.post(f"/api/v1/webhooks/{hook['id']}/test")
        assert tested.status_code == 200
        assert tested.json["status"] == "delivered"
        delivery = tested.json["delivery"]
        assert delivery["status_code"] == 200 and delivery["success"] is True
        assert delivery["response_body"] == '{"received":true}' and delivery["latency_ms"] >= 0
        assert receiver.received[0].headers["X-Token"] == "abc123"

        renamed = sky.put(f"/api/v1/webhooks/{hook['id']}", {"name": "CI 2", "rotate_secret": True})
        assert renamed.json["name"] == "CI 2" and renamed.json["secret"] != hook["secret"]
        log = sky.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json
        assert log["total"] == 1 and log["items"][0]["attempts"][0]["status_code"] == 200

    for n in range(3):
        sky.post("/api/v1/webhooks", {"name": f"extra {n}", "url": "https://hooks.example.com/x"})
    page = sky.get("/api/v1/webhooks?skip=1&limit=2").json
    assert page["total"] == 4 and [h["name"] for h in page["items"]] == ["extra 1", "extra 0"]
    assert page["skip"] == 1 and page["limit"] == 2 and page["next_cursor"]
    assert sky.get("/api/v1/webhooks?limit=500").status_code == 422

    refused = sky.post("/api/v1/webhooks", {"name": "meta", "url": "http://169.254.169.254/"})
    assert refused.status_code == 422 and "link-local" in str(refused.json)
    assert sky.post("/api/v1/webhooks", {"url": "https://hooks.example.com/"}).status_code == 422
    assert sky.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert sky.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404


def test_secrets_are_admin_only_masked_revealed_with_audit_and_rotated(admin, sky):
    assert sky.get("/api/v1/secrets").status_code == 403
    made = admin.post("/api/v1/secrets", {"name": "stripe", "value": "sk_live_abcdef123456",
                                          "category": "api_key",
                                          "expires_at": "2999-01-01T00:00:00Z"})
    assert made.status_code == 201 and made.json["version"] == 1
    assert "sk_live" not in str(made.json)
    assert admin.post("/api/v1/secrets", {"name": "STRIPE", "value": "x"}).status_code == 409
    secret_id = made.json["id"]
    listed = admin.get("/api/v1/secrets?category=api_key").json
    assert listed["total"] == 1 and listed["items"][0]["value"] == "********"

    revealed = admin.get(f"/api/v1/secrets/{secret_id}?reveal=true")
    assert revealed.json["value"] == "sk_live_abcdef123456"
    (reveal,) = admin.get("/api/v1/admin/audit?action=secret.reveal").json
    assert reveal["resource_id"] == secret_id and reveal["method"] == "GET"
    assert "sk_live" not in str(reveal)
    assert sky.get(f"/api/v1/secrets/{secret_id}?reveal=true").status_code == 403

    rotated = admin.post(f"/api/v1/secrets/{secret_id}/rotate", {"value": "sk_live_new"})
    assert rotated.json["version"] == 2 and rotated.json["value"] == "********"
    generated = admin.post(f"/api/v1/secrets/{secret_id}/rotate").json
    assert generated["version"] == 3 and len(generated["value"]) >= 40
    assert admin.get(f"/api/v1/secrets/{secret_id}?reveal=true&version=2").json["value"] == \
        "sk_live_new"
    described = admin.get(f"/api/v1/secrets/{secret_id}").json
    assert [v["version"] for v in described["versions"]] == [1, 2, 3]
    updated = admin.put(f"/api/v1/secrets/{secret_id}", {"value": "sk_live_4",
                                                         "expires_at": "2000-01-02T00:00:00Z"})
    assert updated.json["version"] == 4
    assert admin.get(f"/api/v1/secrets/{secret_id}?reveal=true").status_code == 409  # expired

    soon = admin.post("/api/v1/secrets", {"name": "soon", "value": "v",
                                          "expires_at": "2999-01-01T00:00:00Z"}).json
    admin.put(f"/api/v1/secrets/{soon['id']}", {"expires_at": time.time() + 3 * 86400})
    expiring = admin.get("/api/v1/secrets/expiring?days=7").json
    assert [s["name"] for s in expiring["items"]] == ["soon"]
    assert expiring["items"][0]["days_until_expiry"] in (2, 3)
    assert (expiring["total"], expiring["skip"], expiring["limit"]) == (1, 0, 50)
    assert admin.delete(f"/api/v1/secrets/{secret_id}").status_code == 204
    assert admin.get("/api/v1/secrets").json["total"] == 1


def test_notifications_inbox_channels_rules_and_breakers(admin, sky, hub):
    member = notifications.recipient_of(identity.resolve_secret(SHARED_SECRET))
    for n in range(3):
        notifications.create("net_default", member, subject=f"n{n}")
    assert sky.get("/api/v1/notifications/unread-count").json == {"unread_count": 3, "count": 3}
    inbox = sky.get("/api/v1/notifications?limit=2").json
    assert inbox["total"] == 3 and [n["subject"] for n in inbox["items"]] == ["n2", "n1"]
    first = inbox["items"][0]["id"]
    assert sky.put(f"/api/v1/notifications/{first}/read").json["is_read"] is True
    assert admin.put(f"/api/v1/notifications/{first}/read").status_code == 404  # not theirs
    assert sky.put("/api/v1/notifications/read-all").json == {"marked_count": 2}
    assert sky.get("/api/v1/notifications?unread=true").json["total"] == 0

    assert sky.get("/api/v1/notifications/channels").status_code == 403
    channel = admin.post("/api/v1/notifications/channels", {
        "name": "ops", "type": "slack",
        "config": {"webhook_url": "https://hooks.slack.com/services/T0/B0/abcdefghijklmnop"}})
    assert channel.status_code == 201
    assert channel.json["config"] == {"webhook_url": "...mnop"}
    assert admin.post("/api/v1/notifications/channels", {"name": "x", "type": "pager"}).status_code == 422
    rule = admin.post("/api/v1/notifications/rules", {"name": "failures", "event_type": "task.failed",
                                                      "channel": channel.json["id"]})
    assert rule.status_code == 201 and rule.json["channel_ids"] == [channel.json["id"]]
    assert admin.post("/api/v1/notifications/rules", {"name": "x"}).status_code == 422
    assert admin.put(f"/api/v1/notifications/rules/{rule.json['id']}",
                     {"is_active": False}).json["is_active"] is False
    assert admin.get("/api/v1/notifications/rules").json["total"] == 1
    assert admin.delete(f"/api/v1/notifications/channels/{channel.json['id']}").status_code == 204

    assert sky.get("/api/v1/circuit-breakers").status_code == 403
    made = admin.post("/api/v1/circuit-breakers", {"name": "hooks.slack.com:443",
                                                   "failure_threshold": 3})
    assert made.status_code == 201 and made.json["config"]["failure_threshold"] == 3
    assert admin.post("/api/v1/circuit-breakers", {"name": "hooks.slack.com:443",
                                                   "recovery_timeout": 30}).status_code == 200
    opened = admin.post("/api/v1/circuit-breakers/hooks.slack.com:443/force-open").json
    assert opened["state"] == "open" and opened["service"] == "hooks.slack.com:443"
    listed = admin.get("/api/v1/circuit-breakers").json
    assert listed["total"] == 1 and listed["items"][0]["forced"] == "open"
    assert admin.post("/api/v1/circuit-breakers/hooks.slack.com:443/reset").json["state"] == "closed"
    alerts = notifications.list_notifications("net_default", notifications.admins("net_default")[0])
    assert {n.subject for n in alerts.items} == {"Circuit breaker hooks.slack.com:443 is open",
                                                 "Circuit breaker hooks.slack.com:443 is closed"}


def test_ssh_connections_are_admin_only_and_never_return_credentials(admin, sky):
    assert sky.post("/api/v1/ssh-connections", {"host": "127.0.0.1", "username": "u",
                                                "password": "p"}).status_code == 403
    made = admin.post("/api/v1/ssh-connections", {"hostname": "bastion.example.com", "username": "deploy",
                                                  "password": "hunter2-long-password"})
    assert made.status_code == 201
    view = made.json
    assert view["has_password"] and not view["has_key"] and view["port"] == 22
    assert "hunter2" not in str(view) and view["status"] == "untested"
    assert admin.post("/api/v1/ssh-connections", {"host": "10.0.0.1", "username": "root",
                                                  "password": "x"}).status_code == 422
    changed = admin.put(f"/api/v1/ssh-connections/{view['id']}", {"name": "bastion"})
    assert changed.json["name"] == "bastion"
    assert admin.get("/api/v1/ssh-connections").json["total"] == 1
    assert admin.post(f"/api/v1/ssh-connections/{view['id']}/execute", {}).status_code == 422
    assert admin.delete(f"/api/v1/ssh-connections/{view['id']}").status_code == 204
