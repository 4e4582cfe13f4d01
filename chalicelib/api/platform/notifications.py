"""Platform /api/v1/notifications: translation only (services/notifications.py for the
inbox and rules, services/outbound/channels.py for channels).

Everyone reads their own inbox; channels and rules are for administrators. Channel tokens
are listed masked.
"""
from typing import Annotated, Any, Literal

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Id, Input, Line, Name, Object
from chalicelib.api.platform import router
from chalicelib.api.platform.listing import Paging, listing, no_content
from chalicelib.api.routing import ADMIN
from chalicelib.clock import iso
from chalicelib.services import notifications
from chalicelib.services.outbound import channels

Severity = Literal["info", "warning", "error", "critical"]
ChannelType = Literal["email", "slack", "webhook", "telegram"]
ChannelConfig = Annotated[dict[str, Any], Meta(max_length=20)]


class InboxQuery(Paging):
    unread: bool | None = None
    severity: Severity | None = None


class NewChannel(Input):
    name: Name
    type: ChannelType
    config: ChannelConfig | None = None
    is_active: bool | None = None


class ChannelChange(Input):
    name: Name | None = None
    config: ChannelConfig | None = None
    is_active: bool | None = None


class RuleFields(Input):
    name: Name | None = None
    event_type: Annotated[str, Meta(min_length=1, max_length=100)] | None = None
    conditions: Object | None = None
    channel: Id | None = None
    channel_ids: Annotated[list[Id], Meta(max_length=20)] | None = None
    recipients: Annotated[list[Id], Meta(max_length=100)] | None = None
    in_app: bool | None = None
    severity: Severity | None = None
    template: Line | None = None
    is_active: bool | None = None


def _rule_fields(body: RuleFields) -> dict:
    return {name: getattr(body, name) for name in body.__struct_fields__}


def channel_view(record) -> dict:
    return {"id": record.id, "name": record.name, "type": record.channel_type,
            "config": channels.masked_config(record), "is_active": bool(record.is_active),
            "created_by": record.created_by, "created_at": iso(record.created_at),
            "updated_at": iso(record.updated_at)}


def rule_view(record) -> dict:
    channel_ids = record.channel_ids or []
    return {"id": record.id, "name": record.name, "event_type": record.event_type,
            "conditions": record.conditions or {},
            "channel": channel_ids[0] if len(channel_ids) == 1 else "in_app" if not channel_ids
            else None, "channel_ids": channel_ids, "in_app": bool(record.in_app),
            "recipients": record.recipients or [], "severity": record.severity,
            "template": record.template, "is_active": bool(record.is_active),
            "created_by": record.created_by, "created_at": iso(record.created_at),
            "updated_at": iso(record.updated_at)}


# --------------------------------------------------------------------------- inbox


def _me(req) -> str:
    """The caller as a notification recipient."""
    return notifications.recipient_of(req.principal)


@router.route("/api/v1/notifications", query=InboxQuery)
def list_notifications(req):
    query = req.params
    page = notifications.list_notifications(req.principal.network_id, _me(req), unread=query.unread,
                                            severity=query.severity, **query.window())
    return listing(page, notifications.view, query)


@router.route("/api/v1/notifications/unread-count")
def unread_count(req):
    count = notifications.unread_count(req.principal.network_id, _me(req))
    return {"unread_count": count, "count": count}


@router.route("/api/v1/notifications/{notification_id}/read", methods=["PUT"])
def mark_read(req, notification_id):
    record = notifications.mark_read(req.principal.network_id, _me(req), notification_id)
    return {"id": notifications.public_id(record), "is_read": True, "read_at": iso(record.read_at)}


@router.route("/api/v1/notifications/read-all", methods=["PUT"])
def mark_all_read(req):
    return {"marked_count": notifications.mark_all_read(req.principal.network_id, _me(req))}


# --------------------------------------------------------------------------- channels


@router.route("/api/v1/notifications/channels", auth=ADMIN, query=Paging)
def list_channels(req):
    page = channels.list_channels(req.principal.network_id, **req.params.window())
    return listing(page, channel_view, req.params)


@router.route("/api/v1/notifications/channels", methods=["POST"], auth=ADMIN, body=NewChannel)
def create_channel(req):
    body = req.body
    record = channels.create_channel(req.principal.network_id, actor=req.principal.account_id,
                                     name=body.name, type=body.type, config=body.config,
                                     is_active=body.is_active)
    return Response(body=channel_view(record), status_code=201)


@router.route("/api/v1/notifications/channels/{channel_id}", methods=["PUT"], auth=ADMIN,
              body=ChannelChange)
def update_channel(req, channel_id):
    body = req.body
    return channel_view(channels.update_channel(req.principal.network_id, channel_id,
                                                name=body.name, config=body.config,
                                                is_active=body.is_active))


@router.route("/api/v1/notifications/channels/{channel_id}", methods=["DELETE"], auth=ADMIN)
def delete_channel(req, channel_id):
    channels.delete_channel(req.principal.network_id, channel_id)
    return no_content()


# --------------------------------------------------------------------------- rules


@router.route("/api/v1/notifications/rules", auth=ADMIN, query=Paging)
def list_rules(req):
    page = notifications.list_rules(req.principal.network_id, **req.params.window())
    return listing(page, rule_view, req.params)


@router.route("/api/v1/notifications/rules", methods=["POST"], auth=ADMIN, body=RuleFields)
def create_rule(req):
    record = notifications.create_rule(req.principal.network_id, actor=req.principal.account_id,
                                       recipient=_me(req),
                                       **_rule_fields(req.body))
    return Response(body=rule_view(record), status_code=201)


@router.route("/api/v1/notifications/rules/{rule_id}", methods=["PUT"], auth=ADMIN,
              body=RuleFields)
def update_rule(req, rule_id):
    return rule_view(notifications.update_rule(req.principal.network_id, rule_id,
                                               **_rule_fields(req.body)))


@router.route("/api/v1/notifications/rules/{rule_id}", methods=["DELETE"], auth=ADMIN)
def delete_rule(req, rule_id):
    notifications.delete_rule(req.principal.network_id, rule_id)
    return no_content()
