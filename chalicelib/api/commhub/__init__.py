"""CommHub's REST dialect: `{"ok": true, ...}` answers, `{"error", "message"}` errors."""
from chalicelib.api.dialects import COMMHUB
from chalicelib.api.inputs import Id, Input
from chalicelib.api.routing import DialectRouter
from chalicelib.services import identity

router = DialectRouter(COMMHUB, __name__)


class Scoped(Input):
    """`?network_id=`: act in another network the caller belongs to."""
    network_id: Id | None = None


def network_of(req) -> str:
    """The network a CommHub call acts on: the caller's, or the `network_id` its query
    (a Scoped model) names, which the caller's credential must reach."""
    return identity.scope_to_network(req.principal, req.params.network_id).network_id


def listing(name: str, items: list, **extra) -> dict:
    """A CommHub list answer: `ok`, the items under their name, and their `count`, which
    CommHub's own clients read."""
    return {"ok": True, name: items, "count": len(items), **extra}


from chalicelib.api.commhub import accounts, messages, work  # noqa: E402,F401  (modules register their routes)

blueprint = router.blueprint
