"""Multi-factor authentication: TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps) and
single-use recovery codes.

- `setup` makes a new secret and returns it once (with its otpauth:// URI and a QR code);
  it is stored sealed by the vault (services/vault.py: KMS envelope encryption, bound to
  the user), never in clear, and is pending until `activate` sees a valid code from it;
- a code is accepted within one step either side of now (clock drift) and never twice:
  the last step accepted is kept on the user, and only a later step is accepted after it
  (a conditional write, so two racing uses of one code cannot both win);
- activation returns ten recovery codes, once; only their keyed hashes are kept, and
  each works once (removed by a conditional write);
- `disable` needs the password and a current code (or a recovery code).

pyotp and segno are imported when used: few requests touch MFA.
"""
from __future__ import annotations

import hmac
import secrets as random

from pynamodb.exceptions import UpdateError

from chalicelib.auth import secrets
from chalicelib.clock import now_ms
from chalicelib.errors import BadRequest, Conflict
from chalicelib.services import audit
from chalicelib.store.identity import IdentityRecord as R

ISSUER = "Switchboard"
STEP_S = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"   # no 0/o, 1/l/i


# A user's secret belongs to no one network: the vault binds it to the user instead.
VAULT_SCOPE = "users"


def _purpose(user_id: str) -> str:
    return f"mfa/{user_id}"


def _seal(user_id: str, secret: str) -> str:
    from chalicelib.services import vault
    return vault.seal(secret, network_id=VAULT_SCOPE, purpose=_purpose(user_id))


def _unseal(user_id: str, sealed: str) -> str:
    from chalicelib.services import vault
    return vault.unseal(sealed, network_id=VAULT_SCOPE, purpose=_purpose(user_id))


def setup(user: R) -> dict:
    """A new pending secret for `user` (replacing any pending one), shown this once."""
    import pyotp
    if user.mfa_enabled:
        raise Conflict("MFA is already enabled; disable it first to set up a new device")
    secret = pyotp.random_base32()  # 32 characters: 160 bits, as RFC 4226 recommends
    account = user.email or user.username or user.user_id
    uri = pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)
    user.update(actions=[R.mfa_pending.set(_seal(user.user_id, secret))])
    audit.note(target_type="user", target_id=user.user_id)
    return {"secret": secret, "otpauth_uri": uri, "qr_code": _qr_data_uri(uri),
            "issuer": ISSUER, "account": account, "digits": 6, "period": STEP_S,
            "algorithm": "SHA1"}


def _qr_data_uri(uri: str) -> str:
    import segno
    return segno.make(uri, error="m").png_data_uri(scale=5, border=2)


def _matching_step(secret: str, code: str) -> int | None:
    """The time step within the drift window whose code is `code`, or None."""
    import pyotp
    code = "".join(str(code or "").split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_step = now_ms() // 1000 // STEP_S
    for step in sorted(range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1),
                       key=lambda s: abs(s - now_step)):
        if hmac.compare_digest(totp.at(step * STEP_S), code):
            return step
    return None


def _use_step(user: R, step: int) -> bool:
    """Mark `step` used unless it (or a later one) already was: the replay guard."""
    try:
        user.update(actions=[R.mfa_last_step.set(step)],
                    condition=R.mfa_last_step.does_not_exist() | (R.mfa_last_step < step))
        return True
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise


def _use_recovery_code(user: R, code: str) -> bool:
    digest = secrets.digest(_normal_recovery(code))
    if digest not in (user.recovery_hashes or set()):
        return False
    try:
        user.update(actions=[R.recovery_hashes.delete({digest})],
                    condition=R.recovery_hashes.contains(digest))
        return True
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise


def _normal_recovery(code: str) -> str:
    return "".join(str(code or "").split()).replace("-", "").lower()


def check_code(user: R, code: str, *, recovery: bool = True) -> bool:
    """True when `code` is a current TOTP code of the user's active secret not used before,
    or (`recovery`) one of their unused recovery codes; either is then used up."""
    if not user.mfa_enabled or not user.mfa_secret or not code:
        return False
    step = _matching_step(_unseal(user.user_id, user.mfa_secret), code)
    if step is not None:
        return _use_step(user, step)
    return recovery and _use_recovery_code(user, code)


def activate(user: R, code: str) -> list[str]:
    """Turn MFA on with a code from the pending secret; the recovery codes, shown once."""
    if user.mfa_enabled:
        raise Conflict("MFA is already enabled")
    if not user.mfa_pending:
        raise BadRequest("MFA is not set up: call /auth/mfa/setup first")
    step = _matching_step(_unseal(user.user_id, user.mfa_pending), code)
    if step is None:
        raise BadRequest("Invalid TOTP code")
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    try:
        user.update(actions=[R.mfa_enabled.set(True), R.mfa_secret.set(user.mfa_pending),
                             R.mfa_pending.remove(), R.mfa_last_step.set(step),
                             R.recovery_hashes.set({secrets.digest(_normal_recovery(c))
                                                    for c in codes}),
                             R.updated_at.set(now_ms())],
                    condition=R.mfa_pending == user.mfa_pending)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict("MFA was set up again meanwhile: use a code from the new "
                           "secret") from None
        raise
    audit.note(target_type="user", target_id=user.user_id)
    return codes


def _recovery_code() -> str:
    raw = "".join(random.choice(RECOVERY_ALPHABET) for _ in range(10))  # ~49 bits
    return f"{raw[:5]}-{raw[5:]}"


def disable(user: R, password: str, code: str, *, source_ip: str | None) -> None:
    """Turn MFA off: the password and a current code (or a recovery code) first."""
    from chalicelib.services.people import accounts
    if not user.mfa_enabled:
        raise BadRequest("MFA is not enabled")
    accounts.check_password(user, password, source_ip=source_ip)
    if not check_code(user, code):
        raise BadRequest("Invalid TOTP code")
    user.update(actions=[R.mfa_enabled.set(False), R.mfa_secret.remove(),
                         R.mfa_pending.remove(), R.mfa_last_step.remove(),
                         R.recovery_hashes.remove(), R.updated_at.set(now_ms())])
    audit.note(target_type="user", target_id=user.user_id)


def recovery_codes_left(user: R) -> int:
    return len(user.recovery_hashes or ())
