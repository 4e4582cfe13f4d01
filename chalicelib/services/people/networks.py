"""Networks (tenants), memberships and invites.

- a network is a tenant; every other item is keyed under one;
- users act in a network through a membership (owner, admin, member), read on every
  request, so removing a member takes effect at once.
"""
from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.auth.principal import Principal
from chalicelib.clock import now_ms
from chalicelib.config import settings
from chalicelib.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.ids import short_id
from chalicelib.store.base import cancelled_by_condition, transaction
from chalicelib.store.identity import IdentityRecord as R

MEMBER_ROLES = ("owner", "admin", "member")

# --------------------------------------------------------------------------- networks


def get_network(network_id: str) -> R:
    try:
        return R.get(f"NET#{network_id}", "NETWORK", consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"network {network_id} not found") from None


def create_network(owner_id: str | None, name: str, description: str | None = None,
                   network_id: str | None = None, visibility: str = "private",
                   max_members: int = 50) -> R:
    """A network; an owner's networks have distinct names (compared without case)."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name", "a network needs a name")
    network_id = network_id or short_id("net_")
    network = R(f"NET#{network_id}", "NETWORK", kind="network", network_id=network_id,
                name=name, description=description, owner_id=owner_id, visibility=visibility,
                max_members=max_members, created_at=now_ms())
    if owner_id:
        _refuse_duplicate_name(owner_id, name)
    try:
        with transaction() as tx:
            tx.save(network, condition=R.pk.does_not_exist())
            if owner_id:
                add_membership(tx, network.network_id, owner_id, "owner")
                tx.save(_name_claim(owner_id, name, network_id), condition=R.pk.does_not_exist())
    except TransactWriteError as error:
        if owner_id and cancelled_by_condition(error):
            raise Conflict(f"you already have a network named {name!r}") from None
        raise
    return network


def _name_claim(owner_id: str, name: str, network_id: str | None = None) -> R:
    """Holds one of an owner's network names, written with the network in one transaction:
    two concurrent creates or renames to the same name cannot both succeed."""
    return R(f"USER#{owner_id}", f"NETNAME#{name.strip().casefold()}", network_id=network_id)


def _refuse_duplicate_name(owner_id: str, name: str, keep: str | None = None) -> None:
    """Also compare with networks made before names were claimed."""
    wanted = name.strip().casefold()
    for _, network in list_user_networks(owner_id):
        if network.owner_id == owner_id and network.network_id != keep and \
                (network.name or "").strip().casefold() == wanted:
            raise Conflict(f"you already have a network named {name.strip()!r}")


def update_network(principal: Principal, network_id: str, name: str | None,
                   description: str | None) -> R:
    network = get_network(network_id)
    require_owner(principal, network)
    actions = [R.updated_at.set(now_ms())]
    renamed = None
    if name is not None:
        if not str(name).strip():
            raise ValidationFailed("network_name", "a network name cannot be empty")
        renamed = str(name).strip()
        actions.append(R.name.set(renamed))
    if description is not None:
        actions.append(R.description.set(str(description)))
    owner = network.owner_id
    if renamed is None or not owner or \
            renamed.casefold() == (network.name or "").strip().casefold():
        network.update(actions=actions)
        network.name = renamed or network.name
        return network
    _refuse_duplicate_name(owner, renamed, keep=network_id)
    try:
        with transaction() as tx:
            tx.update(network, actions=actions)
            tx.delete(_name_claim(owner, network.name or ""))
            tx.save(_name_claim(owner, renamed, network_id), condition=R.pk.does_not_exist())
    except TransactWriteError as error:
        if cancelled_by_condition(error):
            raise Conflict(f"you already have a network named {renamed!r}") from None
        raise
    network.name = renamed
    if description is not None:
        network.description = str(description)
    return network


def delete_network(principal: Principal, network_id: str) -> None:
    from chalicelib.services.people.credentials import revoke_record
    network = get_network(network_id)
    require_owner(principal, network)
    if network_id == settings().default_network_id:
        raise Forbidden("the default network cannot be deleted")
    members = list_members(network_id)
    tokens = list(R.query(f"NET#{network_id}", R.sk.startswith("TOKEN#")))
    network.delete()
    if network.owner_id:
        _name_claim(network.owner_id, network.name or "").delete()
    for member in members:
        R(f"USER#{member.user_id}", f"NET#{network_id}").delete()
        member.delete()
    for token in tokens:
        revoke_record(token)


def require_owner(principal: Principal, network: R) -> None:
    require_reach(principal, network.network_id)
    if principal.system_admin or principal.user_id == network.owner_id:
        return
    raise Forbidden("only the network's owner can do this")


def require_reach(principal: Principal, network_id: str) -> None:
    """A credential issued for one network never acts in another; a user's credential
    acting in another of the user's networks is held to that network's IP rules (the router
    checked only those of the credential's own network)."""
    if network_id == principal.network_id:
        return
    if principal.network_bound:
        raise Forbidden(f"this credential acts only in network {principal.network_id}")
    from chalicelib.services.people import ip_rules
    ip_rules.check(network_id, principal.source_ip)


# --------------------------------------------------------------------------- memberships


def add_membership(tx, network_id: str, user_id: str, role: str) -> None:
    stamp = now_ms()
    tx.save(R(f"NET#{network_id}", f"MEMBER#{user_id}", kind="member", network_id=network_id,
              user_id=user_id, role=role, created_at=stamp))
    tx.save(R(f"USER#{user_id}", f"NET#{network_id}", kind="membership", network_id=network_id,
              user_id=user_id, role=role, created_at=stamp))


def add_member(network_id: str, user_id: str, role: str = "member") -> None:
    if role not in MEMBER_ROLES:
        raise ValidationFailed("role", f"role must be one of {', '.join(MEMBER_ROLES)}")
    get_network(network_id)
    with transaction() as tx:
        add_membership(tx, network_id, user_id, role)


def membership(network_id: str, user_id: str) -> R | None:
    try:
        return R.get(f"NET#{network_id}", f"MEMBER#{user_id}", consistent_read=True)
    except DoesNotExist:
        return None


def list_members(network_id: str) -> list[R]:
    return list(R.query(f"NET#{network_id}", R.sk.startswith("MEMBER#"), consistent_read=True))


def list_user_networks(user_id: str) -> list[tuple[R, R]]:
    """(membership, network) pairs for every network the user belongs to."""
    memberships = list(R.query(f"USER#{user_id}", R.sk.startswith("NET#"), consistent_read=True))
    if not memberships:
        return []
    networks = {n.pk: n for n in R.batch_get([(m.sk, "NETWORK") for m in memberships])}
    return [(m, networks[m.sk]) for m in memberships if m.sk in networks]


def default_network_for(user_id: str) -> str:
    pairs = list_user_networks(user_id)
    if not pairs:
        return settings().default_network_id
    owned = [n for m, n in pairs if m.role == "owner"]
    return (owned or [pairs[0][1]])[0].network_id


# --------------------------------------------------------------------------- invites


def create_invite(principal: Principal, network_id: str, role: str = "member",
                  max_uses: int = 1) -> R:
    require_reach(principal, network_id)
    if not principal.is_admin and principal.network_id != network_id:
        raise Forbidden("you are not a member of this network")
    if role not in ("member", "admin"):
        raise ValidationFailed("role", "role must be member or admin")
    if not isinstance(max_uses, int) or isinstance(max_uses, bool) or max_uses < 1:
        raise ValidationFailed("max_uses", "max_uses must be a positive integer")
    get_network(network_id)
    code = short_id("inv_", 12)
    invite = R(f"INVITE#{code}", "INVITE", kind="invite", network_id=network_id, role=role,
               max_uses=max_uses, uses=0, owner_id=principal.user_id, created_at=now_ms())
    invite.save(condition=R.pk.does_not_exist())
    return invite


def join(user_id: str, invite_code: str) -> R:
    try:
        invite = R.get(f"INVITE#{invite_code}", "INVITE", consistent_read=True)
    except DoesNotExist:
        raise NotFound("invite code not found") from None
    if membership(invite.network_id, user_id):
        raise Conflict("already a member of this network")
    try:
        with transaction() as tx:
            tx.update(invite, actions=[R.uses.add(1)], condition=R.uses < invite.max_uses)
            add_membership(tx, invite.network_id, user_id, invite.role)
    except TransactWriteError as error:
        if cancelled_by_condition(error):
            raise Conflict("this invite code has been used up") from None
        raise
    return get_network(invite.network_id)
