"""The API description: generated from the route table, valid OpenAPI 3.1, one entry for
every route the app serves, each with its tag, credentials, parameters and schemas; the
docs page and its assets served by the app itself."""
import hashlib
import json

from openapi_spec_validator import validate

from chalicelib.api import docs
from chalicelib.api.routing import ROUTES

FALLBACKS = ("other_methods_", "unknown_route")  # api/fallback.py: 405s, preflights, 404s


def test_every_route_has_a_valid_entry(api):
    from app import app
    response = api.get("/openapi.json")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    document = json.loads(response.body)
    validate(document)  # openapi-spec-validator, OpenAPI 3.1
    assert document["openapi"] == "3.1.0"
    served = {(path, method) for path, entries in app.routes.items()
              for method, entry in entries.items() if not entry.view_name.startswith(FALLBACKS)}
    described = {(path, method.upper()) for path, item in document["paths"].items()
                 for method in item}
    assert served - described == set(), "routes without an entry in /openapi.json"
    assert described - served == set()
    assert len(described) == len(ROUTES)
    groups = {g["name"]: g["tags"] for g in document["x-tagGroups"]}
    assert set(groups) == {"platform", "skycetus", "gemmanet", "hub2d", "commhub"}

    paths = document["paths"]
    create = paths["/api/v1/tasks"]["post"]
    assert create["tags"] == ["platform/tasks"] and create["security"][0] == {"bearer": []}
    body = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert "title" in schema["required"] and schema["properties"]["title"]["maxLength"] == 500
    listed = paths["/api/v1/tasks"]["get"]
    assert listed["responses"]["2XX"]["content"]["application/json"]["schema"]["items"] == \
        {"$ref": "#/components/schemas/Task"}
    assert {p["name"] for p in listed["parameters"]} >= {"limit", "cursor", "status_filter"}
    one = paths["/api/v1/tasks/{task_id}"]["get"]["parameters"]
    assert one[0]["in"] == "path" and one[0]["required"] and one[0]["schema"]["maxLength"] == 128
    pull = paths["/api/v1/task/pull"]["post"]
    assert pull["tags"] == ["skycetus/task"] and pull["security"][0] == {"matrixSecret": []}
    assert paths["/health"]["get"]["security"] == []
    sse = paths["/events/{alias}"]["get"]
    assert {"tokenQuery": []} in sse["security"] and sse["tags"] == ["commhub/events"]
    assert paths["/v1/send"]["post"]["security"][0] == {}  # open where configured
    assert paths["/api/v1/cost/budget"]["put"]["tags"] == ["platform/cost"]
    assert paths["/mcp"]["post"]["tags"] == ["commhub/mcp"]
    upload = paths["/api/v1/files/upload"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    errors = paths["/api/stats"]["get"]["responses"]["4XX"]["content"]["application/json"]
    assert errors["schema"] == {"$ref": "#/components/schemas/CommhubError"}
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_the_docs_page_and_its_assets_come_from_the_app(api):
    page = api.get("/docs")
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    text = page.body.decode() if isinstance(page.body, bytes) else page.body
    assert 'src="docs/swagger-ui-bundle.js"' in text and "<script>" not in text  # no inline script
    assert "http" not in text.replace("http-equiv", "")                      # nothing remote
    init = api.get("/docs/init.js")
    assert '"/openapi.json"' in (init.body.decode() if isinstance(init.body, bytes) else init.body)
    assert 'href="docs/swagger-ui.css"' in text  # relative: works under any stage or base path
    manifest = json.loads((docs.ASSETS / "MANIFEST.json").read_text())
    assert manifest["package"] == "swagger-ui-dist" and manifest["version"].startswith("5.")
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((docs.ASSETS / name).read_bytes()).hexdigest() == digest
    bundle = api.get("/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and bundle.body == (docs.ASSETS / "swagger-ui-bundle.js").read_bytes()
    assert bundle.headers["Content-Type"].startswith("application/javascript")
    zipped = api.get("/docs/swagger-ui.css", headers={"Accept-Encoding": "gzip, br"})
    import gzip
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == (docs.ASSETS / "swagger-ui.css").read_bytes()
    assert api.get("/docs/..%2Fapp.py").status_code in (404, 422)
    assert api.get("/docs/MANIFEST.json").status_code == 404
