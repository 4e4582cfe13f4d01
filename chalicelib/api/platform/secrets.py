"""Platform /api/v1/secrets (administrators only): translation only (services/vault.py).

Lists and gets are masked (`value: "********"`); `GET /secrets/{id}?reveal=true`
(`&version=N` for an earlier one) returns the plaintext and is audited. `PUT` with a
`value` and `POST /rotate` store a new version; earlier ones stay readable by number.
"""
from typing import Annotated

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Input, Name, Object, Text, Timestamp, Word
from chalicelib.api.platform import router
from chalicelib.api.platform.listing import Paging, listing, no_content
from chalicelib.api.routing import ADMIN
from chalicelib.clock import iso, now_ms
from chalicelib.limits import SECRET_EXPIRING_MAX_DAYS, SECRET_VALUE_MAX_CHARS
from chalicelib.services import vault

Value = Annotated[str, Meta(min_length=1, max_length=SECRET_VALUE_MAX_CHARS)]


class SecretQuery(Paging):
    category: Word | None = None


class RevealQuery(Input):
    reveal: bool = False
    version: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None


class NewSecret(Input):
    name: Name
    value: Value
    category: Word | None = None
    description: Text | None = None
    expires_at: Timestamp | None = None
    metadata: Object | None = None


class SecretChange(Input):
    name: Name | None = None
    value: Value | None = None
    category: Word | None = None
    description: Text | None = None
    expires_at: Timestamp | None = None
    metadata: Object | None = None


class Rotation(Input):
    value: Value | None = None


class ExpiringQuery(Paging):
    days: Annotated[int, Meta(ge=1, le=SECRET_EXPIRING_MAX_DAYS)] = 7


def _ms(value) -> float | None:
    return None if value is None else value.timestamp()


def secret_view(record, *, value: str | None = None, version: int | None = None) -> dict:
    view = {"id": record.id, "name": record.name, "category": record.category,
            "description": record.description, "version": int(record.current_version),
            "value": vault.MASK if value is None else value,
            "expires_at": iso(record.expires_on), "rotated_at": iso(record.rotated_at),
            "rotated_by": record.rotated_by, "metadata": record.metadata or {},
            "created_by": record.created_by, "created_at": iso(record.created_at),
            "updated_at": iso(record.updated_at)}
    if version is not None:
        view["revealed_version"] = version
    return view


@router.route("/api/v1/secrets", auth=ADMIN, query=SecretQuery)
def list_secrets(req):
    query = req.params
    page = vault.list_secrets(req.principal.network_id, category=query.category,
                              **query.window())
    return listing(page, secret_view, query)


@router.route("/api/v1/secrets", methods=["POST"], auth=ADMIN, body=NewSecret)
def create_secret(req):
    body = req.body
    record = vault.create_secret(req.principal.network_id, actor=req.principal.account_id,
                                 name=body.name, value=body.value, category=body.category,
                                 description=body.description, expires_at=_ms(body.expires_at),
                                 metadata=body.metadata)
    return Response(body={"id": record.id, "name": record.name, "category": record.category,
                          "version": 1, "expires_at": iso(record.expires_on),
                          "created_at": iso(record.created_at)}, status_code=201)


@router.route("/api/v1/secrets/expiring", auth=ADMIN, query=ExpiringQuery)
def expiring(req):
    now = now_ms()
    query = req.params
    found = vault.expiring(req.principal.network_id, days=query.days, **query.window())
    return {**listing(found, lambda s: {
        "id": s.id, "name": s.name, "category": s.category, "expires_at": iso(s.expires_on),
        "days_until_expiry": (int(s.expires_on) - now) // 86_400_000,
        "version": int(s.current_version)}, query), "days": query.days}


@router.route("/api/v1/secrets/{secret_id}", auth=ADMIN, query=RevealQuery)
def get_secret(req, secret_id):
    query = req.params
    network_id = req.principal.network_id
    if not query.reveal:
        record = vault.get_secret(network_id, secret_id)
        return {**secret_view(record), "versions": vault.versions(record)}
    record, version, value = vault.reveal(network_id, secret_id, actor=req.principal.account_id,
                                          version=query.version)
    return secret_view(record, value=value, version=version)


@router.route("/api/v1/secrets/{secret_id}", methods=["PUT"], auth=ADMIN, body=SecretChange)
def update_secret(req, secret_id):
    body = req.body
    changes = {name: getattr(body, name) for name in ("name", "value", "category",
                                                      "description", "metadata")}
    if "expires_at" in (req.json or {}):
        changes["expires_at"] = _ms(body.expires_at)
    record = vault.update_secret(req.principal.network_id, secret_id,
                                 actor=req.principal.account_id, **changes)
    return secret_view(record)


@router.route("/api/v1/secrets/{secret_id}", methods=["DELETE"], auth=ADMIN)
def delete_secret(req, secret_id):
    vault.delete_secret(req.principal.network_id, secret_id)
    return no_content()


@router.route("/api/v1/secrets/{secret_id}/rotate", methods=["POST"], auth=ADMIN, body=Rotation)
def rotate_secret(req, secret_id):
    record, generated = vault.rotate(req.principal.network_id, secret_id,
                                     actor=req.principal.account_id, value=req.body.value)
    view = secret_view(record)
    if generated is not None:  # shown once, as a new credential is
        view["value"] = generated
    return view
