"""Identity and tenancy: logins, sessions, tokens, networks — and that secrets stay secret."""
import boto3

from chalicelib.config import settings
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_TOKEN, SHARED_SECRET


def test_platform_session_lives_from_login_to_logout(api):
    bad = api.post("/api/v1/auth/login", {"email": ADMIN_EMAIL, "password": "wrong"})
    assert bad.status_code == 401 and bad.json == {"detail": "invalid username or password"}

    login = api.post("/api/v1/auth/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert login.status_code == 200
    session = login.json
    assert session["token_type"] == "bearer" and session["access_token"].count(".") == 2
    me = api.bearer(session["access_token"]).get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json["email"] == ADMIN_EMAIL and me.json["role"] == "admin"

    refreshed = api.post("/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 200
    assert api.bearer(refreshed.json["access_token"]).get("/api/v1/auth/me").status_code == 200

    assert api.bearer(session["access_token"]).post("/api/v1/auth/logout").status_code == 200
    after = api.bearer(refreshed.json["access_token"]).get("/api/v1/auth/me")
    assert after.status_code == 401, "logout ends the session behind every access token"


def test_password_change_requires_the_current_password(api):
    token = api.post("/api/v1/auth/login",
                     {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json["access_token"]
    me = api.bearer(token)
    wrong = me.post("/api/v1/auth/change-password",
                    {"current_password": "nope", "new_password": "another-pass"})
    assert wrong.status_code == 400 and wrong.json == {"detail": "Current password is incorrect"}
    short = me.post("/api/v1/auth/change-password",
                    {"current_password": ADMIN_PASSWORD, "new_password": "x"})
    assert short.status_code == 422 and short.json["detail"][0]["loc"] == ["body", "new_password"]
    assert me.post("/api/v1/auth/change-password", {"current_password": ADMIN_PASSWORD,
                                                    "new_password": "another-pass"}).status_code == 200
    assert api.post("/api/v1/auth/login", {"email": ADMIN_EMAIL,
                                           "password": "another-pass"}).status_code == 200


def test_commhub_registration_is_gated_by_the_bootstrap_token(api):
    body = {"username": "vincent", "password": "my-long-passphrase", "display_name": "Vincent"}
    assert api.post("/api/auth/register", body).status_code == 401
    assert api.bearer("utok_forged").post("/api/auth/register", body).status_code == 401

    registered = api.bearer(ADMIN_TOKEN).post("/api/auth/register", body)
    assert registered.status_code == 200, registered.json
    reply = registered.json
    assert reply["ok"] is True and reply["network_id"] == settings().default_network_id
    assert reply["token"].startswith("utok_") and reply["network_token"].startswith("ntok_")
    assert reply["user"]["username"] == "vincent"

    duplicate = api.bearer(ADMIN_TOKEN).post("/api/auth/register", body)
    assert duplicate.status_code == 409 and duplicate.json["error"] == "conflict"

    login = api.post("/api/auth/login", {"username": "vincent", "password": "my-long-passphrase"})
    assert login.status_code == 200
    me = api.bearer(login.json["token"]).get("/api/auth/me")
    assert me.json["user"]["display_name"] == "Vincent"


def test_secrets_are_stored_only_as_hashes(api):
    registered = api.bearer(ADMIN_TOKEN).post(
        "/api/auth/register", {"username": "ada", "password": "lovelace-1843"}).json
    key = api.bearer(registered["token"]).post("/api/v1/security/api-keys", {"name": "ci"}).json["key"]

    table = boto3.client("dynamodb").scan(TableName=f"{settings().table_prefix}identity")["Items"]
    dump = repr(table)
    for secret in (registered["token"], registered["network_token"], key, ADMIN_TOKEN,
                   SHARED_SECRET, "lovelace-1843", ADMIN_PASSWORD):
        assert secret not in dump, f"{secret[:6]}… is stored in clear"
    hashes = [item["password_hash"]["S"] for item in table if "password_hash" in item]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)


def test_api_keys_are_shown_once_and_stop_working_when_revoked(api):
    admin = api.bearer(ADMIN_TOKEN)
    created = admin.post("/api/v1/security/api-keys", {"name": "deploy"})
    assert created.status_code == 201
    key = created.json["key"]
    listing = admin.get("/api/v1/security/api-keys").json
    assert [k["name"] for k in listing] == ["deploy"] and "key" not in listing[0]

    assert api.bearer(key).get("/api/networks").status_code == 200
    assert api.as_(**{"X-API-Key": key}).get("/api/networks").status_code == 200
    assert admin.delete(f"/api/v1/security/api-keys/{created.json['id']}").status_code == 200
    assert api.bearer(key).get("/api/networks").status_code == 401


def test_a_network_is_invisible_to_credentials_of_another(api):
    admin = api.bearer(ADMIN_TOKEN)
    outsider = admin.post("/api/auth/register", {"username": "mallory", "password": "correct-horse-1"}).json
    # mallory leaves for her own network and works there with its token
    own = api.bearer(outsider["token"]).post("/api/networks", {"name": "elsewhere"})
    assert own.status_code == 201
    elsewhere = own.json["network_id"]
    token = api.bearer(outsider["token"]).post("/api/tokens", {"name": "agent",
                                                              "network_id": elsewhere}).json["token"]
    stranger = api.bearer(token)
    assert stranger.get(f"/api/networks/{elsewhere}").status_code == 200

    founder = admin.post("/api/auth/register", {"username": "frank", "password": "correct-horse-2"}).json
    frank = api.bearer(founder["token"])
    assert frank.get(f"/api/networks/{elsewhere}").status_code == 403
    assert frank.put(f"/api/networks/{elsewhere}", {"network_name": "mine"}).status_code == 403
    assert frank.get(f"/api/networks/{elsewhere}/members").status_code == 403
    assert frank.get("/api/networks/net_nonexistent").status_code == 403


def test_invites_admit_members_up_to_their_limit(api):
    admin = api.bearer(ADMIN_TOKEN)
    owner = api.bearer(admin.post("/api/auth/register",
                                  {"username": "olga", "password": "correct-horse-3"}).json["token"])
    network_id = owner.post("/api/networks", {"name": "team"}).json["network_id"]
    invite = owner.post(f"/api/networks/{network_id}/invite", {"role": "member", "max_uses": 1})
    assert invite.status_code == 200
    code = invite.json["invite_code"]

    guests = [api.bearer(admin.post("/api/auth/register",
                                    {"username": name, "password": "correct-horse-4"}).json["token"])
              for name in ("gus", "gina")]
    assert guests[0].post("/api/networks/join", {"invite_code": code}).status_code == 200
    used_up = guests[1].post("/api/networks/join", {"invite_code": code})
    assert used_up.status_code == 409
    members = owner.get(f"/api/networks/{network_id}/members").json["members"]
    assert sorted(m["username"] for m in members) == ["gus", "olga"]
    assert guests[0].get(f"/api/networks/{network_id}").json["network"]["member_role"] == "member"


def test_self_registration_opens_a_new_organisation_and_nothing_else(api):
    api.bearer(ADMIN_TOKEN).post("/api/v1/tasks", {"title": "the default network's work"})
    signed = api.post("/api/v1/auth/register", {"email": "new@example.test",
                                                "password": "long-enough-1", "full_name": "New"})
    assert signed.status_code == 201 and signed.json["email"] == "new@example.test"
    newcomer = api.bearer(signed.json["access_token"])
    assert signed.json["network_id"] != settings().default_network_id
    assert newcomer.get("/api/v1/tasks").json == []
    assert newcomer.get("/api/v1/auth/me").json["full_name"] == "New"
    assert newcomer.get(f"/api/networks/{settings().default_network_id}").status_code == 403
    again = api.post("/api/v1/auth/register", {"email": "NEW@example.test",
                                               "password": "another-long-one"})
    assert again.status_code == 409, "emails are unique whatever their case"
