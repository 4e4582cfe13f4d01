"""Platform /api/v1/triggers: translation only. `POST /triggers/{id}/fire` (a webhook
trigger's own token, no user credential) and `POST /triggers/{id}/test` are extensions."""
from typing import Literal

from chalice import Response

from chalicelib.api.inputs import Input, Name, Object, Secret, Word, check_value
from chalicelib.api.platform import router
from chalicelib.api.platform.agents import fields_of
from chalicelib.api.platform.listing import Paging, listing, no_content
from chalicelib.api.routing import PUBLIC
from chalicelib.clock import iso
from chalicelib.services import orchestration

TriggerType = Literal["schedule", "cron", "event", "webhook", "threshold"]
ActionType = Literal["create_task", "execute_workflow", "run_workflow", "send_message",
                     "send_notification", "notify", "call_webhook"]


class NewTrigger(Input):
    name: Name
    trigger_type: TriggerType
    action_type: ActionType
    config: Object | None = None
    action_config: Object | None = None
    is_active: bool = True


class TriggerChange(Input):
    name: Name | None = None
    trigger_type: TriggerType | None = None
    action_type: ActionType | None = None
    config: Object | None = None
    action_config: Object | None = None
    is_active: bool | None = None


class TriggerQuery(Paging):
    trigger_type: Word | None = None
    is_active: bool | None = None


class Firing(Input):
    event_data: Object | None = None


class HookToken(Input):
    token: Secret | None = None


def trigger_view(trigger) -> dict:
    return {"id": trigger.id, "name": trigger.name, "trigger_type": trigger.trigger_type,
            "config": trigger.config or {}, "action_type": trigger.action_type,
            "action_config": trigger.action_config or {}, "is_active": bool(trigger.is_active),
            "next_fire_at": iso(trigger.next_fire_at), "last_fired_at": iso(trigger.last_fired_at),
            "fire_count": int(trigger.fire_count or 0), "created_by": trigger.created_by,
            "created_at": iso(trigger.created_at), "updated_at": iso(trigger.updated_at)}


def firing_view(firing) -> dict:
    return {"id": firing.sk, "trigger_id": firing.trigger_id, "status": firing.status,
            "cause": firing.cause, "result": firing.result, "error": firing.error,
            "duration_ms": firing.duration_ms, "event_data": firing.event_data,
            "fired_at": iso(firing.created_at)}


@router.route("/api/v1/triggers", query=TriggerQuery)
def list_triggers(req):
    query = req.params
    found = orchestration.triggers.list_triggers(req.principal.network_id, trigger_type=query.trigger_type,
                                                 is_active=query.is_active, **query.window())
    return listing(found, trigger_view, query)


@router.route("/api/v1/triggers", methods=["POST"], body=NewTrigger)
def create_trigger(req):
    trigger, token = orchestration.triggers.create(req.principal.network_id, fields_of(req.body) |
                                     {"is_active": req.body.is_active},
                                     created_by=req.principal.account_id)
    view = trigger_view(trigger)
    if token:  # shown once
        view.update(webhook_token=token, webhook_url=f"/api/v1/triggers/{trigger.id}/fire")
    return Response(body=view, status_code=201)


@router.route("/api/v1/triggers/{trigger_id}")
def get_trigger(req, trigger_id):
    network_id = req.principal.network_id
    trigger = orchestration.triggers.get(network_id, trigger_id)
    recent = orchestration.triggers.history(network_id, trigger_id, limit=5).items
    return {**trigger_view(trigger),
            "stats": orchestration.triggers.stats(trigger, [firing_view(f) for f in recent])}


@router.route("/api/v1/triggers/{trigger_id}", methods=["PUT"], body=TriggerChange)
def update_trigger(req, trigger_id):
    return trigger_view(orchestration.triggers.update(req.principal.network_id, trigger_id,
                                                      fields_of(req.body)))


@router.route("/api/v1/triggers/{trigger_id}", methods=["DELETE"])
def delete_trigger(req, trigger_id):
    orchestration.triggers.delete(req.principal.network_id, trigger_id)
    return no_content()


@router.route("/api/v1/triggers/{trigger_id}/toggle", methods=["POST"])
def toggle_trigger(req, trigger_id):
    trigger = orchestration.triggers.toggle(req.principal.network_id, trigger_id)
    return {"id": trigger.id, "name": trigger.name, "is_active": bool(trigger.is_active),
            "message": "Trigger enabled" if trigger.is_active else "Trigger disabled"}


@router.route("/api/v1/triggers/{trigger_id}/history", query=Paging)
def trigger_history(req, trigger_id):
    found = orchestration.triggers.history(req.principal.network_id, trigger_id, **req.params.window())
    return listing(found, firing_view, req.params)


@router.route("/api/v1/triggers/{trigger_id}/test", methods=["POST"], body=Firing)
def test_trigger(req, trigger_id):
    firing = orchestration.triggers.fire_now(req.principal.network_id, trigger_id,
                                             cause={"type": "test", "by": req.principal.account_id},
                                             event_data=req.body.event_data or {}, active_only=False)
    return firing_view(firing)


@router.route("/api/v1/triggers/{trigger_id}/fire", methods=["POST"], auth=PUBLIC,
              query=HookToken)
def fire_trigger(req, trigger_id):
    header = req.headers.get("x-trigger-token") or ""
    bearer = (req.headers.get("authorization") or "").removeprefix("Bearer ").strip()
    token = header or bearer or req.params.token
    # The payload is any object the sender posts: held to the rules of free-form objects.
    payload = check_value(Object, req.json, ("body",)) if req.raw_body.strip() else {}
    return Response(body=firing_view(orchestration.triggers.fire_webhook(trigger_id, token, payload)),
                    status_code=202)
