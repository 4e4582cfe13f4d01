"""Platform /api/v1/workflows, their steps and runs: translation only.

`POST /workflows/{id}/run` and `GET /workflows/{id}/runs[/{run_id}]` are our extensions:
the platform could only run a workflow through a trigger's test route."""
from typing import Annotated, Literal

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Id, Input, Name, Object, Text
from chalicelib.api.platform import router
from chalicelib.api.platform.agents import fields_of
from chalicelib.api.platform.listing import Paging, listing, no_content
from chalicelib.clock import iso
from chalicelib.services import orchestration


class NewWorkflow(Input):
    name: Name
    description: Text | None = None
    is_template: bool = False
    config: Object | None = None


class NewStep(Input):
    name: Name
    step_type: Literal["task", "condition", "parallel", "wait", "notify"] = "task"
    order: Annotated[int, Meta(ge=0, le=10_000)] = 0
    config: Object | None = None
    agent_id: Id | None = None
    depends_on: Annotated[list[Annotated[str, Meta(max_length=200)]],
                          Meta(max_length=40)] | None = None


class RunInput(Input):
    input: Object | None = None


def workflow_view(workflow, steps=None) -> dict:
    view = {"id": workflow.id, "name": workflow.name, "description": workflow.description,
            "status": workflow.status, "is_template": bool(workflow.is_template),
            "run_count": int(workflow.run_count or 0), "last_run_id": workflow.last_run_id,
            "created_at": iso(workflow.created_at), "updated_at": iso(workflow.updated_at)}
    if steps is not None:
        view.update(config=workflow.config or {}, steps=[step_view(s) for s in steps])
    return view


def step_view(step) -> dict:
    return {"id": step.id, "name": step.name, "step_type": step.step_type,
            "order": int(step.order or 0), "config": step.config or {},
            "agent_id": step.agent_id, "depends_on": step.depends_on or [], "status": "pending"}


def run_view(run, steps=None) -> dict:
    view = {"id": run.id, "workflow_id": run.workflow_id, "status": run.status,
            "input": run.input or {}, "cause": run.cause, "output": run.output,
            "error": run.error, "started_by": run.created_by,
            "started_at": iso(run.created_at), "finished_at": iso(run.finished_at),
            "duration_ms": (run.finished_at - run.created_at) if run.finished_at else None}
    if steps is not None:
        view["steps"] = [{"id": s.id, "name": s.name, "step_type": s.step_type,
                          "status": s.status, "task_id": s.task_id,
                          "approval_id": s.approval_id, "depends_on": s.depends_on or [],
                          "output": s.output, "error": s.error,
                          "started_at": iso(s.started_at), "finished_at": iso(s.finished_at)}
                         for s in steps]
    return view


@router.route("/api/v1/workflows", query=Paging)
def list_workflows(req):
    found = orchestration.workflows.list_workflows(req.principal.network_id, **req.params.window())
    return listing(found, workflow_view, req.params)


@router.route("/api/v1/workflows", methods=["POST"], body=NewWorkflow)
def create_workflow(req):
    workflow = orchestration.workflows.create(req.principal.network_id, fields_of(req.body),
                                              created_by=req.principal.account_id)
    return Response(body={"id": workflow.id, "name": workflow.name, "status": workflow.status},
                    status_code=201)


@router.route("/api/v1/workflows/{workflow_id}")
def get_workflow(req, workflow_id):
    network_id = req.principal.network_id
    return workflow_view(orchestration.workflows.get(network_id, workflow_id),
                         orchestration.workflows.steps(network_id, workflow_id))


@router.route("/api/v1/workflows/{workflow_id}", methods=["DELETE"])
def delete_workflow(req, workflow_id):
    orchestration.workflows.delete(req.principal.network_id, workflow_id)
    return no_content()


@router.route("/api/v1/workflows/{workflow_id}/steps", methods=["POST"], body=NewStep)
def add_step(req, workflow_id):
    step = orchestration.workflows.add_step(req.principal.network_id, workflow_id, fields_of(req.body),
                                            created_by=req.principal.account_id)
    return Response(body={"id": step.id, "name": step.name, "order": int(step.order or 0),
                          "depends_on": step.depends_on or []}, status_code=201)


@router.route("/api/v1/workflows/{workflow_id}/run", methods=["POST"], body=RunInput)
def run_workflow(req, workflow_id):
    network_id = req.principal.network_id
    # started by the person (their gated steps need someone else's approval)
    run = orchestration.workflows.start_run(network_id, workflow_id, input=req.body.input,
                                            cause={"type": "api"},
                                            started_by=orchestration.approvals.person(req.principal))
    return Response(body=run_view(run, orchestration.workflows.run_steps(network_id, run.id)),
                    status_code=202)


@router.route("/api/v1/workflows/{workflow_id}/runs", query=Paging)
def list_runs(req, workflow_id):
    found = orchestration.workflows.runs(req.principal.network_id, workflow_id, **req.params.window())
    return listing(found, run_view, req.params)


@router.route("/api/v1/workflows/{workflow_id}/runs/{run_id}")
def get_run(req, workflow_id, run_id):
    network_id = req.principal.network_id
    run = orchestration.workflows.get_run(network_id, workflow_id, run_id)
    return run_view(run, orchestration.workflows.run_steps(network_id, run_id))
