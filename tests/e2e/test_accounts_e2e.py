"""Accounts and security over HTTP, against a local stack listening on IPv4 and IPv6
loopback (127.0.0.1 and ::1): two source addresses for the IP rules and the lockout,
without ever leaving the machine. The tests run in file order: the IP rules and the
lockout, which change the deployment's configuration, come last."""
import time

import pyotp
import pytest
import requests
import websockets
import websockets.sync.client

from tests.localstack import RunningStack

PASSWORD = "correct-horse-battery"
ORIGIN = "http://localhost:3000"   # allowed by the local stack's default


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    running = RunningStack(tmp_path_factory.mktemp("accounts") / "data",
                           HOST="127.0.0.1,::1").start()
    running.v6 = f"http://[::1]:{running.port}"
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(hub, creds):
    return {"Authorization": f"Bearer {creds['admin_token']}"}


def post(hub, path, body=None, base=None, **kw):
    return requests.post((base or hub.base_url) + path, json=body, timeout=30, **kw)


def sign_up(hub, email, password=PASSWORD):
    made = post(hub, "/api/v1/auth/register", {"email": email, "password": password})
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['access_token']}"}


def test_mfa_round_trip_with_codes_from_pyotp(hub):
    me = sign_up(hub, "mfa@example.test")
    setup = post(hub, "/api/v1/auth/mfa/setup", headers=me).json()
    totp = pyotp.TOTP(setup["secret"])
    assert setup["otpauth_uri"] == totp.provisioning_uri(name="mfa@example.test",
                                                                    issuer_name="Switchboard")
    assert setup["qr_code"].startswith("data:image/png;base64,iVBOR")

    def code(steps=0):
        return totp.at(time.time() + steps * 30)

    used = code()
    on = post(hub, "/api/v1/auth/mfa/verify", {"code": used}, headers=me)
    assert on.status_code == 200, on.text
    recovery = on.json()["recovery_codes"]

    first = post(hub, "/api/v1/auth/login", {"email": "mfa@example.test", "password": PASSWORD})
    assert first.status_code == 200 and first.json()["mfa_required"] is True
    temp = first.json()["temp_token"]
    assert requests.get(hub.url("/api/v1/auth/me"),
                        headers={"Authorization": f"Bearer {temp}"}).status_code == 401
    step = {"temp_token": temp}
    assert post(hub, "/api/v1/auth/verify-mfa", {**step, "totp_code": used}).status_code == 401, \
        "the activation's code is spent"
    outside = post(hub, "/api/v1/auth/verify-mfa", {**step, "totp_code": code(3)})
    assert outside.status_code == 401, "outside the window of one step either side"
    done = post(hub, "/api/v1/auth/verify-mfa", {**step, "totp_code": code(1)})
    assert done.status_code == 200 and done.json()["access_token"], \
        "the next step's code is inside the window"

    # CommHub has no second step: the code comes with the password (a recovery code here,
    # since the TOTP steps of the next minute are spent).
    commhub = post(hub, "/api/auth/login", {"username": "mfa@example.test", "password": PASSWORD})
    assert commhub.status_code == 401 and commhub.json()["error"] == "mfa_required"
    commhub = post(hub, "/api/auth/login", {"username": "mfa@example.test", "password": PASSWORD,
                                            "totp_code": recovery[0]})
    assert commhub.status_code == 200 and commhub.json()["token"].startswith("utok_")
    again = post(hub, "/api/auth/login", {"username": "mfa@example.test", "password": PASSWORD,
                                          "totp_code": recovery[0]})
    assert again.status_code == 401, "a recovery code works once"


def test_password_policy_at_every_entry_point(hub, admin):
    short = "short-1"
    platform = post(hub, "/api/v1/auth/register", {"email": "p@example.test", "password": short})
    assert platform.status_code == 422
    assert platform.json()["details"]["errors"][0]["type"] == "password_policy.min_length"
    created = post(hub, "/api/v1/admin/users", {"email": "q@example.test", "password": short},
                   headers=admin)
    assert created.status_code == 422 and created.json()["error_code"] == "VAL_001"
    commhub = post(hub, "/api/auth/register", {"username": "rita", "password": "rita-rita-rita"},
                   headers=admin)
    assert commhub.status_code == 422 and commhub.json()["error"] == "password_policy"
    assert "reject_common" in commhub.json()["message"]

    user = post(hub, "/api/auth/register", {"username": "sam", "password": PASSWORD}, headers=admin)
    sam = {"Authorization": f"Bearer {user.json()['token']}"}
    change = post(hub, "/api/auth/password", {"old_password": PASSWORD, "new_password": short},
                  headers=sam)
    assert change.status_code == 422 and change.json()["error"] == "password_policy"
    me = sign_up(hub, "tess@example.test")
    change = post(hub, "/api/v1/auth/change-password",
                  {"current_password": PASSWORD, "new_password": PASSWORD}, headers=me)
    assert change.status_code == 422
    assert change.json()["details"]["errors"][0]["type"] == "password_policy.history_count"
    assert post(hub, "/api/v1/auth/change-password", {"current_password": PASSWORD,
                                                      "new_password": "a-fresh-long-phrase"},
                headers=me).json()["sessions_ended"] == 0


