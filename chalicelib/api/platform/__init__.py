"""The orchestration platform's REST dialect (FastAPI-style: `{"detail": ...}` errors)."""
from chalicelib.api.dialects import PLATFORM
from chalicelib.api.routing import DialectRouter

router = DialectRouter(PLATFORM, __name__)

from chalicelib.api.platform import (auth, breakers, deadletter, files, messages,  # noqa: E402,F401
                                     notifications, secrets, ssh, tasks, webhooks,
                                     workers)  # (modules register their routes)

blueprint = router.blueprint
