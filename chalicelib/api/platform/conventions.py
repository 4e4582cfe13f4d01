"""The conventions of the platform's newer families (the peer's white-ops routers):

- lists take `skip` and `limit` (1-200, 50) → `{"items": [...], "total": N, "skip", "limit"}`,
  plus our `cursor` → `next_cursor`, a bounded read however deep the page (skip reads past);
- a delete answers 204 with no body.
"""
from typing import Annotated, Callable

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Cursor, Input, Offset


class Listing(Input):
    skip: Offset = 0
    limit: Annotated[int, Meta(ge=1, le=200)] = 50
    cursor: Cursor | None = None


def paging(query: Listing) -> dict:
    """The service's paging arguments."""
    return {"limit": query.limit, "offset": query.skip, "cursor": query.cursor}


def listing(page, render: Callable, query: Listing) -> dict:
    return {"items": [render(item) for item in page.items], "total": page.total,
            "skip": query.skip, "limit": query.limit, "next_cursor": page.next_cursor}


def no_content() -> Response:
    return Response(body="", status_code=204)
