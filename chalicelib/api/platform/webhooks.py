"""Platform /api/v1/webhooks: translation only (services/outbound/webhooks.py).

Any member may manage webhooks, as the peer's operators could. The signing secret is in
the answer to the create (and to a rotation) only; afterwards `secret` is `"***"`, and
header values are masked too (they may carry tokens).
"""
from typing import Annotated

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Input, Name, Text, Word
from chalicelib.api.platform import router
from chalicelib.api.platform.listing import Paging, listing, no_content
from chalicelib.clock import iso
from chalicelib.limits import WEBHOOK_DEFAULT_BACKOFF_S, WEBHOOK_DEFAULT_MAX_RETRIES, WEBHOOK_MAX_RETRIES
from chalicelib.services import notifications
from chalicelib.services.outbound import deliveries, webhooks

Url = Annotated[str, Meta(min_length=1, max_length=2048)]
EventName = Annotated[str, Meta(min_length=1, max_length=100)]
MASK = "***"


class RetryPolicy(Input):
    max_retries: Annotated[int, Meta(ge=0, le=WEBHOOK_MAX_RETRIES)] = WEBHOOK_DEFAULT_MAX_RETRIES
    backoff_seconds: Annotated[float, Meta(ge=1, le=86400)] = WEBHOOK_DEFAULT_BACKOFF_S


class WebhookFields(Input):
    name: Name | None = None
    url: Url | None = None
    events: Annotated[list[EventName], Meta(max_length=100)] | None = None
    description: Text | None = None
    secret: Annotated[str, Meta(min_length=16, max_length=500)] | None = None
    headers: Annotated[dict[str, Annotated[str, Meta(max_length=4000)]], Meta(max_length=20)] | None = None
    is_active: bool | None = None
    retry_policy: RetryPolicy | None = None


class WebhookChange(WebhookFields):
    rotate_secret: bool = False


class DeliveryQuery(Paging):
    status: Word | None = None


def _policy(policy: RetryPolicy | None) -> dict | None:
    return None if policy is None else {"max_retries": policy.max_retries,
                                        "backoff_seconds": policy.backoff_seconds}


def webhook_view(record, secret: str | None = None) -> dict:
    max_attempts, backoff_ms = deliveries.policy(record.retry_policy)
    return {"id": record.id, "name": record.name, "url": record.url, "events": record.events or [],
            "description": record.description, "is_active": bool(record.is_active),
            "secret": secret or MASK, "headers": {name: MASK for name in record.header_names or ()},
            "retry_policy": {"max_retries": max_attempts - 1, "backoff_seconds": backoff_ms / 1000},
            "failure_count": int(record.failure_count or 0),
            "disabled_reason": record.disabled_reason,
            "last_triggered_at": iso(record.last_triggered_at),
            "last_success_at": iso(record.last_success_at),
            "created_by": record.created_by, "created_at": iso(record.created_at),
            "updated_at": iso(record.updated_at)}


def delivery_view(record) -> dict:
    return {"id": record.id, "event": record.event_type, "event_id": record.event_id,
            "status": record.status, "success": record.status == deliveries.SUCCEEDED,
            "attempts": record.attempts or [], "attempt_count": int(record.attempt_count or 0),
            "max_attempts": int(record.max_attempts or 1),
            "next_attempt_at": iso(record.next_attempt_at)
            if record.status in (deliveries.PENDING, deliveries.RETRYING) else None,
            "status_code": record.last_status_code, "error": record.last_error,
            "delivered_at": iso(record.delivered_at), "created_at": iso(record.created_at)}


@router.route("/api/v1/webhooks", query=Paging)
def list_webhooks(req):
    page = webhooks.list_webhooks(req.principal.network_id, **req.params.window())
    return listing(page, webhook_view, req.params)


@router.route("/api/v1/webhooks", methods=["POST"], body=WebhookFields)
def create_webhook(req):
    body = req.body
    record, secret = webhooks.create_webhook(
        req.principal.network_id, actor=req.principal.account_id,
        owner=notifications.recipient_of(req.principal),
        name=body.name, url=body.url, events=body.events, secret=body.secret,
        headers=body.headers, is_active=body.is_active, retry_policy=_policy(body.retry_policy),
        description=body.description)
    return Response(body=webhook_view(record, secret), status_code=201)


@router.route("/api/v1/webhooks/{webhook_id}")
def get_webhook(req, webhook_id):
    return webhook_view(webhooks.get_webhook(req.principal.network_id, webhook_id))


@router.route("/api/v1/webhooks/{webhook_id}", methods=["PUT"], body=WebhookChange)
def update_webhook(req, webhook_id):
    body = req.body
    record, secret = webhooks.update_webhook(
        req.principal.network_id, webhook_id, rotate_secret=body.rotate_secret, name=body.name,
        url=body.url, events=body.events, description=body.description, secret=body.secret,
        headers=body.headers, is_active=body.is_active, retry_policy=_policy(body.retry_policy))
    return webhook_view(record, secret)


@router.route("/api/v1/webhooks/{webhook_id}", methods=["DELETE"])
def delete_webhook(req, webhook_id):
    webhooks.delete_webhook(req.principal.network_id, webhook_id)
    return no_content()


@router.route("/api/v1/webhooks/{webhook_id}/test", methods=["POST"])
def test_webhook(req, webhook_id):
    """One real, signed delivery now. As the peer: 200 whatever the receiver said;
    `delivered` when it answered at all, `failed` when it could not be reached."""
    delivery, outcome = webhooks.test_webhook(req.principal.network_id, webhook_id)
    reached = outcome is not None and outcome.status_code is not None
    view = {"id": delivery.id, "event": webhooks.TEST_EVENT,
            "status_code": outcome.status_code if outcome else None,
            "success": bool(outcome and outcome.ok),
            "latency_ms": outcome.latency_ms if outcome else None,
            "response_body": outcome.excerpt if outcome else "",
            "delivered_at": iso(delivery.updated_at)}
    answer = {"status": "delivered" if reached else "failed", "delivery": view}
    if not reached:
        answer["error"] = delivery.last_error
    return answer


@router.route("/api/v1/webhooks/{webhook_id}/deliveries", query=DeliveryQuery)
def list_deliveries(req, webhook_id):
    query = req.params
    page = webhooks.list_deliveries(req.principal.network_id, webhook_id, status=query.status,
                                    **query.window())
    return listing(page, delivery_view, query)
