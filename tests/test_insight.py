"""Analytics and cost, read from counters kept in the transaction of each change: what
the platform's analytics and cost routes answer after real work through several dialects,
how LLM usage and call credits become cost, and a budget whose thresholds notify once."""
import threading

import pytest

from chalicelib.services import tasks
from chalicelib.services.insight import analytics, cost
from chalicelib.store.insight import day_pk, read_prefix
from tests.test_calls import Nodes

NET = "net_default"


@pytest.fixture
def clock(monkeypatch):
    """The task service's clock, moved by the test (epoch ms)."""
    now = {"ms": tasks.now_ms()}
    monkeypatch.setattr(tasks, "now_ms", lambda: now["ms"])
    return now


def test_overview_and_timeline_count_every_move_through_every_dialect(admin, sky, clock):
    sky.post("/api/v1/node/register", {"node_id": "w1", "name": "w1"})
    admin.post("/api/v1/workers/register", {"id": "w2", "name": "w2", "max_agents": 30})
    admin.patch("/api/v1/admin/workers/w2/approve", {"is_approved": True})
    started = clock["ms"]
    done = []
    for i in range(20):  # platform tasks, run by w2 for 3, 6, ... 60 seconds
        task = admin.post("/api/v1/tasks", {"title": f"t{i}", "priority": "high",
                                            "worker_id": "w2"}).json
        clock["ms"] = started
        admin.patch(f"/api/v1/tasks/{task['id']}", {"status": "running", "worker_id": "w2"})
        clock["ms"] = started + (i + 1) * 3000
        done.append(admin.patch(f"/api/v1/tasks/{task['id']}",
                                {"status": "completed", "worker_id": "w2", "result": {}}))
    assert all(r.status_code == 200 for r in done)
    # SkyCetus: one failed for good by an operator, one cancelled while queued
    sky_task = sky.post("/api/v1/task/create", {"title": "sky", "description": "d",
                                                  "priority": "low"}).json["task_id"]
    admin.patch(f"/api/v1/tasks/{sky_task}", {"status": "failed", "error": "no"})
    queued = tasks.create(_principal(), title="q", source="test", route=False)[0]
    tasks.cancel(NET, queued.task_id, actor="test")
    sky.post("/api/v1/message/send", {"from_node": "w1", "to_node": "w2", "content": "hello"})
    admin.post("/api/v1/messages/send", {"sender_agent_id": "w2", "recipient_agent_id": "w1",
                                         "body": "hi"})

    overview = admin.get("/api/v1/analytics/overview?days=30").json
    counted = overview["tasks"]
    assert (counted["total"], counted["completed"], counted["failed"]) == (22, 20, 1)
    assert counted["success_rate"] == round(20 / 22 * 100, 1)
    assert counted["avg_completion_seconds"] == 31.5
    # the histogram puts 3, 6, 9 s under 10 s, 12-30 s under 30 s, 33-60 s under 60 s:
    # interpolated, the median is 30 s and the 95th percentile 57 s
    assert (counted["p50_completion_seconds"], counted["p95_completion_seconds"]) == (30.0, 57.0)
    assert counted["by_priority"]["high"] == {"created": 20, "completed": 20, "failed": 0}
    assert counted["by_priority"]["low"] == {"created": 1, "completed": 0, "failed": 1}
    assert counted["by_status"]["cancelled"] == 1
    assert overview["messages"] == {"total": 2}
    assert admin.get("/api/v1/analytics/overview").json["period_days"] == 7

    timeline = admin.get("/api/v1/analytics/tasks/timeline?days=3").json
    assert [(d["total"], d["completed"], d["failed"]) for d in timeline] == [(22, 20, 1)]
    stats = admin.get("/api/v1/tasks/stats").json
    assert stats["by_status"]["completed"] == 20 and stats["by_status"]["failed"] == 1
    assert stats["today"] == 22 and stats["total"] == 22
    # w2's completions are its own: utilization shows them beside its heartbeat
    admin.post("/api/v1/workers/w2/heartbeat", {"cpu_usage_percent": 42.5})
    fleet = {w["id"]: w for w in admin.get("/api/v1/analytics/workers/utilization").json}
    assert fleet["w2"]["tasks_completed_today"] == 20 and fleet["w2"]["cpu_percent"] == 42.5
    assert fleet["w1"]["tasks_completed_today"] == 0
    for path in ("/api/v1/analytics/overview?days=0", "/api/v1/analytics/tasks/timeline?days=366"):
        refused = admin.get(path)
        assert refused.status_code == 422 and refused.json["error_code"] == "VAL_001"


