"""GemmaNet's REST dialect (FastAPI-style errors; api_key in body or Bearer)."""
from chalicelib.api.dialects import GEMMANET
from chalicelib.api.routing import DialectRouter

router = DialectRouter(GEMMANET, __name__)

# Modules register their routes on import.
from chalicelib.api.gemmanet import calls, nodes  # noqa: E402,F401

blueprint = router.blueprint
