"""Accounts and security, in process: what needs a controlled clock (TOTP steps, lockout
expiry, idle sessions) or a look at the stored items. tests/e2e/test_accounts_e2e.py
drives the same controls over HTTP."""
import boto3
import pyotp

from chalicelib.config import settings
from chalicelib.services.people import lockout, mfa, sessions
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_TOKEN, SHARED_SECRET

PASSWORD = "correct-horse-battery"


class Clock:
    """A pinned `now_ms` for the modules that read it."""

    def __init__(self, monkeypatch, *modules, start_ms=1_800_000_000_000):
        self.ms = start_ms
        for module in modules:
            monkeypatch.setattr(module, "now_ms", lambda: self.ms)

    def advance(self, seconds: float):
        self.ms += int(seconds * 1000)


def table_dump() -> str:
    client = boto3.client("dynamodb")
    return repr([client.scan(TableName=f"{settings().table_prefix}{t}")["Items"]
                 for t in ("identity", "records")])


def sign_up(api, email="ada@example.test", password=PASSWORD):
    made = api.post("/api/v1/auth/register", {"email": email, "password": password})
    assert made.status_code == 201, made.json
    return made.json


def login(api, email="ada@example.test", password=PASSWORD, **extra):
    return api.post("/api/v1/auth/login", {"email": email, "password": password, **extra})


