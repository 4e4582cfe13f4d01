"""Platform /api/v1/analytics and /api/v1/cost: translation only (services/insight/).

Reads are open to any member; setting the budget needs an administrator. Lists the
platform returns bare (agents, timeline, utilization) stay bare arrays.
"""
from typing import Annotated

from msgspec import Meta

from chalicelib.api.inputs import Input
from chalicelib.api.platform import router
from chalicelib.api.routing import ADMIN
from chalicelib.errors import require
from chalicelib.limits import ANALYTICS_MAX_DAYS
from chalicelib.services.insight import analytics, cost

Days = Annotated[int, Meta(ge=1, le=ANALYTICS_MAX_DAYS)]
Threshold = Annotated[float, Meta(gt=0, le=1000)]


class Period(Input):
    days: Days = 30


class OverviewPeriod(Input):
    days: Days = 7


class Budget(Input):
    """`monthly_limit_usd` (the platform's name) or `monthly_limit`; thresholds in percent."""
    monthly_limit_usd: Annotated[float, Meta(ge=0, le=10**9)] | None = None
    monthly_limit: Annotated[float, Meta(ge=0, le=10**9)] | None = None
    alert_thresholds: Annotated[list[Threshold], Meta(max_length=20)] | None = None


@router.route("/api/v1/analytics/overview", query=OverviewPeriod)
def overview(req):
    return analytics.overview(req.principal.network_id, req.params.days)


@router.route("/api/v1/analytics/agents", query=Period)
def agents(req):
    return analytics.agents(req.principal.network_id)


@router.route("/api/v1/analytics/tasks/timeline", query=Period)
def timeline(req):
    return analytics.timeline(req.principal.network_id, req.params.days)


@router.route("/api/v1/analytics/workers/utilization")
def utilization(req):
    return analytics.utilization(req.principal.network_id)


@router.route("/api/v1/cost/summary")
def cost_summary(req):
    return analytics.cost_summary(req.principal.network_id)


@router.route("/api/v1/cost/daily", query=Period)
def cost_daily(req):
    return analytics.cost_daily(req.principal.network_id, req.params.days)


@router.route("/api/v1/cost/by-agent", query=Period)
def cost_by_agent(req):
    return analytics.cost_by_agent(req.principal.network_id, req.params.days)


@router.route("/api/v1/cost/by-provider", query=Period)
def cost_by_provider(req):
    return analytics.cost_by_provider(req.principal.network_id, req.params.days)


@router.route("/api/v1/cost/budget")
def get_budget(req):
    return cost.budget_view(req.principal.network_id)


@router.route("/api/v1/cost/budget", methods=["PUT"], auth=ADMIN, body=Budget)
def put_budget(req):
    body = req.body
    limit = require(body.monthly_limit_usd if body.monthly_limit_usd is not None
                    else body.monthly_limit, "monthly_limit_usd")
    return cost.set_budget(req.principal.network_id, monthly_limit_usd=limit,
                           alert_thresholds=body.alert_thresholds,
                           actor=req.principal.account_id)
