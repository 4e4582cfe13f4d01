"""The security configuration the login path reads: password policy, lockout, sessions and
MFA for administrators. It is the `security` category of a network's settings
(services/people/settings.py), so `/security` and `/settings/` are two views of one store.

Which configuration governs whom:
- the deployment's configuration (the default network's) is a floor for everyone: a
  network can make its rules stricter, never laxer. It alone governs per-address lockout
  (an address is in no one network) and platform self-registration (a new organisation
  has no configuration of its own yet);
- a user is held to the strictest configuration among the networks they belong to and
  the deployment's (`for_user`): a login, a password change and a session cannot pick a
  laxer network;
- a new user to the configuration of the network they join (`governing`).
"""
from __future__ import annotations

from chalicelib.config import settings as deployment
from chalicelib.services.people import settings

CATEGORY = "security"
MAX_PASSWORD_LENGTH = 128   # ASVS 2.1.2: at least 64 permitted, at most 128


class Security:
    """A security configuration: one attribute per `security` setting
    (`password_min_length`, `max_login_attempts`, `session_idle_minutes`, ...)."""
    __slots__ = tuple(settings.SCHEMA[CATEGORY])

    def __init__(self, **values):
        for name in self.__slots__:
            setattr(self, name, values[name])

    def values(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def replace(self, **changes) -> "Security":
        return Security(**{**self.values(), **changes})


DEFAULTS = Security(**{k: s.default for k, s in settings.SCHEMA[CATEGORY].items()})

# The wire's sections (the platform's `/security` shape) and the settings behind them.
SECTIONS = {
    "password_policy": {"min_length": "password_min_length",
                        "require_uppercase": "password_require_uppercase",
                        "require_lowercase": "password_require_lowercase",
                        "require_numbers": "password_require_numbers",
                        "require_special": "password_require_special",
                        "history_count": "password_history_count",
                        "reject_common": "password_reject_common"},
    "lockout": {"max_attempts": "max_login_attempts", "window_minutes": "lockout_window_minutes",
                "duration_minutes": "lockout_minutes", "ip_max_attempts": "ip_max_login_attempts"},
    "session": {"max_duration_hours": "session_max_hours",
                "idle_timeout_minutes": "session_idle_minutes",
                "max_concurrent_sessions": "max_concurrent_sessions"},
    "mfa": {"required_for_admins": "require_mfa_for_admins"},
}


def for_network(network_id: str) -> Security:
    return Security(**settings.values(network_id, CATEGORY))


def for_deployment() -> Security:
    return for_network(deployment().default_network_id)


def strictest(configs: list[Security]) -> Security:
    if not configs:
        return DEFAULTS
    combine = {"max": max, "min": min, "any": any}
    schema = settings.SCHEMA[CATEGORY]
    return Security(**{name: combine[schema[name].stricter](getattr(c, name) for c in configs)
                       for name in Security.__slots__})


def governing(network_id: str) -> Security:
    """What holds in a network: its configuration, no laxer than the deployment's."""
    default = deployment().default_network_id
    if network_id == default:
        return for_network(default)
    return strictest([for_network(network_id), for_deployment()])


def for_user(user_id: str) -> Security:
    """The strictest configuration among the user's networks and the deployment's.
    `require_mfa_for_admins` counts only where the user is an owner or administrator."""
    from chalicelib.services.people.networks import list_user_networks
    memberships = [m for m, _ in list_user_networks(user_id)]
    admin_in = {m.network_id for m in memberships if m.role in ("owner", "admin")}
    configs = []
    for network_id in {deployment().default_network_id} | {m.network_id for m in memberships}:
        config = for_network(network_id)
        if network_id not in admin_in:
            config = config.replace(require_mfa_for_admins=False)
        configs.append(config)
    return strictest(configs)


def view(network_id: str) -> dict:
    """The platform's `/security` shape (plus the lockout section, which is ours)."""
    config = for_network(network_id)
    result = {section: {wire: getattr(config, name) for wire, name in names.items()}
              for section, names in SECTIONS.items()}
    result["mfa"].update(enabled=True, methods=["totp"], recovery_codes=True)
    return result


def password_policy_view(config: Security) -> dict:
    return {wire: getattr(config, name) for wire, name in SECTIONS["password_policy"].items()} | {
        "max_length": MAX_PASSWORD_LENGTH}



def update(network_id: str, sections: dict, *, actor: str | None, sectioned: bool = True) -> dict:
    """Apply `{section: {field: value}}` (any subset); unknown sections or fields are a 422
    naming them, as are values out of range. Not `sectioned`: the body held one section's
    fields at its top level, and refusals name them there."""
    from chalicelib.errors import FieldError, ValidationFailed
    changes, fields, unknown = {}, {}, []
    for section, values in sections.items():
        names = SECTIONS.get(section)
        if names is None or not isinstance(values, dict):
            name = settings.shown(section)
            unknown.append(FieldError(("body", name), f"'{name}' is not a section of the "
                                      f"security configuration ({', '.join(SECTIONS)})"))
            continue
        for wire, value in values.items():
            if wire not in names:
                if section == "mfa" and wire in ("enabled", "methods", "recovery_codes"):
                    continue  # read-only facts a client may echo back
                name = settings.shown(str(wire))
                unknown.append(FieldError(("body", section, name), f"'{section}.{name}' is not "
                                          f"a setting ({', '.join(names)})"))
                continue
            changes[(CATEGORY, names[wire])] = value
            fields[(CATEGORY, names[wire])] = f"{section}.{wire}" if sectioned else wire
    if unknown:
        raise ValidationFailed(unknown[0].field, unknown[0].message, errors=unknown)
    settings.write(network_id, changes, actor=actor, fields=fields)
    return view(network_id)
