"""The orchestration platform's REST dialect (FastAPI-style: `{"detail": ...}` errors)."""
from chalicelib.api.dialects import PLATFORM
from chalicelib.api.routing import DialectRouter

router = DialectRouter(PLATFORM, __name__)

from chalicelib.api.platform import (agents, approvals, auth, breakers, chat,  # noqa: E402,F401
                                     collaboration, deadletter, exports, files, insight,
                                     knowledge, marketplace, messages, notifications, secrets,
                                     security, settings, ssh, tasks, triggers, webhooks, workers,
                                     workflows)  # (modules register their routes)

blueprint = router.blueprint
