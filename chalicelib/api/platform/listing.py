"""The platform's list shape for its own families: `skip` and `limit` (1-200) →
`{"items": [...], "total": N, "skip", "limit"}`, as the platform's routers answer; our
extension: `cursor` in, `next_cursor` out (cheaper than skipping: a cursor resumes the
Query, a skip reads past the items)."""
from typing import Annotated

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Cursor, Input, Offset


def no_content() -> Response:
    """A delete's answer (a new one each time: middleware adds headers to it)."""
    return Response(body="", status_code=204)


class Paging(Input):
    skip: Offset = 0
    offset: Offset | None = None            # accepted for skip
    limit: Annotated[int, Meta(ge=1, le=200)] = 50
    cursor: Cursor | None = None

    def window(self) -> dict:
        return {"limit": self.limit, "cursor": self.cursor,
                "offset": self.offset if self.offset is not None else self.skip}


def listing(page, view, paging: Paging, key: str = "items") -> dict:
    body = {key: [view(item) for item in page.items], "total": page.total,
            "skip": paging.window()["offset"], "limit": paging.limit}
    if page.next_cursor:
        body["next_cursor"] = page.next_cursor
    return body
