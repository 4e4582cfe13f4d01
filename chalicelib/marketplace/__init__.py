"""The marketplace's built-in catalogue: one JSON file per template in templates/ (agents
and workflows a network can install; services/orchestration/marketplace.py)."""
