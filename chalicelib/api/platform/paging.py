"""The platform's paging for its newer families (white-ops routers): `skip` and `limit`
(1-200, 50) → `{"items": [...], "total": N, "skip", "limit"}`, plus our `cursor` →
`next_cursor`, which costs a bounded read however deep the page (skip reads past)."""
from typing import Annotated, Callable

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
