"""Platform /api/v1/circuit-breakers (administrators only): translation only
(services/outbound/breakers.py). A breaker guards one target host (`host:port`, `ses`)."""
from typing import Annotated

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Id, Input
from chalicelib.api.platform import router
from chalicelib.api.platform.listing import Paging, listing
from chalicelib.api.routing import ADMIN
from chalicelib.clock import iso
from chalicelib.limits import BREAKER_LIMITS
from chalicelib.services.outbound import breakers


def _limit(field: str):
    low, high = BREAKER_LIMITS[field]
    return Annotated[int, Meta(ge=low, le=high)] | None


class BreakerConfig(Input):
    name: Id
    failure_threshold: _limit("failure_threshold") = None
    recovery_timeout: _limit("recovery_timeout_s") = None
    success_threshold: _limit("success_threshold") = None
    window_seconds: _limit("window_s") = None


def breaker_view(record) -> dict:
    successes, failures = int(record.total_successes or 0), int(record.total_failures or 0)
    return {"service": record.name, "name": record.name, "state": record.state or breakers.CLOSED,
            "forced": record.forced, "failure_count": int(record.failure_count or 0),
            "total_successes": successes, "total_failures": failures,
            "success_rate": round(successes / (successes + failures), 4)
            if successes + failures else None,
            "last_failure": iso(record.last_failure_at), "last_success": iso(record.last_success_at),
            "last_error": record.last_error, "opened_at": iso(record.opened_at),
            "open_until": iso(record.open_until) if record.state == breakers.OPEN else None,
            "config": {"failure_threshold": breakers.setting(record, "failure_threshold"),
                       "recovery_timeout": breakers.setting(record, "recovery_timeout_s"),
                       "success_threshold": breakers.setting(record, "success_threshold"),
                       "window_seconds": breakers.setting(record, "window_s")},
            "created_at": iso(record.created_at), "updated_at": iso(record.updated_at)}


@router.route("/api/v1/circuit-breakers", auth=ADMIN, query=Paging)
def list_breakers(req):
    page = breakers.list_breakers(req.principal.network_id, **req.params.window())
    return listing(page, breaker_view, req.params)


@router.route("/api/v1/circuit-breakers", methods=["POST"], auth=ADMIN, body=BreakerConfig)
def configure(req):
    """Create a breaker or change its thresholds: 201 when it is new."""
    body = req.body
    existed = breakers.get(req.principal.network_id, body.name) is not None
    record = breakers.configure(req.principal.network_id, body.name,
                                failure_threshold=body.failure_threshold,
                                recovery_timeout_s=body.recovery_timeout,
                                success_threshold=body.success_threshold,
                                window_s=body.window_seconds)
    return Response(body=breaker_view(record), status_code=200 if existed else 201)


def _operated(record, message: str) -> dict:
    return {"service": record.name, "state": record.state, "message": message,
            "breaker": breaker_view(record)}


@router.route("/api/v1/circuit-breakers/{name}/force-open", methods=["POST"], auth=ADMIN)
def force_open(req, name):
    return _operated(breakers.force_open(req.principal.network_id, name), "circuit forced open")


@router.route("/api/v1/circuit-breakers/{name}/force-close", methods=["POST"], auth=ADMIN)
def force_close(req, name):
    return _operated(breakers.force_close(req.principal.network_id, name), "circuit forced closed")


@router.route("/api/v1/circuit-breakers/{name}/reset", methods=["POST"], auth=ADMIN)
def reset(req, name):
    return _operated(breakers.reset(req.principal.network_id, name), "circuit reset")
