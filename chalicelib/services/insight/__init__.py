"""Insight: analytics and cost, read from counters kept with the writes they count.

- counters.py  what each change adds, inside the change's own transaction
- cost.py      LLM usage and call credits as cost entries; prices; the monthly budget
- analytics.py the platform's analytics, read from the counters
- exports.py   tasks, agents and analytics as json, csv or xlsx
- metrics.py   the Prometheus exposition of /metrics
"""

from chalicelib.services import on_first_use

__getattr__ = on_first_use(__name__)  # modules load on first use (see chalicelib/services)
