"""The password policy, enforced wherever a password is set: platform registration,
change-password (both dialects), administrator-created users and CommHub registration.

A refusal is one PasswordRejected naming every rule the password breaks. Defaults follow
OWASP ASVS 4 (2.1): at least 12 characters, at most 128, no composition rules unless a
network asks for them, common passwords and passwords containing the login refused, and
the last 5 passwords not reused. Hashes are argon2id (auth/passwords.py).
"""
from __future__ import annotations

from chalicelib.errors import FieldError, PasswordRejected
from chalicelib.services.people.security import MAX_PASSWORD_LENGTH, Security

HISTORY_KEPT = 24   # the most `password_history_count` allows

# Passwords of 8 or more characters that lead public breach corpora (compared without
# case), and the shapes of the rest: a repeated character, a run of the keyboard or digits.
COMMON = frozenset("""
password password1 password12 password123 password1234 password12345 password123456
passw0rd p@ssw0rd p@ssword passwort motdepasse contraseña
12345678 123456789 1234567890 12345678910 123123123 111111111 1111111111 000000000
987654321 0987654321 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx 1qaz2wsx3edc zaq12wsx
qwertyui qwertyuiop qwerty123 qwerty1234 qwertyuiop123 asdfghjkl asdfghjkl123 zxcvbnm123
iloveyou iloveyou1 iloveyou123 sunshine sunshine1 princess princess1 football football1
baseball basketball superman batman123 starwars trustno1 welcome1 welcome123 whatever
letmein1 letmein123 changeme changeme123 administrator admin1234 admin12345 admin123456
adminadmin rootroot qazwsxedc abcdefgh abcdefg123 abcd1234 abc123456 aa123456 a1234567
computer internet michelle jennifer charlie1 dragon123 monkey123 shadow123 master123
passpass secret123 secretsecret test1234 testtest testing123 default123 guest1234
""".split())
SEQUENCES = ("0123456789012", "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm")


def _rules(password: str, config: Security, logins) -> list[tuple[str, str]]:
    broken = []
    if len(password) < config.password_min_length:
        broken.append(("min_length", f"at least {config.password_min_length} characters"))
    if len(password) > MAX_PASSWORD_LENGTH:
        broken.append(("max_length", f"at most {MAX_PASSWORD_LENGTH} characters"))
    if config.password_require_uppercase and not any(c.isupper() for c in password):
        broken.append(("require_uppercase", "an upper-case letter"))
    if config.password_require_lowercase and not any(c.islower() for c in password):
        broken.append(("require_lowercase", "a lower-case letter"))
    if config.password_require_numbers and not any(c.isdigit() for c in password):
        broken.append(("require_numbers", "a digit"))
    if config.password_require_special and all(c.isalnum() or c.isspace() for c in password):
        broken.append(("require_special", "a symbol"))
    if config.password_reject_common:
        folded = password.casefold()
        names = {n.casefold() for n in logins if n} | \
            {n.casefold().split("@")[0] for n in logins if n and "@" in n}
        if folded in COMMON or len(set(folded)) <= 2 or \
                any(folded in run or folded in run[::-1] for run in SEQUENCES):
            broken.append(("reject_common", "not a common or guessable password"))
        elif any(len(name) >= 4 and name in folded for name in names):
            broken.append(("reject_common", "not containing your login"))
    return broken


def check(password: str, config: Security, *, field: str = "password", logins=(),
          current_hash: str | None = None, history=()) -> None:
    """Refuse `password` (PasswordRejected, one FieldError per broken rule) unless it meets
    `config`. `current_hash` and `history` (newest first) are the hashes it may not reuse."""
    broken = _rules(password, config, logins)
    reuse = config.password_history_count
    if reuse and not broken:  # argon2 is slow: compare only a password otherwise acceptable
        from chalicelib.auth.passwords import verify_password
        earlier = [h for h in [current_hash, *history] if h][:reuse]
        if any(verify_password(h, password) for h in earlier):
            broken.append(("history_count", f"not one of your last {reuse} passwords"))
    if broken:
        errors = [FieldError(("body", field), f"Password must be {words} ({rule})",
                             f"password_policy.{rule}") for rule, words in broken]
        summary = "; ".join(f"{rule}: {words}" for rule, words in broken)
        raise PasswordRejected(field, f"the password does not meet the policy: {summary}",
                               errors=errors)


def next_history(current_hash: str | None, history) -> list[str]:
    """The history after a change: the outgoing hash first, at most HISTORY_KEPT."""
    return [h for h in [current_hash, *(history or [])] if h][:HISTORY_KEPT]
