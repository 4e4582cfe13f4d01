"""`make fuzz`, second half: schemathesis against a fresh local stack, from its own
/openapi.json. Every operation is called with generated input (examples, the coverage
phase's boundary values, then fuzzing) and every answer is checked: no 5xx, a documented
status, the documented content type and a body that matches the documented schema.

    .venv/bin/python -m tests.fuzz_api [max-examples]

Left out: the two SSE streams (they hold the connection open by design) and the
synchronous call, which waits for a node that is not there. Prints the operations and
test cases run; exits non-zero on any failure.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from tests.localstack import STACK_CREDENTIALS, RunningStack

CHECKS = ("not_a_server_error", "response_schema_conformance", "status_code_conformance",
          "content_type_conformance")
EXCLUDED = r"^/(v1/events|events/\{alias\}|api/v1/request)$"


def main(max_examples: int) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        stack = RunningStack(Path(scratch) / "data").start()
        report = Path(scratch) / "events.ndjson"
        try:
            run = subprocess.run(
                [sys.executable, "-m", "schemathesis.cli", "run", stack.url("/openapi.json"),
                 "--checks", ",".join(CHECKS), "--exclude-path-regex", EXCLUDED,
                 "-H", f"Authorization: Bearer {STACK_CREDENTIALS['SWITCHBOARD_ADMIN_TOKEN']}",
                 "--max-examples", str(max_examples), "--workers", "1", "--seed", "14",
                 "--request-timeout", "30", "--continue-on-failure", "--no-shrink",
                 "--report", "ndjson", "--report-ndjson-path", str(report)],
                cwd=scratch)
            operations, cases, statuses = summarize(report)
        finally:
            stack.stop()
    print(f"schemathesis: {operations} operations, {cases} test cases; responses by status: "
          f"{dict(sorted(statuses.items()))}")
    return run.returncode


def summarize(report: Path) -> tuple[int, int, Counter]:
    """(operations tested, test cases sent, answers by status) from the NDJSON events."""
    operations, cases, statuses = set(), 0, Counter()
    for line in report.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished") or {}
        recorder = finished.get("recorder") or {}
        label = recorder.get("label")
        if label:
            operations.add(label)
        for interactions in (recorder.get("interactions") or {}).values():
            response = interactions.get("response") or {}
            cases += 1
            statuses[response.get("status_code")] += 1
    return len(operations), cases, statuses


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
