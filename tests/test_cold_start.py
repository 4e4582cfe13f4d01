"""What a Lambda function's cold start loads, read in a fresh interpreter: declaring every
route loads no service, no table and no AWS SDK; services load on first use, and what the
routes can only know from a service (a /ws subscription's event types) still holds."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_fresh(code: str) -> dict:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_declaring_the_routes_loads_no_service_table_or_sdk():
    loaded = run_fresh(
        "import json, sys, app\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(("
        "'chalicelib.store.', 'boto3', 'botocore', 'pynamodb', 'chalicelib.services.')))))")
    # The request middleware's own timing module is the one service loaded on purpose.
    assert loaded == ["chalicelib.services.insight", "chalicelib.services.insight.metrics",
                      "chalicelib.services.outbound", "chalicelib.services.people"]


def test_a_service_taken_from_its_package_loads_when_first_used():
    seen = run_fresh(
        "import json, sys, app\n"
        "from chalicelib.services import tasks\n"
        "before = 'chalicelib.services.tasks' in sys.modules\n"
        "statuses = sorted(tasks.EVENT_TYPES)\n"
        "print(json.dumps([before, 'chalicelib.services.tasks' in sys.modules, statuses]))")
    assert seen[0] is False and seen[1] is True and "completed" in seen[2]


def test_event_types_of_families_not_yet_loaded_are_known():
    known = run_fresh(
        "import json, app\n"
        "from chalicelib.services import events\n"
        "print(json.dumps([events.known_type(t) for t in ("
        "'workflow_run.updated', 'webhook.*', 'secret.rotated', 'task.completed', 'nope.thing')]))")
    assert known == [True, True, True, True, False]


def test_what_registers_itself_on_import_is_loaded_before_it_is_needed():
    """Reaction handlers (workflow steps, chat replies, triggers) and outbound target kinds
    register when their modules load; a function that has not loaded them yet (a node's
    task completion, a delivery worker) must still find them."""
    loaded = run_fresh(
        "import json, sys, app\n"
        "from chalicelib.services import reactions\n"
        "from chalicelib.services.outbound import deliveries\n"
        "reactions.dispatch('net-1', [], fast=False)\n"
        "deliveries._kind('webhook'), deliveries._kind('channel')\n"
        "print(json.dumps(sorted(m for m in ("
        "'chalicelib.services.orchestration.workflows', 'chalicelib.services.orchestration.chat',"
        "'chalicelib.services.orchestration.triggers', 'chalicelib.services.outbound.webhooks',"
        "'chalicelib.services.outbound.channels') if m in sys.modules)))")
    assert loaded == ["chalicelib.services.orchestration.chat",
                      "chalicelib.services.orchestration.triggers",
                      "chalicelib.services.orchestration.workflows",
                      "chalicelib.services.outbound.channels",
                      "chalicelib.services.outbound.webhooks"]
