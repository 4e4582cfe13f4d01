"""Platform /api/v1/ssh-connections (administrators only): translation only
(services/outbound/ssh.py). Credentials are never returned: `has_password`, `has_key`."""
from typing import Annotated, Literal

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Input, Name, Secret, Text
from chalicelib.api.platform import router
from chalicelib.api.platform.listing import Paging, listing, no_content
from chalicelib.api.routing import ADMIN
from chalicelib.clock import iso
from chalicelib.limits import SSH_COMMAND_MAX_CHARS, SSH_TIMEOUT_MAX_S
from chalicelib.services.outbound import ssh

Host = Annotated[str, Meta(min_length=1, max_length=255)]
Port = Annotated[int, Meta(ge=1, le=65535)]
PrivateKey = Annotated[str, Meta(min_length=1, max_length=16384)]
Tags = Annotated[list[Annotated[str, Meta(min_length=1, max_length=64)]], Meta(max_length=50)]


class ConnectionFields(Input):
    host: Host | None = None
    hostname: Host | None = None             # the peer lists `hostname`
    port: Port | None = None
    username: Name | None = None
    name: Name | None = None
    auth_type: Literal["password", "key"] | None = None
    auth_method: Literal["password", "key"] | None = None
    password: Secret | None = None
    private_key: PrivateKey | None = None
    passphrase: Secret | None = None
    description: Text | None = None
    tags: Tags | None = None


class Command(Input):
    command: Annotated[str, Meta(min_length=1, max_length=SSH_COMMAND_MAX_CHARS)]
    timeout: Annotated[float, Meta(gt=0, le=SSH_TIMEOUT_MAX_S)] | None = None


def _fields(body: ConnectionFields) -> dict:
    return {"host": body.host or body.hostname, "port": body.port, "username": body.username,
            "name": body.name, "auth_type": body.auth_type or body.auth_method,
            "password": body.password, "private_key": body.private_key,
            "passphrase": body.passphrase, "description": body.description, "tags": body.tags}


def connection_view(record) -> dict:
    return {"id": record.id, "name": record.name, "host": record.host, "hostname": record.host,
            "port": int(record.port), "username": record.username, "auth_type": record.auth_type,
            "auth_method": record.auth_type, "has_password": record.auth_type == "password",
            "has_key": record.auth_type == "key", "description": record.description,
            "tags": record.tags or [], "status": record.status,
            "last_tested_at": iso(record.last_tested_at), "last_error": record.last_error,
            "host_key_fingerprint": record.host_key_fingerprint,
            "created_by": record.created_by, "created_at": iso(record.created_at),
            "updated_at": iso(record.updated_at)}


@router.route("/api/v1/ssh-connections", auth=ADMIN, query=Paging)
def list_connections(req):
    page = ssh.list_connections(req.principal.network_id, **req.params.window())
    return listing(page, connection_view, req.params)


@router.route("/api/v1/ssh-connections", methods=["POST"], auth=ADMIN, body=ConnectionFields)
def create_connection(req):
    record = ssh.create_connection(req.principal.network_id, actor=req.principal.account_id,
                                   **_fields(req.body))
    return Response(body=connection_view(record), status_code=201)


@router.route("/api/v1/ssh-connections/{connection_id}", auth=ADMIN)
def get_connection(req, connection_id):
    return connection_view(ssh.get_connection(req.principal.network_id, connection_id))


@router.route("/api/v1/ssh-connections/{connection_id}", methods=["PUT"], auth=ADMIN,
              body=ConnectionFields)
def update_connection(req, connection_id):
    return connection_view(ssh.update_connection(req.principal.network_id, connection_id,
                                                 **_fields(req.body)))


@router.route("/api/v1/ssh-connections/{connection_id}", methods=["DELETE"], auth=ADMIN)
def delete_connection(req, connection_id):
    ssh.delete_connection(req.principal.network_id, connection_id)
    return no_content()


@router.route("/api/v1/ssh-connections/{connection_id}/test", methods=["POST"], auth=ADMIN)
def test_connection(req, connection_id):
    return ssh.test_connection(req.principal.network_id, connection_id)


@router.route("/api/v1/ssh-connections/{connection_id}/execute", methods=["POST"], auth=ADMIN,
              body=Command)
def execute(req, connection_id):
    return ssh.execute(req.principal.network_id, connection_id, req.body.command,
                       timeout_s=req.body.timeout)
