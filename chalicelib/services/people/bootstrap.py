"""The first start of a deployment: the default network, its administrator and the
bootstrap credentials."""
from __future__ import annotations

from pynamodb.exceptions import TransactWriteError

from chalicelib.auth import secrets
from chalicelib.config import settings
from chalicelib.errors import NotFound
from chalicelib.services.people import accounts, networks
from chalicelib.services.people.credentials import ensure_credential, issue_credential
from chalicelib.store.identity import IdentityRecord as R


def bootstrap(*, admin_email: str, admin_password: str | None, shared_secret: str | None,
              admin_token: str | None) -> dict:
    """Create the default network and its admin on first start; idempotent afterwards.

    Values the operator configured are made valid on every start. Values left unset are
    generated only on the first start, and returned so the caller can print them once.
    """
    network_id = settings().default_network_id
    generated: dict[str, str] = {}
    try:
        network = networks.get_network(network_id)
    except NotFound:
        try:
            network = networks.create_network(None, "default", "Bootstrap network",
                                              network_id=network_id)
        except TransactWriteError:
            network = networks.get_network(network_id)
    first_start = network.owner_id is None

    admin = accounts.find_login(admin_email)
    if admin is None:
        password = admin_password or secrets.generate("admin_token")[4:28]
        if not admin_password:
            generated["admin_password"] = password
        # The operator's configured password is configuration, not a user's choice.
        admin = accounts.register_user(
            username="admin" if accounts.find_login("admin") is None else None,
            email=admin_email, password=password, display_name="Administrator", role="admin",
            check_policy=False)
    if not networks.membership(network_id, admin.user_id):
        networks.add_member(network_id, admin.user_id, "owner")
    if network.owner_id is None:
        try:
            network.update(actions=[R.owner_id.set(admin.user_id)],
                           condition=R.owner_id.does_not_exist())
        except Exception:  # another instance claimed ownership first; nothing to do
            pass

    admin_roles = ("admin", "owner", "system_admin")
    if admin_token:
        ensure_credential("admin_token", network_id, admin_token, name="bootstrap admin token",
                          roles=admin_roles)
    elif first_start:
        _, generated["admin_token"] = issue_credential("admin_token", network_id,
                                                       name="bootstrap admin token",
                                                       roles=admin_roles)
    if shared_secret:
        ensure_credential("shared_secret", network_id, shared_secret, name="shared secret",
                          roles=("member",))
    elif first_start:
        _, generated["shared_secret"] = issue_credential("shared_secret", network_id,
                                                         name="shared secret", roles=("member",))
    return {"network_id": network_id, "admin_email": admin_email, "generated": generated,
            "first_start": first_start}
