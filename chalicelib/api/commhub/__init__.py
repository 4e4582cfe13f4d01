"""CommHub's REST dialect: `{"ok": true, ...}` answers, `{"error", "message"}` errors."""
from chalicelib.api.dialects import COMMHUB
from chalicelib.api.routing import DialectRouter
from chalicelib.services import identity

router = DialectRouter(COMMHUB, __name__)


def network_of(req) -> str:
    """The network a CommHub call acts on: the caller's, or the `network_id` it names
    (which the caller must belong to, or administer)."""
    return identity.scope_to_network(req.principal, req.arg("network_id")).network_id


from chalicelib.api.commhub import accounts, messages, work  # noqa: E402,F401  (modules register their routes)

blueprint = router.blueprint
