"""Hub2d's REST dialect: {"ok": true, ...} answers, {"error": ...} errors."""
from chalicelib.api.dialects import HUB2D
from chalicelib.api.routing import DialectRouter

router = DialectRouter(HUB2D, __name__)

# Modules register their routes on import.
from chalicelib.api.hub2d import messages  # noqa: E402,F401

blueprint = router.blueprint
