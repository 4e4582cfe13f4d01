"""A network's settings: typed values with defaults per category, validated on write.

Only values changed from their default are stored (store/security.py: one item per value,
one Query per network; the models load on first use, not at cold start). Secret settings
(API keys, mail passwords) are sealed at rest by the vault (services/vault.py), never
returned (`is_set` says whether one is), and opened only by `secret_value`, for the code
that uses them.

The `security` category is what the login path reads (services/people/security.py):
password policy, lockout, sessions, MFA for administrators. Each of its settings says how
two networks' values combine (`stricter`), for users who belong to several.
"""
from __future__ import annotations

import re
from typing import Any

from chalicelib.clock import now_ms
from chalicelib.errors import FieldError, NotFound, ValidationFailed
from chalicelib.store.base import transaction

TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
MASK = "********"
TRANSACTION_ITEMS = 100   # DynamoDB's limit on one TransactWriteItems


class Spec:
    """One setting: its type (bool, int, float or str), default and description; numbers'
    range (`low`, `high`), text's allowed `choices`, `form` ("url", "email") and
    `max_length`; whether it is `secret`; and for security settings how two networks'
    values combine (`stricter`: "max", "min" or "any"). (Plain classes here: a NamedTuple
    class costs a tenth of a millisecond at import.)"""
    __slots__ = ("kind", "default", "description", "low", "high", "choices", "secret", "form",
                 "stricter", "max_length")

    def __init__(self, kind: type, default: Any, description: str, *, low=None, high=None,
                 choices: tuple = (), secret: bool = False, form: str | None = None,
                 stricter: str | None = None, max_length: int = 500):
        self.kind, self.default, self.description = kind, default, description
        self.low, self.high, self.choices, self.secret = low, high, choices, secret
        self.form, self.stricter, self.max_length = form, stricter, max_length


def _bool(default: bool, description: str, **kw) -> Spec:
    return Spec(bool, default, description, **kw)


def _int(default: int, low: int, high: int, description: str, **kw) -> Spec:
    return Spec(int, default, description, low=low, high=high, **kw)


def _text(default: str, description: str, **kw) -> Spec:
    return Spec(str, default, description, **kw)


