"""CommHub's REST dialect: `{"ok": true, ...}` answers, `{"error", "message"}` errors."""
from chalicelib.api.dialects import COMMHUB
from chalicelib.api.routing import DialectRouter

router = DialectRouter(COMMHUB, __name__)

from chalicelib.api.commhub import accounts, messages, work  # noqa: E402,F401  (modules register their routes)

blueprint = router.blueprint
