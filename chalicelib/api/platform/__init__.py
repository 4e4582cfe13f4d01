"""The orchestration platform's REST dialect (FastAPI-style: `{"detail": ...}` errors)."""
from chalicelib.api.dialects import PLATFORM
from chalicelib.api.routing import DialectRouter

router = DialectRouter(PLATFORM, __name__)

from chalicelib.api.platform import (auth, deadletter, exports, files, insight,  # noqa: E402,F401
                                     messages, tasks, workers)  # (modules register their routes)

blueprint = router.blueprint
