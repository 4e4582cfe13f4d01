"""CDK entry point: one stack for the stage given as context (`-c stage=prod`, default dev).

Run by the cdk CLI through cdk.json (`.venv/bin/python -m infra.cdk`), or in-process by
infra/check.py, which synthesizes offline.
"""
from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk

from infra.cdk.stack import ROOT, SwitchboardStack


def build(stages=None, *, outdir: str | None = None, source_dir: Path = ROOT) -> cdk.App:
    """The CDK app with one stack per stage (not yet synthesized)."""
    app = cdk.App(outdir=outdir) if outdir else cdk.App()
    if stages is None:
        stages = [app.node.try_get_context("stage") or "dev"]
    # chalice package creates (never calls) an AWS client, which needs a region.
    region = os.environ.get("CDK_DEFAULT_REGION")
    if region:
        os.environ.setdefault("AWS_DEFAULT_REGION", region)
    # Environment-agnostic unless the CLI says where it deploys.
    env = None
    if os.environ.get("CDK_DEFAULT_ACCOUNT") and region:
        env = cdk.Environment(account=os.environ["CDK_DEFAULT_ACCOUNT"], region=region)
    for stage in stages:
        SwitchboardStack(app, stage, source_dir=source_dir, env=env)
    return app


def main() -> None:
    build().synth()
