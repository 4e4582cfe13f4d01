"""Triggers fire: schedules found through the due-time index, events, webhooks."""
import threading
import time

import pytest

from chalicelib.auth.principal import Principal
from chalicelib.errors import NotFound, Unauthorized, ValidationFailed
from chalicelib.services import nodes, tasks
from chalicelib.services.orchestration import triggers, workflows
from tests.receivers import Receiver
from tests.test_outbound import consumers, loopback  # noqa: F401 (fixtures)

NET = "net_a"
MINUTE = 60_000


def test_a_schedule_fires_once_per_due_time_even_when_sweeps_overlap(aws):
    trigger, token = triggers.create(NET, {"name": "every 5", "trigger_type": "cron",
                                           "action_type": "create_task",
                                           "config": {"cron_expression": "*/5 * * * *"},
                                           "action_config": {"title": "tick"}},
                                     created_by="user:1")
    assert token is None and trigger.trigger_type == "schedule"
    due = trigger.next_fire_at
    assert due % (5 * MINUTE) == 0 and due > trigger.created_at
    assert triggers.fire_due(due - 1) == {"fired": 0, "rerun": 0}

    results = []
    sweeps = [threading.Thread(target=lambda: results.append(triggers.fire_due(due + 1000)))
              for _ in range(4)]
    for sweep in sweeps:
        sweep.start()
    for sweep in sweeps:
        sweep.join()
    assert sum(r["fired"] for r in results) == 1
    fired = triggers.get(NET, trigger.id)
    assert fired.fire_count == 1 and fired.next_fire_at == due + 5 * MINUTE  # no catch-up
    history = triggers.history(NET, trigger.id)
    assert history.total == 1
    firing = history.items[0]
    assert firing.status == "success" and firing.cause == {"type": "schedule", "due_at": due}
    assert tasks.get(NET, firing.result["task_id"]).title == "tick"

    # late by an hour: one firing, then the next due time after now
    later = due + 65 * MINUTE
    assert triggers.fire_due(later)["fired"] == 1
    assert triggers.get(NET, trigger.id).next_fire_at == due + 70 * MINUTE

    triggers.toggle(NET, trigger.id)  # off: never due
    assert triggers.fire_due(later + 60 * MINUTE)["fired"] == 0
    triggers.toggle(NET, trigger.id)  # on again: due from now on
    assert triggers.get(NET, trigger.id).next_fire_at > time.time() * 1000
    assert [f.status for f in triggers.history(NET, trigger.id).items] == ["success"] * 2
    stats = triggers.stats(triggers.get(NET, trigger.id), [])
    assert stats["execution_counts"] == {"success": 2, "failure": 0}
    triggers.delete(NET, trigger.id)
    assert triggers.fire_due(later + 600 * MINUTE)["fired"] == 0


def test_triggers_are_checked_when_made(aws):
    def make(**fields):
        return triggers.create(NET, {"name": "t", "trigger_type": "schedule",
                                     "action_type": "notify", **fields}, created_by="user:1")
    with pytest.raises(ValidationFailed):
        make(config={"cron_expression": "every tuesday"})
    with pytest.raises(ValidationFailed):
        make(config={"interval_seconds": 5})
    with pytest.raises(ValidationFailed):
        make(trigger_type="threshold", config={})
    with pytest.raises(ValidationFailed):
        make(action_type="call_webhook", config={"interval_seconds": 60})
    with pytest.raises(NotFound):
        make(action_type="execute_workflow", config={"interval_seconds": 60},
             action_config={"workflow_id": "wfl_nope"})


