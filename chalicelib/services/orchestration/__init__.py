"""The platform's orchestration context: agents and their memories, workflows and their
runs, triggers, approvals, code reviews, collaboration sessions, chat, knowledge and the
marketplace. Tasks these make are ordinary tasks (services/tasks.py); what happens when
they end is driven by the event log (services/reactions.py, orchestration/work.py).

Cold start: the families load on first use. Adapters and jobs reach them as attributes of
this package (`orchestration.agents.create(...)`), which imports the module then; the
reactions load them the first time a network that uses orchestration has events. So a
function that never touches orchestration never pays for its models. What must be known
without loading them — the event types a /ws client may subscribe to — is declared here.
"""
from __future__ import annotations

import importlib

from chalicelib.services import events, reactions

FAMILIES = ("agents", "approvals", "chat", "collaboration", "knowledge", "marketplace",
            "memories", "reviews", "triggers", "work", "workflows")
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


def __getattr__(name: str):
    if name in FAMILIES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


reactions.load_with(lambda: [importlib.import_module(f"{__name__}.{module}")
                             for module in REACTING])
