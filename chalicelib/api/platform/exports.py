"""Platform /api/v1/exports/{format}?type=: tasks, agents or analytics as json, csv or xlsx.

Rows carry the platform's own field names (the views its other routes answer with);
rendering and delivery are services/insight/exports.py. An export too large to answer
inline is a 302 to a presigned S3 URL, with `{url, filename, ...}` in the body, as large
file downloads are.
"""
from typing import Annotated, Literal

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Input
from chalicelib.api.platform import router
from chalicelib.api.platform.agents import agent_view
from chalicelib.api.platform.tasks import task_view
from chalicelib.api.transfer import FileResponse
from chalicelib.errors import FieldError, ValidationFailed
from chalicelib.limits import ANALYTICS_MAX_DAYS
from chalicelib.services import tasks
from chalicelib.services.insight import analytics

FORMATS = ("json", "csv", "xlsx")
PAGE = 500
AGENT_COUNTS = ("tasks_completed", "tasks_failed", "total_tasks", "success_rate",
                "avg_completion_seconds", "total_cost_usd", "total_tokens")


class ExportQuery(Input):
    type: Literal["tasks", "agents", "analytics"] = "tasks"
    limit: Annotated[int, Meta(ge=1, le=100_000)] = 10_000   # tasks, newest first
    days: Annotated[int, Meta(ge=1, le=ANALYTICS_MAX_DAYS)] = 30  # analytics


def _task_rows(network_id: str, limit: int) -> list[dict]:
    rows, cursor = [], None
    while len(rows) < limit:
        found, cursor = tasks.list_tasks(network_id, limit=min(PAGE, limit - len(rows)),
                                         cursor=cursor)
        rows.extend(task_view(t) for t in found)
        if cursor is None:
            return rows
    return rows


def _tables(network_id: str, query: ExportQuery) -> dict[str, list[dict]]:
    if query.type == "tasks":
        return {"tasks": _task_rows(network_id, query.limit)}
    if query.type == "agents":  # their configuration, with the counters of their work
        totals, rows = analytics.agent_counters(network_id), []
        for agent in analytics.all_agents(network_id):
            counts = totals.get(agent.id, {})
            work = analytics.agent_view(agent.id, counts, agent)
            rows.append({**agent_view(agent, counts), **{k: work[k] for k in AGENT_COUNTS}})
        return {"agents": rows}
    overview = analytics.overview(network_id, query.days)
    summary = {k: v for k, v in overview["tasks"].items() if not isinstance(v, dict)}
    return {"timeline": analytics.timeline(network_id, query.days),
            "summary": [{"period_days": query.days, "from": overview["from"], "to": overview["to"],
                         **summary, "messages": overview["messages"]["total"],
                         "files": overview["files"]["total"],
                         "cost_usd": overview["cost"]["total_usd"]}]}


@router.route("/api/v1/exports/{format}", query=ExportQuery)
def export(req, format):
    if format not in FORMATS:
        message = (f"Input should be an allowed value: one of {', '.join(map(repr, FORMATS))} "
                   f"(got {format[:20]!r})")
        raise ValidationFailed("format", message,
                               errors=[FieldError(("path", "format"), message, "enum")])
    from chalicelib.services.insight import exports  # csv, and openpyxl for xlsx, only here
    network_id = req.principal.network_id
    rendered = exports.render(req.params.type, format, _tables(network_id, req.params))
    elsewhere = exports.deliver(network_id, rendered)
    if elsewhere is not None:
        return Response(body=elsewhere, status_code=302,
                        headers={"Location": elsewhere["url"], "Cache-Control": "no-store"})
    return FileResponse(rendered.body, rendered.content_type, headers={
        "Content-Disposition": rendered.disposition, "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store"})