def test_mfa_round_trip_with_replay_and_the_clock_window(api, monkeypatch):
    clock = Clock(monkeypatch, mfa)
    me = api.bearer(sign_up(api)["access_token"])
    # (this test sends many wrong codes on purpose: the lockout is tested on its own)
    assert me.put("/api/v1/security", {"lockout": {"max_attempts": 50}}).status_code == 200
    setup = me.post("/api/v1/auth/mfa/setup")
    assert setup.status_code == 200
    secret = setup.json["secret"]
    assert setup.json["otpauth_uri"].startswith("otpauth://totp/Switchboard:ada%40example.test?")
    assert f"secret={secret}" in setup.json["otpauth_uri"]
    assert setup.json["qr_code"].startswith("data:image/png;base64,")
    assert secret not in table_dump(), "the TOTP secret is stored sealed, never in clear"
    totp = pyotp.TOTP(secret)

    def code(steps=0):
        return totp.at(clock.ms // 1000 + steps * 30)

    assert me.post("/api/v1/auth/mfa/verify", {"code": "000000" if code() != "000000"
                                               else "111111"}).status_code == 400
    assert login(api).json["access_token"], "MFA is not on until a code verifies"
    activated = me.post("/api/v1/auth/mfa/verify", {"code": code()})
    assert activated.status_code == 200 and activated.json["mfa_enabled"] is True
    recovery = activated.json["recovery_codes"]
    assert len(recovery) == 10 and len(set(recovery)) == 10
    assert not any(c.replace("-", "") in table_dump() for c in recovery), "stored hashed"
    assert me.get("/api/v1/auth/me").json["mfa_enabled"] is True

    # A password alone gets the peer's MFA-required shape and no tokens.
    first = login(api)
    assert first.status_code == 200
    assert first.json["mfa_required"] is True and "access_token" not in first.json
    temp = first.json["temp_token"]
    assert api.bearer(temp).get("/api/v1/auth/me").status_code == 401, \
        "the MFA token authorizes nothing (the peer's was an access token)"
    # The code activation used is spent: replay refused.
    replay = api.post("/api/v1/auth/verify-mfa", {"temp_token": temp, "totp_code": code()})
    assert replay.status_code == 401 and replay.json == {"detail": "Invalid TOTP code"}
    # One step ahead is inside the window, two steps ahead is not.
    assert api.post("/api/v1/auth/verify-mfa", {"temp_token": temp,
                                                "totp_code": code(2)}).status_code == 401
    step_ahead = api.post("/api/v1/auth/verify-mfa", {"temp_token": temp, "totp_code": code(1)})
    assert step_ahead.status_code == 200 and step_ahead.json["access_token"]
    assert api.post("/api/v1/auth/verify-mfa", {"temp_token": temp, "totp_code": code(1)}) \
        .status_code == 401, "a challenge is used once"

    # Thirty seconds later the code of the step just used is still in the window, but used.
    clock.advance(30)
    assert login(api, totp_code=code(0)).status_code == 401
    clock.advance(30)
    assert login(api, totp_code=code(0)).status_code == 200, "a later step is accepted"
    # The step before the last one used is refused too, although inside the window.
    clock.advance(30)
    assert login(api, totp_code=code(-1)).status_code == 401

    # A recovery code works once, in place of a code.
    rescue = api.post("/api/v1/auth/verify-mfa", {"temp_token": login(api).json["temp_token"],
                                                  "recovery_code": recovery[0].upper()})
    assert rescue.status_code == 200
    again = api.post("/api/v1/auth/verify-mfa", {"temp_token": login(api).json["temp_token"],
                                                 "recovery_code": recovery[0]})
    assert again.status_code == 401

    # Turning MFA off needs the password and a current code.
    assert me.post("/api/v1/auth/mfa/disable", {"password": "wrong-password-x",
                                                "code": code(1)}).status_code == 400
    assert me.post("/api/v1/auth/mfa/disable", {"password": PASSWORD,
                                                "code": "123456"}).status_code == 400
    off = me.post("/api/v1/auth/mfa/disable", {"password": PASSWORD, "code": code(1)})
    assert off.status_code == 200 and login(api).json["access_token"]


def test_a_challenge_ends_after_five_wrong_codes(api, monkeypatch):
    Clock(monkeypatch, mfa)
    me = api.bearer(sign_up(api)["access_token"])
    secret = me.post("/api/v1/auth/mfa/setup").json["secret"]
    me.post("/api/v1/auth/mfa/verify", {"code": pyotp.TOTP(secret).at(1_800_000_000)})
    temp = login(api).json["temp_token"]
    wrong = "999999" if pyotp.TOTP(secret).at(1_800_000_030) != "999999" else "888888"
    for _ in range(5):
        assert api.post("/api/v1/auth/verify-mfa", {"temp_token": temp,
                                                    "totp_code": wrong}).status_code == 401
    late = api.post("/api/v1/auth/verify-mfa",
                    {"temp_token": temp, "totp_code": pyotp.TOTP(secret).at(1_800_000_030)})
    assert late.status_code == 401 and late.json == {"detail": "Invalid or expired MFA token"}


def test_lockout_per_account_and_per_address_answers_429_with_retry_after(api, monkeypatch):
    clock = Clock(monkeypatch, lockout)
    admin = api.bearer(ADMIN_TOKEN)
    assert admin.put("/api/v1/security", {"lockout": {"max_attempts": 3, "duration_minutes": 20,
                                                      "ip_max_attempts": 6}}).status_code == 200
    sign_up(api)
    for _ in range(3):
        assert login(api, password="not-the-password").status_code == 401
    locked = login(api)  # the right password too, while locked
    # The deployment's configuration is a floor: ada's own organisation cannot loosen it.
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "1200"
    assert locked.json == {"detail": "too many failed logins; try again in 1200 seconds"}
    # An unknown login locks the same way: a lockout tells nothing of who exists.
    for _ in range(3):
        assert login(api, email="nobody@example.test").status_code == 401
    ghost = login(api, email="nobody@example.test")
    assert ghost.status_code == 429 and ghost.json == locked.json
    # Six failures from this address, over any accounts, lock the address out.
    sign_up(api, email="bob@example.test")
    assert login(api, email="bob@example.test").status_code == 429
    commhub = api.post("/api/auth/login", {"username": "bob@example.test",
                                           "password": PASSWORD})
    assert commhub.status_code == 429 and commhub.json["error"] == "locked", \
        "the address is locked after 6 failures, in every dialect"
    clock.advance(1199)
    assert login(api).status_code == 429 and login(api).headers["Retry-After"] == "1"
    clock.advance(2)
    assert login(api).status_code == 200


def test_what_is_useless_once_expired_is_left_to_the_identity_tables_ttl(api):
    """Expired sessions would otherwise pile up under their user (each login reads them all)
    and every unknown login tried would leave a counter forever."""
    from chalicelib.store.identity import IdentityRecord as R
    from chalicelib.store.tables import TTL_ATTRIBUTES
    assert TTL_ATTRIBUTES[R] == "purge_at"
    user_id = sign_up(api)["user"]["id"]
    key = api.bearer(login(api).json["access_token"]).post("/api/v1/security/api-keys",
                                                           {"name": "ci"})
    assert key.status_code == 201
    assert login(api, email="nobody@example.test").status_code == 401

    tokens = list(R.query(f"USER#{user_id}", R.sk.startswith("TOKEN#")))
    sessions_ = [t for t in tokens if t.kind == "refresh_token"]
    assert len(sessions_) == 2 and all(
        t.purge_at == t.expires_at // 1000 + 86_400 for t in sessions_), "a day after expiry"
    for session in sessions_:
        assert R.get(f"CRED#{session.secret_hash}", "CRED").purge_at == session.purge_at
        pointer = R.get(f"NET#{session.network_id}", f"SESSION#{session.token_id}")
        assert pointer.purge_at == session.purge_at
    assert [t.purge_at for t in tokens if t.kind == "api_key"] == [None], "it never expires"
    assert R.get(f"USER#{user_id}", "PROFILE").purge_at is None
    counters = [r for r in R.scan(R.pk.startswith("LOCKOUT#"))]
    window_end_s = max(r.window_start for r in counters) // 1000 + 15 * 60
    assert counters and all(window_end_s <= r.purge_at <= window_end_s + 120 for r in counters)


def test_password_policy_names_each_rule_and_remembers_earlier_passwords(api):
    admin = api.bearer(ADMIN_TOKEN)
    weak = api.post("/api/v1/auth/register", {"email": "eve@example.test", "password": "eve12"})
    assert weak.status_code == 422
    assert [e["type"] for e in weak.json["details"]["errors"]] == ["password_policy.min_length"]
    policy = admin.put("/api/v1/security/password-policy",
                       {"require_uppercase": True, "require_numbers": "true",
                        "require_special": True, "min_length": "14"}).json["policy"]
    assert policy["min_length"] == 14 and policy["require_numbers"] is True
    for bad, problem in (({"min_length": "long"}, "int_parsing"), ({"min_length": 7}, None),
                         ({"reject_common": "maybe"}, "bool_parsing")):
        refused = admin.put("/api/v1/security/password-policy", {"history_count": 2, **bad})
        assert refused.status_code == 422
        error = refused.json["details"]["errors"][0]
        assert error["field"] == f"body -> {next(iter(bad))}", "named where it was sent"
        assert problem is None or error["type"] == problem
    assert admin.get("/api/v1/security/password-policy").json["history_count"] == 5, \
        "nothing of a refused change is stored"
    # The default network's policy is the deployment's: it governs self-registration.
    refused = api.post("/api/v1/auth/register", {"email": "eve@example.test",
                                                 "password": "lowercase only!"})
    assert refused.status_code == 422
    assert [e["type"] for e in refused.json["details"]["errors"]] == [
        "password_policy.require_uppercase", "password_policy.require_numbers"]
    assert [e["field"] for e in refused.json["details"]["errors"]] == ["body -> password"] * 2
    common = admin.post("/api/v1/admin/users", {"email": "carol@example.test",
                                                "password": "Password123456!"})
    assert common.status_code == 201, "not in the list of common passwords"
    own_name = admin.post("/api/auth/register", {"username": "carolina",
                                                 "password": "Carolina-2026-xyz"})
    assert own_name.status_code == 422 and own_name.json["error"] == "password_policy"
    assert "reject_common" in own_name.json["message"]

    carol = api.bearer(login(api, "carol@example.test", "Password123456!").json["access_token"])
    current = "Password123456!"
    for new in ("Second-pass-2026", "Third-pass-2026!"):
        changed = carol.post("/api/v1/auth/change-password",
                             {"current_password": current, "new_password": new})
        assert changed.status_code == 200, changed.json
        current = new
    reused = carol.post("/api/v1/auth/change-password",
                        {"current_password": current, "new_password": "Password123456!"})
    assert reused.status_code == 422
    assert reused.json["details"]["errors"][0]["type"] == "password_policy.history_count"


def test_change_password_ends_every_other_session_of_the_user(api):
    sign_up(api)
    keeping = login(api).json
    platform = [login(api).json for _ in range(2)]
    commhub = api.post("/api/auth/login", {"username": "ada@example.test",
                                           "password": PASSWORD}).json["token"]
    me = api.bearer(keeping["access_token"])
    assert len(me.get("/api/v1/security/sessions").json["items"]) == 5  # + the sign-up's
    changed = me.post("/api/v1/auth/change-password", {"current_password": PASSWORD,
                                                       "new_password": "a-whole-new-phrase"})
    assert changed.status_code == 200 and changed.json["sessions_ended"] == 4
    for session in platform:
        assert api.bearer(session["access_token"]).get("/api/v1/auth/me").status_code == 401
        assert api.post("/api/v1/auth/refresh",
                        {"refresh_token": session["refresh_token"]}).status_code == 401
    assert api.bearer(commhub).get("/api/auth/me").status_code == 401
    assert me.get("/api/v1/auth/me").status_code == 200, "the caller's own session stays"
    assert [s["current"] for s in me.get("/api/v1/security/sessions").json["items"]] == [True]


def test_sessions_are_listed_revoked_at_once_and_end_when_idle(api, monkeypatch):
    clock = Clock(monkeypatch, sessions)
    monkeypatch.setattr("chalicelib.services.people.credentials.now_ms", lambda: clock.ms)
    sign_up(api)
    mine = api.post("/api/v1/auth/login", {"email": "ada@example.test", "password": PASSWORD},
                    headers={"User-Agent": "pytest-agent/1"})
    other = login(api).json
    me = api.bearer(mine.json["access_token"])
    listed = me.get("/api/v1/security/sessions").json["items"]
    assert len(listed) == 3 and [s["current"] for s in listed] == [False, True, False]
    assert {s["ip_address"] for s in listed} == {"127.0.0.1"}
    assert listed[1]["user_agent"] == "pytest-agent/1"
    admin_view = api.bearer(ADMIN_TOKEN).get("/api/v1/security/sessions").json["items"]
    assert all(s["user_id"] != listed[0]["user_id"] for s in admin_view), \
        "an administrator sees the sessions of their own organisation only"

    other_id = listed[0]["id"]  # the newest: `other`
    assert api.bearer(other["access_token"]).get("/api/v1/auth/me").status_code == 200
    assert me.delete(f"/api/v1/security/sessions/{other_id}").status_code == 204
    survivors = {s["id"] for s in me.get("/api/v1/security/sessions").json["items"]}
    assert other_id not in survivors and len(survivors) == 2
    assert api.bearer(other["access_token"]).get("/api/v1/auth/me").status_code == 401
    assert api.post("/api/v1/auth/refresh",
                    {"refresh_token": other["refresh_token"]}).status_code == 401
    assert me.delete(f"/api/v1/security/sessions/{other_id}").status_code == 404

    clock.advance(29 * 60)
    assert me.get("/api/v1/auth/me").status_code == 200, "a use resets the idle clock"
    clock.advance(31 * 60)
    idle = me.get("/api/v1/auth/me")
    assert idle.status_code == 401 and idle.json == {"detail": "session has ended (idle)"}


def refresh(api, token):
    return api.post("/api/v1/auth/refresh", {"refresh_token": token})


def test_each_refresh_rotates_the_refresh_token_and_a_replay_ends_the_session(api):
    owner = api.bearer(sign_up(api)["access_token"])
    session = login(api).json
    listed = owner.get("/api/v1/security/sessions").json["items"]
    first = refresh(api, session["refresh_token"])
    assert first.status_code == 200
    assert set(first.json) == {"access_token", "refresh_token", "token_type", "expires_in",
                               "network_id"} and first.json["token_type"] == "bearer"
    assert first.json["refresh_token"] != session["refresh_token"], "a new one each time"
    assert [(s["id"], s["created_at"], s["expires_at"]) for s in
            owner.get("/api/v1/security/sessions").json["items"]] == [
        (s["id"], s["created_at"], s["expires_at"]) for s in listed], \
        "the same session, listed once, under its id, ending when it would have ended"
    second = refresh(api, first.json["refresh_token"])
    assert second.status_code == 200, "the new token is the one that works"
    assert refresh(api, first.json["refresh_token"]).status_code == 401
    assert first.json["refresh_token"] not in table_dump(), "stored hashed, as at login"
    alive = api.bearer(second.json["access_token"])

    # ... which told us that someone else holds a copy: the whole session has ended.
    assert alive.get("/api/v1/auth/me").status_code == 401
    assert api.bearer(session["access_token"]).get("/api/v1/auth/me").status_code == 401
    assert refresh(api, second.json["refresh_token"]).status_code == 401
    replayed = refresh(api, session["refresh_token"])  # the oldest of the chain: still known
    assert replayed.status_code == 401
    assert replayed.json == {"detail": "refresh token already used: the session has ended"}
    assert [s["id"] for s in owner.get("/api/v1/security/sessions").json["items"]] == [
        s["id"] for s in listed if s["id"] != listed[0]["id"]], "other sessions live on"
    reuses = owner.get("/api/v1/admin/audit?action=session.refresh_reuse").json
    assert [(r["outcome"], r["resource_id"], r["details"]["session_ended"]) for r in reuses] == [
        ("denied", listed[0]["id"], False), ("denied", listed[0]["id"], True)]


def test_two_refreshes_racing_with_one_token_cannot_both_win(api, monkeypatch):
    """The second refresh starts after the first has read the session and before it writes:
    the rotation is one conditional transaction, so the first one's write fails — and,
    its token being rotated by then, it counts as a replay."""
    from chalicelib.services.people import credentials
    sign_up(api)
    token = login(api).json["refresh_token"]
    rotate, raced = credentials.rotate, {}

    def interleaved(record, listing):
        if "second" not in raced:
            raced["second"] = None
            raced["second"] = refresh(api, token)
        return rotate(record, listing)

    monkeypatch.setattr(credentials, "rotate", interleaved)
    first = refresh(api, token)
    second = raced["second"]
    assert [first.status_code, second.status_code] == [401, 200]
    assert refresh(api, second.json["refresh_token"]).status_code == 401
    assert api.bearer(second.json["access_token"]).get("/api/v1/auth/me").status_code == 401


def test_a_new_login_email_needs_the_current_password_and_a_new_name_does_not(api):
    me = api.bearer(sign_up(api)["access_token"])
    renamed = me.put("/api/v1/auth/me", {"full_name": "Ada Lovelace"})
    assert renamed.status_code == 200 and renamed.json["full_name"] == "Ada Lovelace"
    assert me.put("/api/v1/auth/me", {"email": "ADA@example.test"}).status_code == 200, \
        "the same address is no change"

    # A stolen access token alone cannot take the account over through its login email.
    missing = me.put("/api/v1/auth/me", {"full_name": "Mallory", "email": "mal@example.test"})
    assert missing.status_code == 422
    assert [(e["field"], e["message"]) for e in missing.json["details"]["errors"]] == [
        ("body -> current_password", "'current_password' is required to change the email")]
    wrong = me.put("/api/v1/auth/me", {"email": "mal@example.test",
                                       "current_password": "not-the-password"})
    assert wrong.status_code == 400 and wrong.json == {"detail": "Current password is incorrect"}
    commhub = api.bearer(api.post("/api/auth/login", {"username": "ada@example.test",
                                                      "password": PASSWORD}).json["token"])
    refused = commhub.put("/api/auth/me", {"email": "mal@example.test"})
    assert refused.status_code == 400 and refused.json == {
        "error": "validation_error",
        "message": "'current_password' is required to change the email"}, \
        "the same rule, in CommHub's dialect (its bad input is a 400)"
    assert me.get("/api/v1/auth/me").json["full_name"] == "Ada Lovelace", \
        "a refused change changes nothing"
    assert login(api, "mal@example.test").status_code == 401

    moved = me.put("/api/v1/auth/me", {"email": "ada.l@example.test", "current_password": PASSWORD})
    assert moved.status_code == 200 and moved.json["email"] == "ada.l@example.test"
    assert login(api).status_code == 401 and login(api, "ada.l@example.test").status_code == 200
    rows = me.get("/api/v1/admin/audit?action=profile.update").json
    assert [(r["outcome"], r["status_code"], (r["details"] or {}).get("email_changed")) for r in rows] == [
        ("success", 200, True), ("failure", 400, None), ("failure", 422, None),
        ("success", 200, None), ("success", 200, None)]
    assert PASSWORD not in repr(rows) and "not-the-password" not in table_dump()


def test_a_sixth_login_ends_the_oldest_session(api):
    first = sign_up(api)["access_token"]
    tokens = [login(api).json["access_token"] for _ in range(5)]
    assert api.bearer(first).get("/api/v1/auth/me").status_code == 401
    assert all(api.bearer(t).get("/api/v1/auth/me").status_code == 200 for t in tokens)


def test_admins_who_must_use_mfa_can_only_set_it_up(api, monkeypatch):
    Clock(monkeypatch, mfa)
    owner = sign_up(api)
    me = api.bearer(owner["access_token"])
    assert me.put("/api/v1/security", {"mfa": {"required_for_admins": True}}).status_code == 200
    restricted = login(api).json
    assert restricted["mfa_setup_required"] is True
    limited = api.bearer(restricted["access_token"])
    blocked = limited.get("/api/v1/tasks")
    assert blocked.status_code == 403 and "set up MFA first" in blocked.json["detail"]
    assert limited.get("/api/v1/auth/me").status_code == 200
    secret = limited.post("/api/v1/auth/mfa/setup").json["secret"]
    assert limited.post("/api/v1/auth/mfa/verify",
                        {"code": pyotp.TOTP(secret).at(1_800_000_000)}).status_code == 200
    temp = login(api).json["temp_token"]
    full = api.post("/api/v1/auth/verify-mfa", {"temp_token": temp,
                                                "totp_code": pyotp.TOTP(secret).at(1_800_000_030)})
    assert "mfa_setup_required" not in full.json
    assert api.bearer(full.json["access_token"]).get("/api/v1/tasks").status_code == 200


def test_api_key_scopes_narrow_what_a_key_may_do(api):
    admin = api.bearer(ADMIN_TOKEN)
    read_only = admin.post("/api/v1/security/api-keys", {"name": "dash", "scopes": ["read"]})
    assert read_only.status_code == 201 and read_only.json["scopes"] == ["read"]
    reader = api.as_(**{"X-API-Key": read_only.json["key"]})
    assert reader.get("/api/v1/tasks").status_code == 200
    refused = reader.post("/api/v1/tasks", {"title": "no"})
    assert refused.status_code == 403 and "'write'" in refused.json["detail"]
    assert reader.get("/api/v1/security").status_code == 403, "admin routes need 'admin'"
    assert reader.post("/api/v1/security/api-keys", {"name": "wider",
                                                     "scopes": ["write"]}).status_code == 403
    member = api.bearer(sign_up(api)["access_token"])
    assert member.post("/api/v1/security/api-keys", {"scopes": ["admin"]}).status_code == 201, \
        "an organisation's owner administers it"
    listed = admin.get("/api/v1/security/api-keys").json
    assert listed[0]["last_used_at"] and listed[0]["prefix"].endswith("…")
    assert read_only.json["key"] not in repr(listed) and "key" not in listed[0]


def test_ip_rules_are_validated_and_refuse_before_any_handler(api, monkeypatch):
    from chalice import local
    owner = api.bearer(sign_up(api)["access_token"])
    bad = owner.put("/api/v1/security/ip-rules", {"rules": [
        {"cidr": "10.0.0.0/33"}, {"cidr": "2001:db8::/129"}, {"cidr": "::1/128"}]})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json["details"]["errors"]] == [
        "body -> rules -> 0 -> cidr", "body -> rules -> 1 -> cidr"]
    lists = owner.put("/api/v1/security/ip-rules", {"allow": ["10.0.0.0/8", "10.1/8"],
                                                    "block": ["fe80::/zz"]})
    assert [e["field"] for e in lists.json["details"]["errors"]] == [
        "body -> allow -> 1", "body -> block -> 0"], "named where they were sent"
    mine = owner.put("/api/v1/security/ip-rules", {"deny": ["127.0.0.0/8"]})
    assert mine.status_code == 409 and '"force": true' in mine.json["detail"]
    saved = owner.put("/api/v1/security/ip-rules", {"allow": ["203.0.113.0/24", "2001:db8::/32"],
                                                    "force": True})
    assert saved.status_code == 200 and saved.json["allow"] == ["203.0.113.0/24", "2001:db8::/32"]
    assert owner.get("/api/v1/tasks").status_code == 403, "this network refuses 127.0.0.1 now"
    assert api.bearer(ADMIN_TOKEN).get("/api/v1/tasks").status_code == 200, \
        "another network's rules do not apply"
    monkeypatch.setattr(local.LambdaEventConverter, "LOCAL_SOURCE_IP", "2001:db8::7")
    assert owner.get("/api/v1/tasks").status_code == 200
    assert owner.put("/api/v1/security/ip-rules", {"rules": []}).status_code == 200
    monkeypatch.undo()
    assert owner.get("/api/v1/tasks").status_code == 200


def test_a_networks_ip_rules_hold_when_a_member_acts_in_it_from_another_network(api,
                                                                                monkeypatch):
    """A user's CommHub token is issued in one network and may act in the user's others
    (`network_id`): each network's rules still decide who reaches it."""
    from chalice import local
    made = api.bearer(ADMIN_TOKEN).post("/api/auth/register", {"username": "nadia",
                                                                "password": PASSWORD})
    token = api.bearer(made.json["token"])
    assert made.json["network_id"] == settings().default_network_id
    outpost = token.post("/api/networks", {"name": "outpost"}).json["network_id"]
    owner = api.bearer(login(api, "nadia").json["access_token"])  # lands in the network it owns
    assert owner.put("/api/v1/security/ip-rules", {"allow": ["203.0.113.0/24"],
                                                   "force": True}).status_code == 200

    scoped = f"?network_id={outpost}"
    assert token.get("/api/tasks").status_code == 200, "its own network has no rules"
    for refused in (token.get(f"/api/tasks{scoped}"), token.get(f"/api/networks/{outpost}"),
                    token.put(f"/api/networks/{outpost}", {"description": "from outside"}),
                    token.post("/api/tokens", {"network_id": outpost, "name": "t"}),
                    token.post(f"/api/networks/{outpost}/invite", {"role": "member"})):
        assert refused.status_code == 403 and refused.json["error"] == "forbidden", refused.json
    monkeypatch.setattr(local.LambdaEventConverter, "LOCAL_SOURCE_IP", "203.0.113.9")
    assert token.get(f"/api/tasks{scoped}").status_code == 200, "an allowed address reaches it"


def test_settings_are_typed_validated_and_secrets_stay_sealed(api):
    admin = api.bearer(ADMIN_TOKEN)
    everything = admin.get("/api/v1/settings").json
    assert everything["general"]["max_retries"] == {
        "value": 3, "type": "int", "description": "Retries of a failed task", "is_secret": False,
        "is_default": True, "default": 3, "min": 0, "max": 100}
    assert set(everything) == {"llm", "email", "security", "general", "notifications", "storage"}
    changed = admin.put("/api/v1/settings/general/max_retries", {"value": "7"})
    assert changed.json == {"key": "general.max_retries", "status": "updated", "value": 7}
    assert admin.put("/api/v1/settings/general/max_retries", {"value": "many"}).status_code == 422
    assert admin.put("/api/v1/settings/general/nope", {"value": 1}).status_code == 404
    key = "sk-ant-secret-value-1234567890"
    assert admin.put("/api/v1/settings/llm/anthropic_api_key", {"value": key}).json["value"] == \
        "********"
    shown = admin.get("/api/v1/settings").json["llm"]["anthropic_api_key"]
    assert shown["value"] == "********" and shown["is_set"] is True and key not in table_dump()
    from chalicelib.services.people import settings as stored
    assert stored.secret_value(settings().default_network_id, "llm", "anthropic_api_key") == key

    bulk = admin.put("/api/v1/settings/bulk", {"settings": {"general.log_level": "DEBUG",
                                                           "storage.max_file_size_mb": "0",
                                                           "general.max_retries": 2}})
    assert bulk.status_code == 422, "one bad value: nothing is written"
    assert admin.get("/api/v1/settings").json["general"]["log_level"]["value"] == "INFO"
    bulk = admin.put("/api/v1/settings/bulk", {"settings": {"general.log_level": "DEBUG",
                                                           "security.max_login_attempts": 9}})
    assert bulk.json == {"updated": 2}
    assert admin.get("/api/v1/security").json["lockout"]["max_attempts"] == 9, \
        "/security and /settings are one store"
    member = api.bearer(sign_up(api)["access_token"])
    assert member.get("/api/v1/settings").json["general"]["log_level"]["value"] == "INFO", \
        "settings belong to a network"


def test_settings_health_probes_each_dependency(api):
    health = api.bearer(ADMIN_TOKEN).get("/api/v1/settings/health").json
    components = health["components"]
    assert components["database"]["status"] == "healthy"
    assert components["storage"]["status"] == "healthy"
    # The tests' management endpoint (localhost:9) refuses connections.
    assert components["websocket"]["status"] == "unhealthy"
    assert health["overall"] == "degraded"
    assert all(isinstance(c["latency_ms"], float) for c in components.values())


def test_every_mutation_is_audited_once_without_secrets_or_bodies(api):
    admin = api.bearer(ADMIN_TOKEN)
    sky = api.as_(**{"X-Matrix-Secret": SHARED_SECRET})
    api.post("/api/v1/auth/login", {"email": ADMIN_EMAIL, "password": "wrong-password-1"})
    assert admin.post("/api/v1/tasks", {"title": "confidential title"}).status_code == 201
    assert sky.post("/api/v1/task/create", {"title": "sky work",
                                            "description": "d"}).status_code == 200
    registered = admin.post("/api/auth/register", {"username": "zed", "password": PASSWORD})
    assert registered.status_code == 200
    assert api.post("/api/auth/login", {"username": "zed", "password": PASSWORD}).status_code == 200
    rows = admin.get("/api/v1/admin/audit?limit=10").json
    assert [r["action"] for r in rows[:5]] == ["login", "register", "task.create",
                                               "tasks.create", "login"]
    login_ok, register, sky_task, task, failed = rows[:5]
    assert failed["outcome"] == "denied" and failed["status_code"] == 401
    assert failed["actor_type"] == "user" and register["credential"] == "admin_token"
    assert task["dialect"] == "platform" and task["resource_type"] == "tasks"
    assert sky_task["dialect"] == "skycetus" and sky_task["credential"] == "shared_secret"
    assert login_ok["actor_type"] == "user" and login_ok["ip_address"] == "127.0.0.1"
    dump = table_dump()
    for secret in ("wrong-password-1", PASSWORD, ADMIN_TOKEN, registered.json["token"]):
        assert secret not in repr(rows) and secret not in dump
    assert "confidential title" not in dump, "bodies are not recorded"
    commhub = admin.get("/api/audit-log?limit=3").json
    assert commhub["ok"] is True and commhub["count"] == 3
    assert [log["action"] for log in commhub["logs"][:2]] == ["login", "register"]
    assert commhub["logs"][0]["user_id"] and " " in commhub["logs"][0]["created_at"]


def test_websocket_connects_are_audited_in_the_sockets_dialect(api):
    from chalice.app import WebsocketEvent
    from chalicelib import ws

    def connect(connection_id, path, **query):
        event = {"requestContext": {"connectionId": connection_id, "routeKey": "$connect",
                                    "eventType": "CONNECT", "path": path, "requestId": "r1",
                                    "identity": {"sourceIp": "198.51.100.4"},
                                    "domainName": "localhost", "stage": "api"},
                 "queryStringParameters": query or None, "headers": {}}
        return ws.connect(WebsocketEvent(event, None))["statusCode"]

    assert connect("c-events", "/ws", token=ADMIN_TOKEN) == 200
    assert connect("c-forged", "/ws/node", token="sbk_forged") == 401
    rows = api.bearer(ADMIN_TOKEN).get("/api/v1/admin/audit?action=websocket.connect").json
    assert [(r["dialect"], r["outcome"], r["status_code"], r["resource_id"], r["route"])
            for r in rows] == [("gemmanet", "denied", 401, "c-forged", "/ws/node"),
                               ("platform", "success", 200, "c-events", "/ws")]
    assert rows[1]["credential"] == "admin_token" and rows[0]["actor_type"] == "anonymous"
    assert {r["ip_address"] for r in rows} == {"198.51.100.4"}
    assert ADMIN_TOKEN not in repr(rows)


def test_a_failing_audit_write_never_fails_the_request(api, monkeypatch):
    from chalicelib.services import audit

    def broken(*args, **kwargs):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(audit, "append", broken)
    made = api.bearer(ADMIN_TOKEN).post("/api/v1/tasks", {"title": "still made"})
    assert made.status_code == 201


def test_cors_and_security_headers_on_every_answer(api, settings_env):
    """(Preflights go through API Gateway's ANY method, which chalice's test client does
    not model: tests/e2e/test_accounts_e2e.py sends them over HTTP.)"""
    settings_env(SWITCHBOARD_CORS_ORIGINS="https://app.example.test")
    answer = api.get("/health", headers={"Origin": "https://app.example.test"})
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example.test"
    assert answer.headers["Vary"] == "Origin"
    assert "X-Response-Time" in answer.headers["Access-Control-Expose-Headers"]
    elsewhere = api.get("/health", headers={"Origin": "https://evil.test"})
    assert "Access-Control-Allow-Origin" not in elsewhere.headers
    refused = api.delete("/api/v1/auth/login", headers={"Origin": "https://app.example.test"})
    for response in (answer, elsewhere, refused):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert response.headers["X-Response-Time"].endswith("ms")
        assert "Strict-Transport-Security" not in response.headers, "plain HTTP locally"
    settings_env(SWITCHBOARD_HSTS="1")
    assert api.get("/health").headers["Strict-Transport-Security"].startswith("max-age=")


def test_health_answers_in_the_callers_dialect(api):
    assert api.get("/health").json["status"] == "healthy"
    user = api.bearer(ADMIN_TOKEN).post("/api/auth/register",
                                        {"username": "cora", "password": PASSWORD}).json["token"]
    commhub = api.bearer(user).get("/health").json
    assert commhub["status"] == "ok" and set(commhub) == {"status", "version", "uptime"}
    assert api.get("/health?dialect=commhub").json["status"] == "ok"
    assert api.get("/health", headers={"X-Switchboard-Dialect": "platform"}).json["status"] == \
        "healthy"


def test_governance_is_for_administrators(api):
    admin = api.bearer(ADMIN_TOKEN)
    assert admin.post("/api/auth/register", {"username": "mira", "password": PASSWORD}) \
        .json["user"]["role"] == "admin", "the network's first member administers it"
    admin.post("/api/auth/register", {"username": "milo", "password": PASSWORD})
    member = api.bearer(api.post("/api/auth/login", {"username": "milo",
                                                      "password": PASSWORD}).json["token"])
    for path in ("/api/v1/security", "/api/v1/settings", "/api/v1/settings/health",
                 "/api/v1/admin/audit", "/api/v1/security/ip-rules",
                 "/api/v1/security/password-policy", "/api/audit-log"):
        assert member.get(path).status_code == 403, path
    assert member.put("/api/v1/security", {"lockout": {"max_attempts": 100}}).status_code == 403
    own = member.get("/api/v1/security/sessions").json["items"]
    assert len(own) == 2 and len({s["user_id"] for s in own}) == 1, \
        "their own sessions only: registration's and login's"
    # Owners of another network read its CommHub audit log, with a credential of this one.
    workshop = member.post("/api/networks", {"name": "workshop"}).json["network_id"]
    assert member.post(f"/api/networks/{workshop}/invite", {"role": "member"}).status_code == 200
    theirs = member.get(f"/api/audit-log?network_id={workshop}")
    assert theirs.status_code == 200, theirs.json
    assert [log["action"] for log in theirs.json["logs"]] == ["networks.invite"], \
        "recorded in the network it acted in"
    assert member.get(f"/api/audit-log?network_id={settings().default_network_id}") \
        .status_code == 403, "not an administrator of the default network"
