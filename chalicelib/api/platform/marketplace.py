"""Platform /api/v1/marketplace: translation only. The platform answers `{"data": ...}`
here (not `items`)."""
from typing import Annotated, Literal

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Id, Input, Line, Name, Object
from chalicelib.api.platform import router
from chalicelib.api.platform.listing import Paging
from chalicelib.services import orchestration


class TemplateQuery(Paging):
    category: Annotated[str, Meta(max_length=50)] | None = None
    search: Line | None = None
    sort_by: Literal["rating", "downloads", "name", "created_at"] = "downloads"


class Install(Input):
    name: Name | None = None              # install again under a new name
    worker_id: Id | None = None           # the node the template's agents run on
    run: bool = False
    input: Object | None = None


def template_view(template: dict, downloads: dict, full: bool = False) -> dict:
    view = {k: template.get(k) for k in ("id", "name", "description", "category", "icon",
                                         "author", "is_official", "version", "rating", "tags")}
    view.update(is_public=True, downloads=downloads.get(template["id"], 0),
                agents=[a["name"] for a in template["agents"]],
                workflows=[w["name"] for w in template.get("workflows", [])])
    if full:
        view["config"] = {"agents": template["agents"], "workflows": template.get("workflows", [])}
    return view


@router.route("/api/v1/marketplace/templates", query=TemplateQuery)
def list_templates(req):
    query = req.params
    window = query.window()
    chosen, total, counts = orchestration.marketplace.list_templates(
        category=query.category, search=query.search, sort_by=query.sort_by,
        limit=window["limit"], offset=window["offset"])
    return {"data": [template_view(t, counts) for t in chosen], "total": total}


@router.route("/api/v1/marketplace/templates/{template_id}")
def get_template(req, template_id):
    return {"data": template_view(orchestration.marketplace.get(template_id), orchestration.marketplace.downloads(),
                                  full=True)}


@router.route("/api/v1/marketplace/templates/{template_id}/install", methods=["POST"],
              body=Install)
def install(req, template_id):
    body = req.body
    done = orchestration.marketplace.install(req.principal.network_id, template_id,
                                             created_by=req.principal.account_id, name=body.name,
                                             worker_id=body.worker_id, run=body.run, input=body.input)
    return Response(body={"data": done}, status_code=201)
