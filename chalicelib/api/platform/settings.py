"""Platform /api/v1/settings: translation only. (The settings service is imported by the
routes: each module is paid for at cold start.)"""
from typing import Annotated, Any

from msgspec import Meta

from chalicelib.api.inputs import Input
from chalicelib.api.platform import router
from chalicelib.api.routing import ADMIN


class Value(Input):
    """The new value: its own JSON type, or a string as the platform's web app sends it."""
    value: Any


class Bulk(Input):
    """`{"settings": {"category.key": value, ...}}`: all valid, or none written."""
    settings: Annotated[dict[str, Any], Meta(max_length=200)]


@router.route("/api/v1/settings", auth=ADMIN)
def list_settings(req):
    from chalicelib.services.people import settings
    return settings.view(req.principal.network_id)


@router.route("/api/v1/settings/bulk", methods=["PUT"], auth=ADMIN, body=Bulk,
              audit="settings.bulk_update")
def bulk_update(req):
    from chalicelib.errors import FieldError, NotFound, ValidationFailed
    from chalicelib.services.people import settings
    changes, fields, unknown = {}, {}, []
    for dotted, value in req.body.settings.items():
        try:
            key = settings.parse_key(dotted)
        except NotFound as error:
            unknown.append(FieldError(("body", "settings", settings.shown(dotted)),
                                      error.message, "unknown"))
            continue
        changes[key], fields[key] = value, f"settings.{dotted}"  # a known name: short
    if unknown:
        raise ValidationFailed(unknown[0].field, unknown[0].message, errors=unknown)
    written = settings.write(req.principal.network_id, changes, actor=req.principal.account_id,
                             fields=fields)
    _note(written)
    return {"updated": len(written)}


@router.route("/api/v1/settings/health", auth=ADMIN)
def health(req):
    from chalicelib.services import probes
    return probes.check()


@router.route("/api/v1/settings/{category}/{key}", methods=["PUT"], auth=ADMIN, body=Value,
              audit="settings.update")
def update(req, category, key):
    from chalicelib.services.people import settings
    written = settings.write(req.principal.network_id, {(category, key): req.body.value},
                             actor=req.principal.account_id)
    _note(written)
    dotted = f"{category}.{key}"
    return {"key": dotted, "status": "updated",
            "value": settings.MASK if settings.spec(category, key).secret else written[dotted]}


def _note(written: dict) -> None:
    """Which settings changed (never their values: some are secrets)."""
    from chalicelib.services import audit
    audit.note(target_type="settings", target_id=",".join(sorted(written))[:500])
