"""IP rules: which addresses may call, per network, enforced on every request.

- a rule is an IPv4 or IPv6 CIDR with an action, `allow` or `deny` (`block` is read as
  `deny`); a bare address is its own /32 or /128. Deny wins; once any allow rule exists,
  an address no allow rule covers is refused;
- the address is the one API Gateway reports (`requestContext.identity.sourceIp`), never
  a header the client writes (X-Forwarded-For); an IPv4-mapped IPv6 address is read as
  its IPv4 address, and an address that cannot be read is refused wherever allow rules
  exist;
- the default network's rules are the deployment's: checked on every request of every
  dialect before routing (api/application.py); a network's own rules on every request
  made with its credentials, before the handler (api/routing.py);
- saving rules that would refuse the saving administrator's own address needs
  `"force": true` (a 409 otherwise), so nobody locks themselves out by accident;
- each container keeps a network's rules for a few seconds; a change reaches the
  container that made it at once and the others within CACHE_TTL_S.
"""
from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.auth.principal import Principal
from chalicelib.caching import TtlCache
from chalicelib.clock import iso, now_ms
from chalicelib.errors import Conflict, FieldError, Forbidden, ValidationFailed
from chalicelib.ids import ulid
from chalicelib.services import audit

ACTIONS = {"allow": "allow", "deny": "deny", "block": "deny"}
MAX_RULES = 500   # (api/platform/security.py holds its input to the same)
CACHE_TTL_S = 5.0
_cache = TtlCache(ttl_s=CACHE_TTL_S)


def _address(text: str | None):
    import ipaddress
    try:
        address = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _compile(rules: list[dict]) -> list[tuple]:
    import ipaddress
    return [(ipaddress.ip_network(r["cidr"]), r["action"]) for r in rules]


def allows(rules: list[dict], source_ip: str | None) -> bool:
    return _permits(_compile(rules), source_ip)


def _permits(nets: list[tuple], source_ip: str | None) -> bool:
    if not nets:
        return True
    address = _address(source_ip)
    if address is None:
        return not any(action == "allow" for _, action in nets)
    if any(action == "deny" and address in net for net, action in nets):
        return False
    allow = [net for net, action in nets if action == "allow"]
    return not allow or any(address in net for net in allow)


def _read(network_id: str):
    from chalicelib.store.security import IP_RULES_SK, IpRulesRecord as I, ip_rules_pk
    try:
        return I.get(ip_rules_pk(network_id), IP_RULES_SK, consistent_read=True)
    except DoesNotExist:
        return None


def _rules(network_id: str) -> list[tuple]:
    """A network's rules, compiled, as this container last read them (CACHE_TTL_S)."""
    nets = _cache.get(network_id)
    if nets is None:
        record = _read(network_id)
        nets = _compile(record.rules or []) if record else []
        _cache.put(network_id, nets)
    return nets





def check(network_id: str, source_ip: str | None) -> None:
    """Forbidden when `network_id`'s rules refuse `source_ip`."""
    if not _permits(_rules(network_id), source_ip):
        raise Forbidden(f"requests from {source_ip or 'an unknown address'} are not allowed")


def view(network_id: str, source_ip: str | None = None) -> dict:
    record = _read(network_id)
    rules = list(record.rules or []) if record else []
    return {"rules": rules,
            "allow": [r["cidr"] for r in rules if r["action"] == "allow"],
            "deny": [r["cidr"] for r in rules if r["action"] == "deny"],
            "updated_at": iso(record.updated_at) if record else None,
            "updated_by": record.updated_by if record else None,
            "your_ip": source_ip, "your_ip_allowed": allows(rules, source_ip)}


def _normalise(entries: list[dict], principal: Principal, previous: list[dict]) -> list[dict]:
    import ipaddress
    if len(entries) > MAX_RULES:
        raise ValidationFailed("rules", f"at most {MAX_RULES} rules")
    kept = {(r["cidr"], r["action"]): r for r in previous}
    rules, errors, stamp = [], [], now_ms()
    for index, entry in enumerate(entries):
        cidr, action = entry.get("cidr"), ACTIONS.get(str(entry.get("action") or "allow").lower())
        try:
            if not isinstance(cidr, str):
                raise ValueError
            network = ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            errors.append(FieldError(("body", *entry.get("at", ("rules", index, "cidr"))),
                                     f"{str(cidr)[:40]!r} is not an IPv4 or IPv6 address or CIDR",
                                     "ip_cidr"))
            continue
        if action is None:
            errors.append(FieldError(("body", "rules", index, "action"),
                                     "action must be allow or deny", "enum"))
            continue
        key = (str(network), action)
        earlier = kept.get(key)
        rules.append(earlier or {"id": f"ipr_{ulid(stamp)}", "cidr": key[0], "action": action,
                                 "description": str(entry.get("description") or "")[:500],
                                 "created_by": principal.account_id, "created_at": iso(stamp)})
    if errors:
        raise ValidationFailed(errors[0].field, "; ".join(e.message for e in errors),
                               errors=errors)
    return list({(r["cidr"], r["action"]): r for r in rules}.values())


def replace(principal: Principal, entries: list[dict], *, source_ip: str | None,
            force: bool = False) -> dict:
    """Replace a network's rules with `entries` ({cidr, action, description}, and `at`:
    where the request held the address, which a refusal names)."""
    from chalicelib.store.security import IP_RULES_SK, IpRulesRecord as I, ip_rules_pk
    network_id = principal.network_id
    record = _read(network_id)
    rules = _normalise(entries, principal, list(record.rules or []) if record else [])
    if not allows(rules, source_ip) and not force:
        raise Conflict(f"these rules would refuse your own address ({source_ip}); "
                       f'send "force": true to save them anyway')
    version = (record.version or 0) if record else 0
    updated = I(ip_rules_pk(network_id), IP_RULES_SK, kind="ip_rules", id="ip_rules",
                network_id=network_id, rules=rules, version=version + 1,
                updated_at=now_ms(), updated_by=principal.account_id,
                created_at=record.created_at if record else now_ms())
    try:
        updated.save(condition=I.pk.does_not_exist() if record is None else
                     I.version == record.version)
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict("the IP rules changed meanwhile; read them again") from None
        raise
    _cache.forget(network_id)
    audit.note(target_type="ip_rules", target_id=network_id, force=force,
               allow=sum(r["action"] == "allow" for r in rules),
               deny=sum(r["action"] == "deny" for r in rules))
    return view(network_id, source_ip)