def test_an_api_key_works_in_three_dialects_until_revoked(hub, admin):
    owner = sign_up(hub, "keys@example.test")
    made = post(hub, "/api/v1/security/api-keys", {"name": "ci"}, headers=owner)
    assert made.status_code == 201
    key, key_id = made.json()["key"], made.json()["id"]
    bearer, header = {"Authorization": f"Bearer {key}"}, {"X-API-Key": key}
    assert requests.get(hub.url("/api/v1/tasks"), headers=bearer).status_code == 200
    sky = post(hub, "/api/v1/task/create", {"title": "by key", "description": "d"}, headers=header)
    assert sky.status_code == 200 and sky.json()["success"] is True
    assert requests.get(hub.url("/api/networks"), headers=bearer).json()["ok"] is True
    listed = requests.get(hub.url("/api/v1/security/api-keys"), headers=owner).json()
    assert listed[0]["last_used_at"] and key not in str(listed)

    assert requests.delete(hub.url(f"/api/v1/security/api-keys/{key_id}"),
                           headers=owner).status_code == 200
    assert requests.get(hub.url("/api/v1/tasks"), headers=bearer).status_code == 401
    refused = post(hub, "/api/v1/task/create", {"title": "t", "description": "d"}, headers=header)
    assert refused.status_code == 401 and refused.json()["success"] is False
    assert requests.get(hub.url("/api/networks"), headers=bearer).json()["error"] == "unauthorized"


def test_mutations_in_every_dialect_are_audited(hub, admin, creds):
    sky = {"X-Matrix-Secret": creds["shared_secret"]}
    assert post(hub, "/api/v1/tasks", {"title": "platform work"}, headers=admin).status_code == 201
    assert post(hub, "/api/v1/node/register", {"node_id": "sky-1", "name": "sky"},
                headers=sky).status_code == 200
    assert post(hub, "/api/v1/request", {"task_type": "nothing-does-this", "content": "x"},
                headers=admin).status_code == 404
    assert post(hub, "/v1/send", {"from": "bot", "content": "hi", "to": "sky-1"}).status_code == 200
    assert post(hub, "/api/auth/register", {"username": "audra", "password": PASSWORD},
                headers=admin).status_code == 200
    assert post(hub, "/api/auth/login",
                {"username": "audra", "password": PASSWORD}).status_code == 200

    rows = requests.get(hub.url("/api/v1/admin/audit?limit=6"), headers=admin).json()
    assert [(r["dialect"], r["action"], r["outcome"]) for r in rows] == [
        ("commhub", "login", "success"), ("commhub", "register", "success"),
        ("hub2d", "send.create", "success"), ("gemmanet", "request.create", "failure"),
        ("skycetus", "node.register", "success"), ("platform", "tasks.create", "success")]
    assert all(r["ip_address"] == "127.0.0.1" and r["created_at"] for r in rows)
    assert rows[4]["credential"] == "shared_secret" and rows[2]["actor_type"] == "anonymous"
    logs = requests.get(hub.url("/api/audit-log?limit=2"), headers=admin).json()
    assert [log["action"] for log in logs["logs"]] == ["login", "register"]
    assert logs["logs"][0]["user_id"] == logs["logs"][0]["actor_id"] and logs["count"] == 2


def test_refresh_rotates_and_of_racing_refreshes_with_one_token_one_wins(hub):
    sign_up(hub, "rota@example.test")

    def log_in():
        return post(hub, "/api/v1/auth/login", {"email": "rota@example.test",
                                                "password": PASSWORD}).json()

    def refresh(token):
        return post(hub, "/api/v1/auth/refresh", {"refresh_token": token})

    session = log_in()
    rotated = refresh(session["refresh_token"])
    assert rotated.status_code == 200 and rotated.json()["token_type"] == "bearer"
    assert rotated.json()["refresh_token"] != session["refresh_token"]
    assert refresh(session["refresh_token"]).status_code == 401, "a replay..."
    assert refresh(rotated.json()["refresh_token"]).status_code == 401, "...ends the session"

    # Four clients present one token at once: one rotation wins, the others are replays.
    from concurrent.futures import ThreadPoolExecutor
    token = log_in()["refresh_token"]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: refresh(token), range(4)))
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401]
    (won,) = [a.json() for a in answers if a.status_code == 200]
    assert refresh(won["refresh_token"]).status_code == 401
    assert requests.get(hub.url("/api/v1/auth/me"), timeout=30, headers={
        "Authorization": f"Bearer {won['access_token']}"}).status_code == 401


