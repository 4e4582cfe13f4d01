"""The marketplace installs real agents and workflows from the catalogue's data files."""
import pytest

from chalicelib.auth.principal import Principal
from chalicelib.errors import Conflict, NotFound
from chalicelib.services import nodes
from chalicelib.services.orchestration import agents, marketplace, workflows

NET = "net_a"


def test_the_catalogue_has_at_least_six_checked_templates():
    catalogue = marketplace.catalogue()
    assert len(catalogue) >= 6
    assert {"code-review-pipeline", "research-digest", "support-triage"} <= set(catalogue)
    assert all(t["agents"] and t["workflows"] for t in catalogue.values())


def test_install_creates_the_templates_agents_and_runnable_workflows_once(aws):
    nodes.register(Principal(NET, "admin_token", "admin", system_admin=True), "w1",
                   kind="platform", max_concurrent=10)
    done = marketplace.install(NET, "code-review-pipeline", created_by="user:1",
                               worker_id="w1", run=True, input={"diff": "+1 line"})
    assert [a["name"] for a in done["agents"]] == ["Lint Checker", "Test Runner",
                                                   "Senior Reviewer"]
    flow = done["workflows"][0]["id"]
    steps = {s.name: s for s in workflows.steps(NET, flow)}
    assert set(steps["review"].depends_on) == {steps["lint"].id, steps["test"].id}
    run = {s.name: s.status for s in workflows.run_steps(NET, done["workflow_run_id"])}
    assert run == {"lint": "running", "test": "running", "review": "pending",
                   "notify author": "pending"}

    with pytest.raises(Conflict):
        marketplace.install(NET, "code-review-pipeline", created_by="user:1")
    copy = marketplace.install(NET, "code-review-pipeline", created_by="user:1", name="Team B")
    assert copy["agents"][0]["name"] == "Team B · Lint Checker"
    with pytest.raises(Conflict):
        marketplace.install(NET, "code-review-pipeline", created_by="user:1", name="team b")
    # a clash midway (an agent of that name exists) leaves nothing behind
    agents.create(NET, {"name": "Summariser"}, created_by="user:1")
    with pytest.raises(Conflict):
        marketplace.install(NET, "research-digest", created_by="user:1")
    assert agents.list_agents(NET, limit=100).total == 7
    assert marketplace.downloads()["code-review-pipeline"] == 2
    listed, total, _ = marketplace.list_templates(sort_by="downloads")
    assert listed[0]["id"] == "code-review-pipeline" and total >= 6
    with pytest.raises(NotFound):
        marketplace.get("nope")
