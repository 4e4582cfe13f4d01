"""What every route owes a client: authentication, and errors in its dialect's shape."""
import re

from chalicelib.api.routing import OPEN, PUBLIC, ROUTES
from tests.conftest import ADMIN_TOKEN


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "some-id", path)


def test_every_protected_route_answers_401_without_credentials(api):
    checked = 0
    for spec in ROUTES:
        if spec.auth == PUBLIC:
            continue
        response = api.call(spec.method, concrete(spec.path), body={})
        assert response.status_code == 401, (spec, response.body)
        checked += 1
    assert checked > 20


def test_a_forged_or_revoked_credential_is_refused_everywhere(api):
    for spec in ROUTES:
        if spec.auth == PUBLIC:
            continue
        response = api.bearer("ntok_forged").call(spec.method, concrete(spec.path), body={})
        assert response.status_code == 401, spec


def test_open_routes_open_only_for_the_configured_dialects(api, settings_env):
    open_routes = [s for s in ROUTES if s.auth == OPEN and s.method == "GET"
                   and "{" not in s.path]
    assert open_routes
    settings_env(SWITCHBOARD_STREAM_WAIT="0")  # an open event stream answers at once
    for spec in open_routes:
        assert api.get(spec.path).status_code == 401, spec
    for spec in open_routes:
        settings_env(SWITCHBOARD_OPEN_DIALECTS=spec.dialect)
        assert api.get(spec.path).status_code == 200, spec
        settings_env(SWITCHBOARD_OPEN_DIALECTS="")


def test_admin_routes_refuse_ordinary_members(api):
    member = api.bearer(ADMIN_TOKEN).post("/api/auth/register",
                                         {"username": "plain", "password": "correct-horse-9"}).json
    api.bearer(ADMIN_TOKEN).post("/api/auth/register", {"username": "other", "password": "correct-horse-9"})
    token = api.post("/api/auth/login", {"username": "other", "password": "correct-horse-9"}).json["token"]
    assert member["user"]["role"] == "member" or member["user"]["role"] == "admin"
    refused = api.bearer(token).get("/api/users")
    assert refused.status_code == 403 and refused.json["error"] == "forbidden"
    assert api.bearer(token).get("/api/v1/admin/users").json == {
        "detail": "this route needs an administrator"}


def test_malformed_json_is_a_422_on_the_platform_and_a_400_elsewhere(api):
    platform = api.post("/api/v1/auth/login", raw="{not json",
                        headers={"Content-Type": "application/json"})
    assert platform.status_code == 422
    assert platform.json == {
        "error_code": "VAL_001", "error_name": "VALIDATION_ERROR",
        "message": "Request validation failed",
        "details": {"errors": [{"field": "body -> 1", "message": "JSON decode error",
                                "type": "json_invalid"}]},
        "detail": [{"loc": ["body", 1], "msg": "JSON decode error", "type": "json_invalid"}]}
    commhub = api.post("/api/auth/login", raw="{not json",
                       headers={"Content-Type": "application/json"})
    assert commhub.status_code == 400
    assert commhub.json == {"error": "malformed_json",
                            "message": "the request body is not valid JSON"}


def test_missing_fields_are_named(api):
    platform = api.post("/api/v1/auth/login", {"password": "x"})
    assert platform.status_code == 422
    assert platform.json["detail"][0]["loc"] == ["body", "email"]
    commhub = api.post("/api/auth/login", {"password": "x"})
    assert commhub.status_code == 400
    assert commhub.json == {"error": "validation_error", "message": "'username' is required"}


def test_a_json_body_is_read_whatever_content_type_the_client_claims(api):
    # curl -d sends application/x-www-form-urlencoded unless told otherwise
    response = api.post("/api/auth/login", raw='{"username": "admin", "password": "admin-password"}',
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200 and response.json["ok"] is True
    form = api.post("/api/v1/auth/login", raw="username=admin&password=admin-password",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 200 and "access_token" in form.json


def test_wrong_methods_are_405_with_allow(api):
    response = api.delete("/api/v1/auth/login")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, OPTIONS"
    assert response.json == {"detail": "DELETE is not allowed on /api/v1/auth/login"}
    commhub = api.patch("/api/tokens")
    assert commhub.status_code == 405 and commhub.json["error"] == "method_not_allowed"