def test_a_new_login_email_needs_the_current_password(hub):
    me = sign_up(hub, "mover@example.test")

    def put_me(body):
        return requests.put(hub.url("/api/v1/auth/me"), json=body, headers=me, timeout=30)

    assert put_me({"full_name": "Mover"}).status_code == 200
    missing = put_me({"email": "moved@example.test"})
    assert missing.status_code == 422
    assert missing.json()["details"]["errors"][0]["field"] == "body -> current_password"
    assert put_me({"email": "moved@example.test", "current_password": "not-it-at-all"}).json() \
        == {"detail": "Current password is incorrect"}
    moved = put_me({"email": "moved@example.test", "current_password": PASSWORD})
    assert moved.status_code == 200 and moved.json()["email"] == "moved@example.test"
    assert post(hub, "/api/v1/auth/login", {"email": "moved@example.test",
                                            "password": PASSWORD}).status_code == 200


def test_cors_preflight_and_headers_on_every_answer(hub, admin):
    preflight = requests.options(hub.url("/api/v1/auth/login"), headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type"})
    assert preflight.status_code == 204, "it was a 405 listing methods the path lacks"
    assert preflight.headers["Allow"] == "POST, OPTIONS"
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    assert preflight.headers["Access-Control-Max-Age"] == "600"
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    other = requests.options(hub.url("/api/tasks"), headers={"Origin": "https://evil.test"})
    assert other.status_code == 403 and other.json()["error"] == "forbidden"
    assert "Access-Control-Allow-Origin" not in other.headers
    anywhere = requests.options(hub.url("/no/such/deep/path"), headers={"Origin": ORIGIN})
    assert anywhere.status_code == 204
    assert requests.delete(hub.url("/api/v1/auth/login")).headers["Allow"] == "POST, OPTIONS"
    answer = requests.get(hub.url("/api/v1/settings/health"), headers={**admin, "Origin": ORIGIN})
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Response-Time"].endswith("ms")
    health = answer.json()
    assert health["overall"] == "healthy", health
    assert {c["status"] for c in health["components"].values()} == {"healthy"}


def test_an_ip_rule_blocks_127_0_0_1_and_is_lifted_with_force_from_ipv6(hub, admin):
    rules = {"deny": ["127.0.0.1/32"]}
    mine = requests.put(hub.url("/api/v1/security/ip-rules"), json=rules, headers=admin)
    assert mine.status_code == 409 and "force" in mine.json()["detail"]
    forced = requests.put(hub.url("/api/v1/security/ip-rules"), json={**rules, "force": True},
                          headers=admin)
    assert forced.status_code == 200 and forced.json()["your_ip_allowed"] is False
    blocked = requests.get(hub.url("/health"))
    assert blocked.status_code == 403, "before any handler, even an open route"
    assert requests.get(hub.url("/api/networks"), headers=admin).json()["error"] == "forbidden"
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        websockets.sync.client.connect(f"{hub.ws_url}/ws?token={admin['Authorization'][7:]}")
    assert refused.value.response.status_code == 403, "WebSocket connects too"
    assert requests.get(hub.v6 + "/health").status_code == 200
    lifted = requests.put(hub.v6 + "/api/v1/security/ip-rules", json={"rules": [], "force": True},
                          headers=admin)
    assert lifted.status_code == 200 and lifted.json()["rules"] == []
    assert requests.get(hub.url("/health")).status_code == 200


def test_lockout_per_account_and_per_address_with_retry_after(hub, admin):
    def configure(**lockout):
        assert requests.put(hub.url("/api/v1/security"), json={"lockout": lockout},
                            headers=admin).status_code == 200

    configure(max_attempts=3, ip_max_attempts=100, duration_minutes=15)
    sign_up(hub, "lock@example.test")
    wrong = {"email": "lock@example.test", "password": "not-the-password"}
    assert [post(hub, "/api/v1/auth/login", wrong).status_code for _ in range(3)] == [401] * 3
    locked = post(hub, "/api/v1/auth/login", {**wrong, "password": PASSWORD})
    assert locked.status_code == 429 and 890 <= int(locked.headers["Retry-After"]) <= 900
    # The address: failures from ::1 over other accounts lock ::1 out, not 127.0.0.1.
    configure(ip_max_attempts=4)
    sign_up(hub, "other@example.test")
    for name in ("a", "b", "c", "d"):
        post(hub, "/api/v1/auth/login", {"email": f"{name}@example.test", "password": "x" * 12},
             base=hub.v6)
    from_v6 = post(hub, "/api/v1/auth/login", {"email": "other@example.test",
                                               "password": PASSWORD}, base=hub.v6)
    assert from_v6.status_code == 429 and from_v6.headers["Retry-After"]
    assert post(hub, "/api/v1/auth/login", {"email": "other@example.test",
                                            "password": PASSWORD}).status_code == 200
