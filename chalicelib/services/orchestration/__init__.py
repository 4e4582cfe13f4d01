"""The platform's orchestration context: agents and their memories, workflows and their
runs, triggers, approvals, code reviews, collaboration sessions, chat, knowledge and the
marketplace. Tasks these make are ordinary tasks (services/tasks.py); what happens when
they end is driven by the event log (services/reactions.py, orchestration/work.py)."""
