"""Platform /api/v1/collaboration: translation only."""
from typing import Annotated, Literal

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Id, Input, Name, Object, Text, Word, check_value
from chalicelib.api.platform import router
from chalicelib.api.platform.agents import fields_of
from chalicelib.api.platform.listing import Paging, listing
from chalicelib.clock import iso
from chalicelib.services import orchestration


class NewSession(Input):
    name: Name
    participants: Annotated[list[Id], Meta(min_length=1, max_length=50)]
    description: Text | None = None
    task_id: Id | None = None
    initial_context: Object | None = None


class SessionQuery(Paging):
    status: Word | None = None


class NewMessage(Input):
    agent_id: Id
    message: Annotated[str, Meta(min_length=1, max_length=32_000)]
    message_type: Literal["text", "decision", "question", "action", "result"] = "text"


def session_view(session, full: bool = False) -> dict:
    view = {"id": session.id, "name": session.name, "description": session.description,
            "status": session.status, "participants": session.participants or [],
            "message_count": int(session.message_count or 0), "task_id": session.task_id,
            "created_at": iso(session.created_at), "updated_at": iso(session.updated_at)}
    if full:
        view["shared_context"] = orchestration.collaboration.context(session.network_id, session.id)
        view["messages"] = [{"id": m.sk, "agent_id": m.agent_id, "message": m.message,
                             "type": m.message_type, "timestamp": iso(m.created_at)}
                            for m in orchestration.collaboration.messages(session.network_id, session.id)]
    return view


@router.route("/api/v1/collaboration", query=SessionQuery)
def list_sessions(req):
    query = req.params
    found = orchestration.collaboration.list_sessions(req.principal.network_id, status=query.status,
                                                      **query.window())
    return listing(found, session_view, query)


@router.route("/api/v1/collaboration", methods=["POST"], body=NewSession)
def create_session(req):
    session = orchestration.collaboration.create(req.principal.network_id, fields_of(req.body),
                                                 created_by=req.principal.account_id)
    return Response(body={"id": session.id, "name": session.name, "status": session.status},
                    status_code=201)


@router.route("/api/v1/collaboration/{session_id}")
def get_session(req, session_id):
    return session_view(orchestration.collaboration.get(req.principal.network_id, session_id), full=True)


@router.route("/api/v1/collaboration/{session_id}/messages", methods=["POST"], body=NewMessage)
def post_message(req, session_id):
    body = req.body
    count = orchestration.collaboration.post(req.principal.network_id, session_id, agent_id=body.agent_id,
                                             message=body.message, message_type=body.message_type)
    return {"status": "sent", "message_count": count}


@router.route("/api/v1/collaboration/{session_id}/context", methods=["POST"])
def merge_context(req, session_id):
    values = check_value(Object, req.form_or_json(), ("body",))  # the keys are the fields
    keys = orchestration.collaboration.merge_context(req.principal.network_id, session_id, values)
    return {"status": "updated", "context_keys": keys}


@router.route("/api/v1/collaboration/{session_id}/close", methods=["POST"])
def close_session(req, session_id):
    session = orchestration.collaboration.close(req.principal.network_id, session_id)
    return {"id": session.id, "status": session.status}
