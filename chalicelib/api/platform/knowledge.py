"""Platform /api/v1/knowledge: translation only. `search` reads the word index
(services/orchestration/knowledge.py); the items it read are in `X-Items-Read`."""
from typing import Annotated

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Input, Line, Text
from chalicelib.api.platform import router
from chalicelib.api.platform.listing import Paging, listing, no_content
from chalicelib.clock import iso
from chalicelib.services import orchestration

Category = Annotated[str, Meta(max_length=100)]
PREVIEW = 500


class NewEntry(Input):
    title: Annotated[str, Meta(min_length=1, max_length=500)]
    content: Annotated[str, Meta(min_length=1, max_length=400_000)]
    category: Category | None = None
    tags: Annotated[list[Annotated[str, Meta(max_length=100)]], Meta(max_length=50)] | None = None
    source: Text | None = None


class EntryQuery(Paging):
    category: Category | None = None
    search: Line | None = None


def entry_view(entry, full: bool = False) -> dict:
    view = {"id": entry.id, "title": entry.title,
            "content": entry.content if full else entry.content[:PREVIEW],
            "category": entry.category, "tags": entry.tags or [], "source": entry.source,
            "created_at": iso(entry.created_at)}
    if full:
        view["updated_at"] = iso(entry.updated_at)
    return view


@router.route("/api/v1/knowledge", query=EntryQuery)
def list_entries(req):
    query, network_id = req.params, req.principal.network_id
    if query.search:
        window = query.window()
        found = orchestration.knowledge.search(network_id, query.search, category=query.category,
                                               limit=window["limit"], offset=window["offset"])
        return Response(body=listing(found, entry_view, query),
                        headers={"X-Items-Read": str(found.items_read)})
    return listing(orchestration.knowledge.list_entries(network_id, category=query.category,
                                                        **query.window()), entry_view, query)


@router.route("/api/v1/knowledge", methods=["POST"], body=NewEntry)
def create_entry(req):
    body = req.body
    entry = orchestration.knowledge.create(req.principal.network_id,
                                           {"title": body.title, "content": body.content,
                                           "category": body.category, "tags": body.tags,
                                           "source": body.source}, created_by=req.principal.account_id)
    return Response(body={"id": entry.id, "title": entry.title}, status_code=201)


@router.route("/api/v1/knowledge/{entry_id}")
def get_entry(req, entry_id):
    return entry_view(orchestration.knowledge.get(req.principal.network_id, entry_id), full=True)


@router.route("/api/v1/knowledge/{entry_id}", methods=["DELETE"])
def delete_entry(req, entry_id):
    orchestration.knowledge.delete(req.principal.network_id, entry_id)
    return no_content()
