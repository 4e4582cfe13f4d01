"""Packaging the Chalice app offline, for the infrastructure checks.

`chalice package` (and `chalice.cdk.Chalice`, which runs it) builds a deployment zip with
the app's runtime requirements, downloading Linux wheels for them with pip. The checks only
need the templates, which do not depend on those wheels, so they package a copy of the
project with the dependency download switched off:

- `copy_project()` copies what Chalice packages (app.py, chalicelib/, requirements.txt,
  .chalice/ with the config and policy files) to a scratch directory. Chalice caches deployment zips in
  `<project>/.chalice/deployments/` by a hash of requirements.txt; packaging a copy keeps a
  zip built without dependencies out of the real project's cache, where a later real
  `chalice deploy` or `cdk deploy` would otherwise pick it up.
- `without_dependencies()` makes Chalice's dependency builder install nothing, and sets
  PIP_NO_INDEX so any pip call that remains fails instead of reaching the network.

A real deploy (`cdk deploy`, `chalice deploy`) uses neither and packages as usual.
"""
from __future__ import annotations

import json

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILES = ("app.py", "requirements.txt")
PROJECT_DIRS = ("chalicelib", "vendor", ".chalice")
# Never copied: caches and records of earlier deploys.
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "deployments", "deployed")


def copy_project(dst: Path, src: Path = ROOT) -> Path:
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / name, dst / name)
    for name in PROJECT_DIRS:
        if (src / name).is_dir():
            shutil.copytree(src / name, dst / name, ignore=IGNORED)
    return dst


@contextmanager
def without_dependencies():
    """Chalice packages the app's own code only; no pip download, no network."""
    from chalice.deploy.packager import DependencyBuilder

    original = DependencyBuilder.build_site_packages
    saved = os.environ.get("PIP_NO_INDEX")

    def build_nothing(self, abi, requirements_filepath, target_directory):
        os.makedirs(target_directory, exist_ok=True)

    DependencyBuilder.build_site_packages = build_nothing
    os.environ["PIP_NO_INDEX"] = "1"
    try:
        yield
    finally:
        DependencyBuilder.build_site_packages = original
        if saved is None:
            os.environ.pop("PIP_NO_INDEX", None)
        else:
            os.environ["PIP_NO_INDEX"] = saved


def package(project_dir: Path, output_dir: Path, stage: str) -> Path:
    """`chalice package --stage <stage> <output_dir>` in-process; returns sam.json's path."""
    from chalice import api
    api.package_app(project_dir=str(project_dir), output_dir=str(output_dir), stage=stage)
    template = Path(output_dir) / "sam.json"
    # chalice writes it indented (twice the bytes); CloudFormation's 1 MB limit counts the
    # bytes uploaded, so the template to deploy (and lint) is the minified one.
    template.write_text(json.dumps(json.loads(template.read_text()), separators=(",", ":")))
    return template