SCHEMA: dict[str, dict[str, Spec]] = {
    "llm": {
        "default_provider": _text("anthropic", "Provider agents use unless they name one",
                                  choices=("anthropic", "openai", "google", "ollama")),
        "default_model": _text("claude-sonnet-4-20250514", "Model agents use unless they name one"),
        "anthropic_api_key": _text("", "Anthropic API key", secret=True, max_length=4096),
        "openai_api_key": _text("", "OpenAI API key", secret=True, max_length=4096),
        "google_api_key": _text("", "Google AI API key", secret=True, max_length=4096),
        "ollama_base_url": _text("http://host.docker.internal:11434", "Ollama server",
                                 form="url"),
        "max_tokens": _int(4096, 1, 1_000_000, "Largest completion an agent may ask for"),
        "temperature": Spec(float, 0.7, "Sampling temperature", low=0.0, high=2.0),
    },
    "email": {
        "smtp_host": _text("", "SMTP server"),
        "smtp_port": _int(587, 1, 65535, "SMTP port"),
        "smtp_user": _text("", "SMTP user"),
        "smtp_password": _text("", "SMTP password", secret=True, max_length=1024),
        "smtp_from": _text("", "Sender address", form="email"),
        "imap_host": _text("", "IMAP server"),
        "imap_port": _int(993, 1, 65535, "IMAP port"),
        "imap_user": _text("", "IMAP user"),
        "imap_password": _text("", "IMAP password", secret=True, max_length=1024),
    },
    "security": {
        "password_min_length": _int(12, 8, 128, "Shortest password accepted", stricter="max"),
        "password_require_uppercase": _bool(False, "Passwords need an upper-case letter",
                                            stricter="any"),
        "password_require_lowercase": _bool(False, "Passwords need a lower-case letter",
                                            stricter="any"),
        "password_require_numbers": _bool(False, "Passwords need a digit", stricter="any"),
        "password_require_special": _bool(False, "Passwords need a symbol", stricter="any"),
        "password_history_count": _int(5, 0, 24, "Earlier passwords that may not be reused",
                                       stricter="max"),
        "password_reject_common": _bool(True, "Refuse common passwords and passwords that "
                                              "contain the login", stricter="any"),
        "max_login_attempts": _int(5, 1, 100, "Failed logins of one account, within the "
                                              "window, before it is locked", stricter="min"),
        "lockout_window_minutes": _int(15, 1, 1440, "Window in which failed logins count",
                                       stricter="max"),
        "lockout_minutes": _int(15, 1, 1440, "How long a locked account or address waits",
                                stricter="max"),
        "ip_max_login_attempts": _int(20, 1, 10_000, "Failed logins from one address, within "
                                                     "the window, before it is locked",
                                      stricter="min"),
        "require_mfa_for_admins": _bool(False, "Administrators must use MFA: until they set it "
                                               "up, their sessions can only set it up",
                                        stricter="any"),
        "session_max_hours": _int(24, 1, 720, "A session's lifetime (then log in again)",
                                  stricter="min"),
        "session_idle_minutes": _int(30, 1, 10_080, "A session unused this long ends",
                                     stricter="min"),
        "max_concurrent_sessions": _int(5, 1, 100, "Sessions a user may hold; a new login "
                                                   "ends the oldest", stricter="min"),
    },
    "general": {
        "max_agents_per_worker": _int(5, 1, 1000, "Agents one worker may run"),
        "task_timeout_minutes": _int(60, 1, 10_080, "Time a task may run"),
        "max_retries": _int(3, 0, 100, "Retries of a failed task"),
        "auto_assign_tasks": _bool(True, "Assign new tasks to workers automatically"),
        "log_level": _text("INFO", "Log level", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
        "maintenance_mode": _bool(False, "Maintenance mode"),
    },
    "notifications": {
        "notify_task_complete": _bool(True, "Notify when a task completes"),
        "notify_task_failed": _bool(True, "Notify when a task fails"),
        "notify_worker_offline": _bool(True, "Notify when a worker goes offline"),
        "notify_agent_error": _bool(True, "Notify when an agent fails"),
        "webhook_url": _text("", "Webhook for notifications", form="url", max_length=2048),
    },
    "storage": {
        "max_file_size_mb": _int(100, 1, 5120, "Largest file accepted (MB)"),
        "allowed_file_types": _text("*", "Allowed file types (comma-separated, * for any)"),
        "auto_cleanup_days": _int(30, 0, 3650, "Days before finished tasks' files are removed"),
    },
}

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def shown(name: str, limit: int = 40) -> str:
    """A name a client sent, as a refusal quotes it: never the whole of a megabyte."""
    return name if len(name) <= limit else f"{name[:limit]}... ({len(name)} characters)"


def spec(category: str, key: str) -> Spec:
    found = SCHEMA.get(category, {}).get(key)
    if found is None:
        raise NotFound(f"Unknown setting: {shown(f'{category}.{key}')}")
    return found


def coerce(category: str, key: str, raw, field: str = "value"):
    """`raw` as the setting's type, or ValidationFailed naming `field`. Values may come as
    strings, as the platform's web app sends them."""
    kind = spec(category, key)
    problem = None
    value = raw
    if kind.kind is bool:
        if isinstance(raw, str) and raw.strip().lower() in TRUE_WORDS + FALSE_WORDS:
            value = raw.strip().lower() in TRUE_WORDS
        elif not isinstance(raw, bool):
            problem = "must be true or false"
    elif kind.kind in (int, float):
        try:
            if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
                raise ValueError
            value = kind.kind(raw.strip()) if isinstance(raw, str) else raw
            if kind.kind is int and value != int(value):
                raise ValueError
            value = kind.kind(value)
        except (ValueError, OverflowError):
            problem = f"must be {'an integer' if kind.kind is int else 'a number'}"
        else:
            if not kind.low <= value <= kind.high:
                problem = f"must be between {kind.low:g} and {kind.high:g}"
    elif not isinstance(raw, str):
        problem = "must be a string"
    elif len(raw) > kind.max_length:
        problem = f"must be at most {kind.max_length} characters"
    elif kind.choices and raw not in kind.choices:
        problem = f"must be one of {', '.join(kind.choices)}"
    elif raw and kind.form == "url" and not re.match(r"^https?://[^\s/]+", raw):
        problem = "must be an http(s) URL"
    elif raw and kind.form == "email" and not re.match(_EMAIL, raw):
        problem = "must be an email address"
    if problem:
        raise ValidationFailed(field, f"{category}.{key} {problem}")
    return value


def _stored(network_id: str, category: str | None = None) -> dict:
    from chalicelib.store.security import SettingRecord as S, settings_pk
    condition = S.sk.startswith(f"{category}.") if category else None
    return {item.sk: item for item in S.query(settings_pk(network_id), condition,
                                              consistent_read=True)}


def values(network_id: str, category: str) -> dict[str, Any]:
    """A category's values (defaults where unchanged); secrets as whether they are set."""
    stored = _stored(network_id, category)
    result = {}
    for key, kind in SCHEMA[category].items():
        item = stored.get(f"{category}.{key}")
        if kind.secret:
            result[key] = bool(item and item.sealed)
        else:
            result[key] = item.value if item is not None else kind.default
    return result


def secret_value(network_id: str, category: str, key: str) -> str:
    """A secret setting's plaintext ("" when unset), for the code that uses it."""
    from chalicelib.services import vault
    if not spec(category, key).secret:
        raise ValueError(f"{category}.{key} is not a secret setting")
    item = _stored(network_id, category).get(f"{category}.{key}")
    if item is None or not item.sealed:
        return ""
    return vault.unseal(item.sealed, network_id=network_id, purpose=f"setting/{category}.{key}")


def view(network_id: str) -> dict:
    """What administrators read: every setting with its value, description and whether it
    is the default. A secret's value is never shown, only whether it is set."""
    stored = _stored(network_id)
    result: dict[str, dict] = {}
    for category, keys in SCHEMA.items():
        for key, kind in keys.items():
            item = stored.get(f"{category}.{key}")
            entry = {"value": kind.default if item is None else item.value,
                     "type": kind.kind.__name__, "description": kind.description,
                     "is_secret": kind.secret, "is_default": item is None,
                     "default": None if kind.secret else kind.default}
            if kind.secret:
                entry["is_set"] = bool(item and item.sealed)
                entry["value"] = MASK if entry["is_set"] else ""
            if kind.kind in (int, float):
                entry.update(min=kind.low, max=kind.high)
            if kind.choices:
                entry["choices"] = list(kind.choices)
            result.setdefault(category, {})[key] = entry
    return result


def parse_key(dotted: str) -> tuple[str, str]:
    category, _, key = str(dotted).partition(".")
    spec(category, key)
    return category, key


def write(network_id: str, changes: dict[tuple[str, str], Any], *, actor: str | None,
          fields: dict[tuple[str, str], str] | None = None) -> dict[str, Any]:
    """Validate every change first (a refusal lists each bad value), then store them all
    in one transaction per 100. Returns the stored values by `category.key` (secrets as
    whether they are set). `fields` names each change's field in refusals."""
    from chalicelib.services import vault
    from chalicelib.store.security import SettingRecord as S, settings_pk
    fields = fields or {}
    checked, errors = {}, []
    for (category, key), raw in changes.items():
        field = fields.get((category, key), "value")
        try:
            checked[(category, key)] = coerce(category, key, raw, field)
        except ValidationFailed as error:
            errors.append(FieldError(("body", *field.split(".")), error.message))
    if errors:
        raise ValidationFailed(errors[0].field, "; ".join(e.message for e in errors),
                               errors=errors)
    stamp, written = now_ms(), {}
    items = list(checked.items())
    for start in range(0, len(items), TRANSACTION_ITEMS):
        with transaction() as tx:
            for (category, key), value in items[start:start + TRANSACTION_ITEMS]:
                dotted = f"{category}.{key}"
                item = S(settings_pk(network_id), dotted, kind="setting", id=dotted,
                         network_id=network_id, updated_at=stamp, updated_by=actor)
                if spec(category, key).secret:
                    if value == "":
                        tx.delete(item)
                        written[dotted] = False
                        continue
                    item.sealed = vault.seal(value, network_id=network_id,
                                             purpose=f"setting/{dotted}")
                    written[dotted] = True
                else:
                    item.value = value
                    written[dotted] = value
                tx.save(item)
    return written
