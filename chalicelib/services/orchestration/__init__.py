"""The platform's orchestration context: agents and their memories, workflows and their
runs, triggers, approvals, code reviews, collaboration sessions, chat, knowledge and the
marketplace. Tasks these make are ordinary tasks (services/tasks.py); what happens when
they end is driven by the event log (services/reactions.py, orchestration/work.py).

Cold start: the families load on first use, like every service (chalicelib/services): adapters
and jobs reach them as attributes of this package (`orchestration.agents.create(...)`), and
the reactions load them the first time a network that uses orchestration has events. So a
function that never touches orchestration never pays for its models. The event types a /ws
client may subscribe to are declared here, for when the package is loaded.
"""
from __future__ import annotations

import importlib

from chalicelib.services import events, on_first_use, reactions

# The modules whose reactions must be registered before a followed network's events are
# dispatched.
REACTING = ("work", "workflows", "triggers", "approvals", "reviews", "chat")

_KINDS = ("agent", "memory", "workflow", "trigger", "approval", "code_review",
          "collaboration", "conversation", "knowledge", "marketplace_install")
events.register_types(
    *(f"{kind}.{verb}" for kind in _KINDS for verb in ("created", "updated", "deleted")),
    "agent.status", "workflow_run.created", "workflow_run.updated", "workflow_step.updated",
    "trigger.fired", "code_review.comment", "chat.message", "collaboration.message",
    "collaboration.context")


__getattr__ = on_first_use(__name__)


reactions.load_with(lambda: [importlib.import_module(f"{__name__}.{module}")
                             for module in REACTING])