def _principal():
    from chalicelib.services import identity
    from tests.conftest import ADMIN_TOKEN
    return identity.resolve_secret(ADMIN_TOKEN)


def test_files_count_when_their_bytes_are_there(admin):
    admin.call("POST", "/api/v1/files/upload", raw=_multipart(b"12345"),
               headers={"Content-Type": "multipart/form-data; boundary=b"})
    pending = admin.post("/api/v1/files/upload-url", {"filename": "big.bin", "size": 3}).json
    assert admin.get("/api/v1/analytics/overview").json["files"] == {"total": 1,
                                                                     "total_size_bytes": 5}
    import boto3
    from chalicelib.config import settings
    from chalicelib.services.files import object_key
    boto3.client("s3").put_object(Bucket=settings().files_bucket,
                                  Key=object_key(NET, pending["file_id"]), Body=b"abc")
    admin.post(f"/api/v1/files/{pending['file_id']}/complete")
    admin.post(f"/api/v1/files/{pending['file_id']}/complete")  # again: counted once
    assert admin.get("/api/v1/analytics/overview").json["files"] == {"total": 2,
                                                                     "total_size_bytes": 8}


def _multipart(data: bytes) -> bytes:
    return (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\n" + data + b"\r\n--b--\r\n")


def test_usage_in_results_and_call_credits_become_cost(admin, sky, settings_env, monkeypatch):
    settings_env(SWITCHBOARD_CREDIT_USD="0.01")
    admin.post("/api/v1/workers/register", {"id": "w", "name": "w", "max_agents": 10})
    admin.patch("/api/v1/admin/workers/w/approve", {"is_approved": True})
    agent_a, agent_b = (admin.post("/api/v1/agents", {"name": name, "worker_id": "w",
                                                      "llm_provider": "anthropic"}).json["id"]
                        for name in ("writer", "coder"))

    def finish(result, agent=None):
        task = admin.post("/api/v1/tasks", {"title": "llm", "worker_id": "w",
                                            **({"agent_id": agent} if agent else {})}).json
        answer = admin.patch(f"/api/v1/tasks/{task['id']}",
                             {"status": "completed", "worker_id": "w", "result": result})
        assert answer.status_code == 200, answer.json

    # the platform worker's shapes: a usage object, a list of calls, flat fields
    finish({"output": "a", "usage": {"provider": "anthropic", "model": "claude-sonnet-4-20250514",
                                     "input_tokens": 1000, "output_tokens": 1000}}, agent=agent_a)
    finish({"usage": [{"model": "gpt-4o", "prompt_tokens": 2000, "completion_tokens": 0},
                      {"model": "gpt-4o", "prompt_tokens": 0, "completion_tokens": 1000,
                       "cost_usd": 0.02}]}, agent=agent_b)
    finish({"content": "x", "llm_provider": "ollama", "llm_model": "llama3.2",
            "tokens_used": 500, "cost_usd": "0.5"}, agent=agent_a)
    finish({"output": "no usage here"})
    finish({"usage": {"model": "gpt-4o", "prompt_tokens": "lots"}})  # unreadable: ignored
    # a GemmaNet node reports usage in TASK_RESULT; a synchronous call costs its credits
    settings_env(SWITCHBOARD_CREDIT_USD="0.01", SWITCHBOARD_OPEN_DIALECTS="gemmanet")
    from chalicelib.push import sockets
    fleet = Nodes()
    monkeypatch.setattr(sockets, "send", fleet.send)
    fleet.connect("gem", "summarize", lambda payload: None)
    gem_task = tasks.create(_principal(), title="sum", source="gemmanet", task_type="summarize")[0]
    fleet.frame("conn-gem", "task_result", {
        "task_id": gem_task.task_id, "status": "completed", "result": "ok",
        "usage": {"model": "gemma-2b", "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.001}})
    fleet.connect("echo", "echo", lambda payload: ("completed", "pong"))
    called = admin.post("/api/v1/request", {"task_type": "echo", "content": "ping"})
    assert called.status_code == 200 and called.json["status"] == "completed"

    providers = {(i["provider"], i["model"]): i for i in
                 admin.get("/api/v1/cost/by-provider?days=1").json["items"]}
    assert providers[("anthropic", "claude-sonnet-4-20250514")]["total_cost"] == 0.018
    gpt = providers[("openai", "gpt-4o")]  # 2000 priced in at $0.005/1K, the rest as reported
    assert (gpt["total_cost"], gpt["total_input_tokens"], gpt["total_output_tokens"],
            gpt["request_count"]) == (0.03, 2000, 1000, 1)
    assert providers[("ollama", "llama3.2")]["total_input_tokens"] == 500
    assert providers[("google", "gemma-2b")]["total_cost"] == 0.001
    assert providers[("hub", "echo")]["credits"] == 10 and \
        providers[("hub", "echo")]["total_cost"] == 0.1
    assert len(providers) == 5
    by_agent = {i["agent_id"]: i for i in admin.get("/api/v1/cost/by-agent").json["items"]}
    assert by_agent[agent_a]["total_cost"] == 0.518 and by_agent[agent_b]["total_cost"] == 0.03
    daily = admin.get("/api/v1/cost/daily?days=7").json
    (today,) = daily["items"]
    assert today["total_cost"] == 0.649 and today["request_count"] == 5
    assert set(today["by_provider"]) == {"anthropic", "openai", "ollama", "google", "hub"}
    summary = admin.get("/api/v1/cost/summary").json
    assert summary["total_30_days"] == 0.649 and summary["days_with_data"] == 1
    assert summary["budget"] == {"has_budget": False, "current_spend": 0.649,
                                 "month_start": summary["budget"]["month_start"]}
    agents = {a["id"]: a for a in admin.get("/api/v1/analytics/agents").json}
    assert agents[agent_a]["name"] == "writer" and agents[agent_a]["llm_provider"] == "anthropic"
    assert agents[agent_a]["tasks_completed"] == 2 and agents[agent_a]["total_tasks"] == 2
    assert agents[agent_a]["total_cost_usd"] == 0.518 and agents[agent_b]["tasks_completed"] == 1
    assert admin.get("/api/v1/analytics/overview").json["cost"]["credits"] == 10


def test_an_agents_work_shows_on_the_agent_as_in_analytics(admin):
    """`/agents` reads the same counters as `/analytics/agents`: tasks for the agent that
    complete or fail show on its list entry, its get and what start/stop answer."""
    admin.post("/api/v1/workers/register", {"id": "w", "name": "w", "max_agents": 10})
    admin.patch("/api/v1/admin/workers/w/approve", {"is_approved": True})
    made = admin.post("/api/v1/agents", {"name": "writer", "worker_id": "w"})
    assert made.json["tasks_completed"] == 0 and made.json["tasks_failed"] == 0
    agent_id = made.json["id"]
    idle = admin.post("/api/v1/agents", {"name": "idle"}).json["id"]
    for outcome in ("completed", "completed", "failed"):
        task = admin.post("/api/v1/tasks", {"title": "work", "worker_id": "w",
                                            "agent_id": agent_id}).json
        moved = admin.patch(f"/api/v1/tasks/{task['id']}", {
            "status": outcome, "worker_id": "w", "result": {"output": "x"}})
        assert moved.status_code == 200, moved.json

    work = {a["id"]: a for a in admin.get("/api/v1/analytics/agents").json}[agent_id]
    assert (work["tasks_completed"], work["tasks_failed"]) == (2, 1)
    listed = {a["id"]: a for a in admin.get("/api/v1/agents").json["items"]}
    shown = [listed[agent_id], admin.get(f"/api/v1/agents/{agent_id}").json,
             admin.patch(f"/api/v1/agents/{agent_id}", {"description": "d"}).json,
             admin.post(f"/api/v1/agents/{agent_id}/stop").json]
    assert all((a["tasks_completed"], a["tasks_failed"]) == (2, 1) for a in shown), shown
    assert (listed[idle]["tasks_completed"], listed[idle]["tasks_failed"]) == (0, 0)


def _costly_completion(admin, usd: float) -> None:
    """A task completed with a result that says what its LLM calls cost."""
    task = admin.post("/api/v1/tasks", {"title": "llm"}).json
    done = admin.patch(f"/api/v1/tasks/{task['id']}", {"status": "completed", "result": {
        "usage": {"model": "gpt-4o", "cost_usd": usd}}})
    assert done.status_code == 200, done.json


def test_budget_thresholds_notify_once_per_threshold_per_month(admin, api):
    member = api.as_(**{"X-Matrix-Secret": "test-shared-secret"})
    assert member.put("/api/v1/cost/budget", {"monthly_limit_usd": 1}).status_code == 403
    assert admin.put("/api/v1/cost/budget", {}).json["details"]["errors"][0]["field"] == \
        "body -> monthly_limit_usd"
    assert admin.put("/api/v1/cost/budget", {"monthly_limit_usd": -1}).status_code == 422
    saved = admin.put("/api/v1/cost/budget", {"monthly_limit_usd": 1,
                                              "alert_thresholds": [50, 80, 100]})
    assert saved.status_code == 200 and saved.json["alert_thresholds"] == [50, 80, 100]
    now = tasks.now_ms()

    for amount in (0.3, 0.3, 0.3, 0.05):  # 60 % (past 50), 90 % (past 80), 95 %
        _costly_completion(admin, amount)
    assert sorted(a["threshold"] for a in _alerts_in_the_log()) == [50, 80]
    # twenty completions at once take it from 95 % to 115 %: 100 % is notified once
    # (through the service: the chalice test client swaps os.environ, so one thread only)
    made = [admin.post("/api/v1/tasks", {"title": f"llm {i}"}).json["id"] for i in range(20)]
    writers = [threading.Thread(target=tasks.complete, args=(NET, task_id), kwargs={
        "node_id": None, "actor": "user:worker",
        "result": {"usage": {"model": "gpt-4o", "cost_usd": 0.01}}}) for task_id in made]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert sorted(a["threshold"] for a in _alerts_in_the_log()) == [50, 80, 100]
    budget = admin.get("/api/v1/cost/budget").json
    assert budget["has_budget"] and budget["percent_used"] == 115.0 and budget["is_over_budget"]
    assert budget["current_spend"] == admin.get("/api/v1/cost/summary").json["total_30_days"]
    # setting the budget again (even lower) re-notifies nothing this month
    admin.put("/api/v1/cost/budget", {"monthly_limit_usd": 0.5, "alert_thresholds": [50, 80, 100]})
    assert sorted(a["threshold"] for a in _alerts_in_the_log()) == [50, 80, 100]
    # a new threshold already passed is notified when it is set
    admin.put("/api/v1/cost/budget", {"monthly_limit_usd": 0.5, "alert_thresholds": [50, 200]})
    assert sorted(a["threshold"] for a in _alerts_in_the_log()) == [50, 80, 100, 200]
    assert sorted(a["threshold"] for a in cost.alerts(NET, cost.month_of(now))) == [50, 80, 100, 200]


def test_the_month_spend_is_counted_with_the_cost_even_if_the_check_after_it_dies(admin,
                                                                                 monkeypatch):
    """The month's spend is written in the completion's own transaction: a process that
    stops right after the commit (before the budget check) loses no spend, and the next
    costly completion notifies the threshold the lost check would have."""
    admin.put("/api/v1/cost/budget", {"monthly_limit_usd": 1, "alert_thresholds": [50, 100]})
    real_check = cost.check_budget

    def stopped(network_id, at_ms):
        raise SystemExit("the process stopped after the commit")

    monkeypatch.setattr(cost, "check_budget", stopped)
    with pytest.raises(SystemExit):
        _costly_completion(admin, 0.6)
    budget = admin.get("/api/v1/cost/budget").json
    assert budget["current_spend"] == 0.6 and budget["percent_used"] == 60.0
    assert _alerts_in_the_log() == []

    monkeypatch.setattr(cost, "check_budget", real_check)
    _costly_completion(admin, 0.1)  # 70 %: crosses nothing itself
    assert [a["threshold"] for a in _alerts_in_the_log()] == [50]
    assert admin.get("/api/v1/cost/budget").json["current_spend"] == 0.7


def _alerts_in_the_log():
    """Every `system.alert` in the network's event log (what /ws subscribers are sent and
    notification rules match), read directly: the newest are within the settle window."""
    from chalicelib.store.events import EventRecord
    return [e.data for e in EventRecord.query(f"NET#{NET}", consistent_read=True)
            if e.type == "system.alert"]


def test_counters_live_in_day_items_not_beside_the_tasks(admin):
    admin.post("/api/v1/tasks", {"title": "one"})
    today = analytics.period(1)[1]
    items = read_prefix(day_pk(NET), f"{today}#")
    assert sum(i.get("created", 0) for i in items) == 1
    assert all(i["sk"].startswith(f"{today}#S#") for i in items)  # no node: a shard


def test_quantiles_interpolate_within_buckets():
    assert analytics.quantile({}, 0.5) is None
    assert analytics.quantile({"dur_b00": 4}, 0.5) == 0.05           # 0 .. 0.1 s
    assert analytics.quantile({"dur_b02": 1, "dur_b14": 1}, 0.95) == 10800.0  # beyond the last
    assert analytics.quantile({"dur_b06": 10}, 0.5) == 20.0          # 10 .. 30 s


def test_exports_in_three_formats_inline_or_through_s3(admin, settings_env):
    import csv
    import io
    import json
    from datetime import datetime

    import openpyxl
    import requests

    hostile = "=HYPERLINK(\"http://x\")"
    for title in (hostile, "plain, with \"quotes\"\nand a line", "+1", "-2", "@SUM(A1)", "ok"):
        admin.post("/api/v1/tasks", {"title": title, "description": "d"})
    stamp = datetime.utcnow().strftime("%Y%m%d")

    as_json = admin.get("/api/v1/exports/json?type=tasks")
    assert as_json.headers["Content-Type"] == "application/json"
    assert as_json.headers["Content-Disposition"] == f'attachment; filename="tasks-{stamp}.json"'
    envelope = json.loads(as_json.body)
    assert envelope["export_type"] == "tasks" and envelope["count"] == 6
    assert {t["title"] for t in envelope["data"]} >= {hostile, "ok"}

    as_csv = admin.get("/api/v1/exports/csv?type=tasks")
    assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["Content-Disposition"] == f'attachment; filename="tasks-{stamp}.csv"'
    text = as_csv.body.decode() if isinstance(as_csv.body, bytes) else as_csv.body
    assert text.split("\r\n", 1)[0].startswith("id,title,description,instructions,status")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    titles = {r["title"] for r in rows}
    assert titles == {"'" + hostile, "plain, with \"quotes\"\nand a line", "'+1", "'-2",
                      "'@SUM(A1)", "ok"}
    assert '"plain, with ""quotes""\nand a line"' in text           # RFC 4180 quoting
    assert all(r["attempts"] == "0" and r["required_tools"] == "[]" for r in rows)

    as_xlsx = admin.get("/api/v1/exports/xlsx?type=tasks")
    assert as_xlsx.headers["Content-Disposition"] == f'attachment; filename="tasks-{stamp}.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.body))["tasks"]
    header = [c.value for c in sheet[1]]
    cells = {row[header.index("title")].value: row for row in sheet.iter_rows(min_row=2)}
    formula_cell = cells[hostile][header.index("title")]
    assert formula_cell.data_type == "s"                                 # text, not a formula
    assert cells["ok"][header.index("attempts")].value == 0              # a number cell
    assert isinstance(cells["ok"][header.index("created_at")].value, datetime)

    analytics_xlsx = openpyxl.load_workbook(io.BytesIO(
        admin.get("/api/v1/exports/xlsx?type=analytics&days=7").body))
    assert analytics_xlsx.sheetnames == ["timeline", "summary"]
    assert analytics_xlsx["summary"]["A2"].value == 7
    admin.post("/api/v1/agents", {"name": "=cmd|' /C calc'!A0", "role": "writer"})
    agents_csv = admin.get("/api/v1/exports/csv?type=agents")
    (agent,) = csv.DictReader(io.StringIO(agents_csv.body.decode(), newline=""))
    assert agent["name"] == "'=cmd|' /C calc'!A0" and agent["role"] == "writer"
    assert agent["tasks_completed"] == "0" and agent["llm_model"] == "claude-sonnet-4-20250514"

    bad_format = admin.get("/api/v1/exports/pdf?type=tasks")
    assert bad_format.status_code == 422
    assert "one of 'json', 'csv', 'xlsx'" in bad_format.json["details"]["errors"][0]["message"]
    assert bad_format.json["details"]["errors"][0]["field"] == "path -> format"
    bad_type = admin.get("/api/v1/exports/csv?type=secrets")
    assert bad_type.status_code == 422
    assert "one of 'agents', 'analytics', 'tasks'" in bad_type.json["details"]["errors"][0]["message"]

    settings_env(SWITCHBOARD_EXPORTS_INLINE_MAX="200")
    large = admin.get("/api/v1/exports/csv?type=tasks")
    assert large.status_code == 302 and large.json["filename"] == f"tasks-{stamp}.csv"
    assert large.headers["Location"] == large.json["url"]
    import boto3
    from urllib.parse import urlparse
    key = urlparse(large.json["url"]).path.split("/", 2)[2]
    from chalicelib.config import settings
    stored = boto3.client("s3").get_object(Bucket=settings().files_bucket, Key=key)
    assert stored["Body"].read().decode() == text
    assert stored["ContentDisposition"] == f'attachment; filename="tasks-{stamp}.csv"'
    assert "X-Amz-Signature" in large.json["url"] and requests  # presigned
