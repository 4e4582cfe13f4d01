"""/metrics: Prometheus text that prometheus_client's own parser reads, with per-instance
request counts and latencies by dialect and route template, and task gauges that agree
with `/tasks/stats`; open, or guarded by SWITCHBOARD_METRICS_TOKEN."""
from prometheus_client.parser import text_string_to_metric_families

from chalicelib.jobs import fleet
from chalicelib.services.insight import metrics
from tests.test_outbound import consumers, loopback  # noqa: F401  (fixtures)


def families(response) -> dict:
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    text = response.body.decode() if isinstance(response.body, bytes) else response.body
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(family, **labels):
    return [s for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]


def test_metrics_parse_and_agree_with_task_stats(api, admin, sky):
    metrics.clear_cache()
    before = families(api.get("/metrics"))  # this process's counters count earlier tests too

    def created_before(**labels):
        return sum(s.value for s in samples(before["switchboard_http_requests"], **labels))

    sky.post("/api/v1/node/register", {"node_id": "m1", "name": "m1"})
    for i in range(3):
        sky.post("/api/v1/task/create", {"title": f"t{i}", "description": "d"})
    task = admin.post("/api/v1/tasks", {"title": "done"}).json  # routed to m1? maybe queued
    admin.patch(f"/api/v1/tasks/{task['id']}", {"status": "cancelled"})
    admin.get("/api/v1/tasks/not-there")
    fleet.sweep()  # the job that lists the networks /metrics reports on
    stats = admin.get("/api/v1/tasks/stats").json

    metrics.clear_cache()
    found = families(api.get("/metrics"))
    tasks = found["switchboard_tasks"]
    reported = {s.labels["state"]: s.value for s in samples(tasks, network="net_default")}
    assert reported == {state: float(n) for state, n in stats["by_status"].items()}
    (queued,) = samples(found["switchboard_queue_depth"], network="net_default")
    assert queued.value == stats["by_status"]["pending"]
    (online,) = samples(found["switchboard_nodes_online"], network="net_default")
    assert online.value == 1.0

    requests = found["switchboard_http_requests"]  # the parser drops the _total suffix
    created = samples(requests, dialect="skycetus", route="/api/v1/task/create", method="POST",
                      status="200")
    assert created and created[0].value == 3.0 + created_before(
        dialect="skycetus", route="/api/v1/task/create", method="POST", status="200")
    assert samples(requests, dialect="platform", route="/api/v1/tasks/{task_id}", method="GET",
                   status="404")
    latency = found["switchboard_http_request_duration_seconds"]
    count = samples(latency, route="/api/v1/task/create", method="POST", status="200")
    (observed,) = [s.value for s in count if s.name.endswith("_count")]
    assert observed == created[0].value
    infinite = [s for s in count if s.name.endswith("_bucket") and s.labels["le"] == "+Inf"]
    assert infinite[0].value == observed

    # cached briefly: a new task shows up once the cache has expired
    sky.post("/api/v1/task/create", {"title": "late", "description": "d"})
    again = families(api.get("/metrics"))["switchboard_tasks"]
    assert samples(again, network="net_default", state="pending")[0].value == queued.value
    metrics.clear_cache()
    fresh = families(api.get("/metrics"))["switchboard_tasks"]
    assert samples(fresh, network="net_default", state="pending")[0].value == queued.value + 1


def test_metrics_token(api, settings_env):
    settings_env(SWITCHBOARD_METRICS_TOKEN="scrape-secret")
    assert api.get("/metrics").status_code == 401
    assert api.bearer("wrong").get("/metrics").status_code == 401
    assert api.bearer("scrape-secret").get("/metrics").status_code == 200
    assert api.get("/metrics?token=scrape-secret").status_code == 200


def test_dead_deliveries_and_budget_alerts_through_the_integrations(api, admin, consumers):
    """With issue 16's consumers running: a delivery given up is counted in /metrics, and a
    budget threshold reaches a notification rule on `system.alert` as an in-app notice."""
    from chalicelib.services import events, notifications
    from chalicelib.services.outbound import deliveries, webhooks
    from tests.test_insight import _costly_completion
    from tests.receivers import Receiver
    from tests.waiting import eventually

    notifications.create_rule("net_default", actor="user:ops", recipient="user:ops",
                              name="budget", event_type="system.alert",
                              conditions={"kind": "budget_threshold"})
    admin.put("/api/v1/cost/budget", {"monthly_limit_usd": 1, "alert_thresholds": [50]})
    _costly_completion(admin, 0.6)
    notice = eventually(lambda: notifications.list_notifications("net_default", "user:ops").items)
    assert len(notice) == 1 and "50%" in notice[0].body + notice[0].subject

    with Receiver([503]) as broken:
        dying, _ = webhooks.create_webhook("net_default", actor="user:ops", owner="user:ops",
                                           name="Dying", url=broken.url, events=["gadget.made"],
                                           retry_policy={"max_retries": 0, "backoff_seconds": 1})
        events.publish("net_default", "gadget.made", {"gadget_id": "g1"})
        eventually(lambda: (page := webhooks.list_deliveries("net_default", dying.id)).items and
              page.items[0].status == deliveries.DEAD)
    metrics.clear_cache()
    found = families(api.get("/metrics"))
    (dead,) = samples(found["switchboard_deliveries_dead"], network="net_default")
    assert dead.value == 1.0
    assert samples(found["switchboard_deliveries_pending"])[0].value == 0.0


def test_a_network_without_nodes_is_reported_once_it_has_activity(api, admin, consumers):
    """A network whose only activity is tasks (no node ever registered, no fleet job run)
    appears in /metrics once the events stream has carried its first event, and its
    gauges agree with its own `/tasks/stats`."""
    from tests.waiting import eventually
    ursula = admin.post("/api/auth/register", {"username": "ursula",
                                               "password": "correct-horse-1"}).json
    founder = api.bearer(ursula["token"])
    outpost = founder.post("/api/networks", {"name": "outpost"}).json["network_id"]
    agent = api.bearer(founder.post("/api/tokens", {"name": "agent",
                                                    "network_id": outpost}).json["token"])
    made = [agent.post("/api/v1/tasks", {"title": title}).json for title in ("a", "b", "c")]
    assert agent.patch(f"/api/v1/tasks/{made[0]['id']}", {"status": "cancelled"}).status_code == 200
    stats = agent.get("/api/v1/tasks/stats").json
    assert stats["by_status"]["pending"] == 2 and stats["by_status"]["cancelled"] == 1

    def reported():
        metrics.clear_cache()
        found = families(api.get("/metrics"))
        tasks = samples(found["switchboard_tasks"], network=outpost)
        return tasks and (found, {s.labels["state"]: s.value for s in tasks})

    found, by_state = eventually(reported)
    assert by_state == {state: float(n) for state, n in stats["by_status"].items()}
    assert samples(found["switchboard_queue_depth"], network=outpost)[0].value == 2.0
    assert samples(found["switchboard_nodes"], network=outpost)[0].value == 0.0
