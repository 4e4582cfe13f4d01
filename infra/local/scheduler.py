"""Runs the app's `@app.schedule` functions on timers, with EventBridge-shaped events.

`SWITCHBOARD_LOCAL_SCHEDULE_SECONDS` overrides every interval (tests use a second or two).
A run still going when its next one is due is not overlapped.
"""
from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timezone

from infra.local.gateway import LambdaContext

UNIT_SECONDS = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400}


def interval_of(expression) -> float:
    value, unit = getattr(expression, "value", None), getattr(expression, "unit", None)
    if value is None or unit is None:
        raise ValueError(f"the local scheduler runs rate() schedules only, not {expression!r}")
    return float(value) * UNIT_SECONDS[str(unit).upper()]


class Scheduler:
    def __init__(self, app_module, override_s: float | None = None):
        self.jobs = []
        for source in app_module.app.event_sources:
            expression = getattr(source, "schedule_expression", None)
            if expression is None:
                continue
            handler = getattr(app_module, source.handler_string.rsplit(".", 1)[-1])
            self.jobs.append((source.name, handler, override_s or interval_of(expression)))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for name, handler, interval in self.jobs:
            thread = threading.Thread(target=self._loop, args=(name, handler, interval),
                                      name=f"schedule-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _loop(self, name, handler, interval) -> None:
        while not self._stop.wait(interval):
            event = {
                "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                "source": "aws.events", "account": "000000000000",
                "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": "local", "resources": [f"arn:aws:events:local:000000000000:rule/{name}"],
                "detail": {},
            }
            try:
                handler(event, LambdaContext(name, 900))
            except Exception:  # a failed run must not stop the schedule, as in AWS
                logging.getLogger("switchboard.local").exception("scheduled job failed",
                                                                 extra={"job": name})

