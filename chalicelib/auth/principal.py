"""Who is calling: the one shape every credential resolves to."""
from __future__ import annotations

from typing import NamedTuple

ADMIN_ROLES = frozenset({"admin", "owner"})
# Credentials issued for one network act in that network only, whatever their creator can
# reach: network tokens, API keys, a network's shared secret. A user's own session or user
# token follows the user's memberships (CommHub's `network_id` parameter).
NETWORK_BOUND = frozenset({"network_token", "api_key", "shared_secret", "anonymous"})


class Principal(NamedTuple):
    """Immutable. (A NamedTuple rather than a frozen dataclass: a seventh of the import cost,
    which every cold start pays.)"""
    network_id: str
    kind: str                      # admin_token | user | network_token | api_key | shared_secret | anonymous
    account_id: str                # stable id of the credential's holder: the ledger account
    user_id: str | None = None
    token_id: str | None = None
    roles: frozenset = frozenset()
    system_admin: bool = False
    scopes: frozenset | None = None  # what the credential may do (auth/scopes.py); None: all
    # The address the request came from (API Gateway's sourceIp), set by the router: acting
    # in another network (CommHub's `network_id`) is held to that network's IP rules too.
    source_ip: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.system_admin or bool(self.roles & ADMIN_ROLES)

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"

    @property
    def network_bound(self) -> bool:
        return self.kind in NETWORK_BOUND

    def in_network(self, network_id: str, roles: frozenset) -> "Principal":
        return self._replace(network_id=network_id, roles=roles)


def anonymous(network_id: str) -> Principal:
    return Principal(network_id=network_id, kind="anonymous", account_id="anonymous")