def test_event_triggers_match_type_and_filters_once_per_event(aws):
    nodes.register(Principal(NET, "admin_token", "admin", system_admin=True), "w1",
                   kind="platform", max_concurrent=10)
    flow = workflows.create(NET, {"name": "follow-up"}, created_by="user:1")
    workflows.add_step(NET, flow.id, {"name": "only"}, created_by="user:1")
    trigger, _ = triggers.create(NET, {"name": "on urgent done", "trigger_type": "event",
                                       "action_type": "run_workflow",
                                       "config": {"event_type": "task.completed",
                                                  "filters": {"priority": "high"}},
                                       "action_config": {"workflow_id": flow.id}},
                                 created_by="user:1")
    principal = Principal(NET, "user", "user:1")
    urgent, _ = tasks.create(principal, title="urgent", source="platform", priority="high")
    normal, _ = tasks.create(principal, title="normal", source="platform")
    for task in (urgent, normal):
        tasks.complete(NET, task.task_id, node_id="w1", result="ok", actor="node:w1")
    fired = triggers.history(NET, trigger.id)
    assert fired.total == 1 and fired.items[0].cause["event_type"] == "task.completed"
    run_id = fired.items[0].result["workflow_run_id"]
    run = workflows.get_run(NET, flow.id, run_id)
    assert run.input["trigger_event"]["data"]["task_id"] == urgent.task_id
    # the durable path sees the same events again: nothing fires twice
    from chalicelib.services import events, reactions
    time.sleep(0.6)
    reactions.dispatch(NET, events.read(NET, None, limit=1000)[0], fast=False)
    assert triggers.history(NET, trigger.id).total == 1
    # the workflow's own task completing is not high priority: no loop
    assert workflows.runs(NET, flow.id).total == 1


def test_a_webhook_trigger_fires_with_its_own_token_only(aws):
    trigger, token = triggers.create(NET, {"name": "hook", "trigger_type": "webhook",
                                           "action_type": "send_message",
                                           "action_config": {"to": "w9", "content": "ping"}},
                                     created_by="user:1")
    assert token.startswith("sbt_")
    with pytest.raises(Unauthorized):
        triggers.fire_webhook(trigger.id, "sbt_wrong", {})
    firing = triggers.fire_webhook(trigger.id, token, {"build": 7})
    assert firing.status == "success" and firing.event_data == {"build": 7}
    assert firing.result["message_id"].startswith("msg-")
    triggers.toggle(NET, trigger.id)
    with pytest.raises(NotFound):
        triggers.fire_webhook(trigger.id, token, {})


def test_a_notify_action_notifies_the_named_people_and_channels_once_per_firing(consumers):
    """`notify` is real: in-app notifications through the notifications service (counted,
    pushed to each recipient) and a delivery to each named channel; a firing rerun after a
    crash makes neither twice, and the notifications it makes never set triggers off."""
    from chalicelib.services import events, notifications
    from chalicelib.services.outbound import channels, deliveries
    from chalicelib.store.records import time_key
    from chalicelib.store.triggers import FIRING_DUE, FiringRecord
    net, admin = "net_default", notifications.admins("net_default")[0]
    with Receiver([200]) as receiver:
        channel = channels.create_channel(net, actor="user:owner", name="ci", type="webhook",
                                          config={"url": receiver.url})
        on_failure, _ = triggers.create(net, {
            "name": "tell on failure", "trigger_type": "event", "action_type": "notify",
            "config": {"event_type": "task.failed"},
            "action_config": {"recipients": ["user:alice", "admins"], "channel_ids": [channel.id],
                              "subject": "A task failed", "severity": "error"}},
            created_by="user:owner")
        everything, _ = triggers.create(net, {  # names no one: the administrators hear
            "name": "tell everything", "trigger_type": "event", "action_type": "notify",
            "config": {"event_type": "*"}}, created_by="user:owner")
        events.publish(net, "task.failed", {"task_id": "task-doomed", "status": "failed"})

        firing = triggers.history(net, on_failure.id).items[0]
        assert firing.status == "success", firing.error
        assert firing.result["recipients"] == ["user:alice", admin]
        alice = notifications.list_notifications(net, "user:alice")
        assert [(n.subject, n.severity) for n in alice.items] == [("A task failed", "error")]
        assert alice.items[0].metadata["trigger_id"] == on_failure.id
        assert '"task-doomed"' in alice.items[0].body  # the event that fired it
        assert notifications.unread_count(net, "user:alice") == 1
        sent = receiver.wait_for(1)[0].json
        assert sent["subject"] == "A task failed" and sent["event_type"] == "notification"

        # a crash after the action, before its outcome was written: the sweep reruns the
        # firing, which notifies no one twice and sends nothing twice
        firing.update(actions=[FiringRecord.status.set("running"),
                               FiringRecord.time_pk.set(FIRING_DUE),
                               FiringRecord.time_sk.set(time_key(0, f"{net}/{firing.sk}"))])
        assert triggers.fire_due()["rerun"] == 1
        assert notifications.list_notifications(net, "user:alice").total == 1
        assert deliveries.list_deliveries(net, "channel", channel.id).total == 1
        time.sleep(0.3)
        assert len(receiver.received) == 1

    to_admin = [n for n in notifications.list_notifications(net, admin).items
                if n.metadata.get("trigger_id") == everything.id]
    assert to_admin and to_admin[0].subject == "Trigger fired"
    assert notifications.list_notifications(net, "user:owner").total == 0  # not named
    # the notifications the actions made did not fire "everything" again (no loop)
    causes = [f.cause["event_type"] for f in triggers.history(net, everything.id, limit=200).items]
    assert "notification" not in causes and "task.failed" in causes
    time.sleep(0.6)
    pushed = events.read(net, None, types=("notification",))[0]
    assert "user:alice" in {e.target for e in pushed}

    def make(action_config):
        return triggers.create(net, {"name": "bad", "trigger_type": "webhook",
                                     "action_type": "send_notification",
                                     "action_config": action_config}, created_by="user:owner")
    with pytest.raises(ValidationFailed):
        make({"recipients": "user:alice"})
    with pytest.raises(ValidationFailed):
        make({"severity": "loud"})
    with pytest.raises(NotFound):
        make({"channel": "chn_missing"})


