"""The orchestration platform's REST dialect (FastAPI-style: `{"detail": ...}` errors)."""
from chalicelib.api.dialects import PLATFORM
from chalicelib.api.routing import DialectRouter

router = DialectRouter(PLATFORM, __name__)

from chalicelib.api.platform import (agents, approvals, auth, chat,  # noqa: E402,F401
                                     collaboration, deadletter, files, knowledge,
                                     marketplace, messages, security, settings, tasks,
                                     triggers, workers, workflows)  # (modules register routes)

blueprint = router.blueprint
