"""`/openapi.json` (the API description, api/openapi.py) and `/docs`, a Swagger UI page
that renders it, from assets the app serves itself (api/docs_assets/, fetched from npm by
`python -m infra.docs_assets`: no CDN). The page has no inline script (a strict
Content-Security-Policy allows it): its start-up script is `/docs/init.js`. Every URL is
relative to the page, so it works wherever the API is mounted (`/docs` locally, `/api/docs`
on API Gateway's stage URL, a custom domain's base path).
"""
from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

from chalice import Response

from chalicelib.api.dialects import PLATFORM
from chalicelib.api.routing import PUBLIC, DialectRouter
from chalicelib.api.transfer import FileResponse
from chalicelib.errors import NotFound

router = DialectRouter(PLATFORM, __name__)
blueprint = router.blueprint
ASSETS = Path(__file__).resolve().parent / "docs_assets"
SERVED = {"swagger-ui-bundle.js": "application/javascript; charset=utf-8",
          "swagger-ui.css": "text/css; charset=utf-8", "LICENSE": "text/plain; charset=utf-8",
          "NOTICE": "text/plain; charset=utf-8",
          "swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8"}
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Switchboard API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/init.js"></script>
</body>
</html>
"""
# The page's own policy (the edge's default, `default-src 'none'`, suits JSON answers and
# would stop the page): its scripts, styles and the API description from this origin only;
# Swagger UI sets inline styles and draws a few images from data: URIs.
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
               "base-uri 'none'; form-action 'none'")
INIT = """window.addEventListener("load", function () {
  var root = window.location.pathname.replace(/\\/docs\\/?$/, "");
  window.ui = SwaggerUIBundle({url: root + "/openapi.json", dom_id: "#swagger-ui",
                               deepLinking: true, docExpansion: "list",
                               defaultModelsExpandDepth: -1});
});
"""


@router.route("/openapi.json", auth=PUBLIC)
def openapi(req):
    from chalicelib.api import openapi as description
    return Response(body=_document_text(description), headers={
        "Content-Type": "application/json", "Cache-Control": "public, max-age=300"})


@lru_cache(maxsize=1)
def _document_text(description) -> str:
    return json.dumps(description.document(), separators=(",", ":"))


@router.route("/docs", auth=PUBLIC)
def page(req):
    return Response(body=PAGE,
                    headers={"Content-Type": "text/html; charset=utf-8",
                             "Cache-Control": "public, max-age=300",
                             "Content-Security-Policy": PAGE_POLICY})


@router.route("/docs/{asset}", auth=PUBLIC)
def asset(req, asset):
    if asset == "init.js":
        return Response(body=INIT,
                        headers={"Content-Type": "application/javascript; charset=utf-8",
                                 "Cache-Control": "public, max-age=300"})
    if asset not in SERVED:
        raise NotFound(f"no asset {asset}")
    headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    accepts = (req.headers.get("accept-encoding") or "").lower()
    if "gzip" in accepts:
        headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return FileResponse(_compressed(asset), SERVED[asset], headers)
    return FileResponse(_read(asset), SERVED[asset], headers)


@lru_cache(maxsize=None)
def _read(name: str) -> bytes:
    return (ASSETS / name).read_bytes()


@lru_cache(maxsize=None)
def _compressed(name: str) -> bytes:
    return gzip.compress(_read(name), compresslevel=6)