def test_a_notify_step_notifies_once_however_often_it_is_readied(hub):
    from chalicelib.services import notifications
    flow = workflows.create("net_default", {"name": "announce"}, created_by="user:owner")
    workflows.add_step("net_default", flow.id, {
        "name": "tell", "step_type": "notify",
        "config": {"recipients": ["user:alice"], "subject": "Shipped", "body": "v2"}},
        created_by="user:owner")
    with pytest.raises(ValidationFailed):
        workflows.add_step("net_default", flow.id, {"name": "odd", "step_type": "notify",
                                                    "config": {"user_id": 7}},
                           created_by="user:owner")
    run = workflows.start_run("net_default", flow.id, input={}, cause={"type": "test"},
                              started_by="user:owner", key="run-1")
    assert workflows.get_run("net_default", flow.id, run.id).status == "completed"
    step = workflows.run_steps("net_default", run.id)[0]
    assert step.status == "completed" and step.output["recipients"] == ["user:alice"]
    inbox = notifications.list_notifications("net_default", "user:alice")
    assert [(n.subject, n.body) for n in inbox.items] == [("Shipped", "v2")]
    assert inbox.items[0].metadata == {"workflow_id": flow.id, "run_id": run.id, "step": "tell"}
    # readied again (the durable path racing the fast one): the same key, no second one
    from chalicelib.services.orchestration import notify
    again = notify.send("net_default", step.config, subject="Shipped", body="v2",
                        key=f"wf:{run.id}:{step.id}", at_ms=run.created_at, source=run.id,
                        metadata={})
    assert again["notified"] == []
    assert notifications.unread_count("net_default", "user:alice") == 1


def test_a_message_for_a_stopped_agent_is_not_sent(aws):
    from chalicelib.services import messaging
    from chalicelib.services.orchestration import agents
    nodes.register(Principal(NET, "admin_token", "admin", system_admin=True), "w1",
                   kind="platform")
    agent = agents.create(NET, {"name": "Listener", "worker_id": "w1"}, created_by="user:1")
    trigger, token = triggers.create(NET, {"name": "tell it", "trigger_type": "webhook",
                                           "action_type": "send_message",
                                           "action_config": {"agent_id": agent.id,
                                                             "content": "wake up"}},
                                     created_by="user:1")
    assert triggers.fire_webhook(trigger.id, token, {}).status == "success"
    agents.stop(NET, agent.id)
    stopped = triggers.fire_webhook(trigger.id, token, {})
    assert stopped.status == "failure" and "stopped" in stopped.error
    assert [m.content for m in messaging.receive(NET, "w1", count=10)] == ["wake up"]
