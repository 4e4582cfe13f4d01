"""SkyCetus' REST dialect: X-Matrix-Secret auth, {"success": ...} answers."""
from chalicelib.api.dialects import SKYCETUS
from chalicelib.api.routing import DialectRouter

router = DialectRouter(SKYCETUS, __name__)

# Modules register their routes on import.
from chalicelib.api.skycetus import files, messages, nodes, tasks  # noqa: E402,F401

blueprint = router.blueprint
