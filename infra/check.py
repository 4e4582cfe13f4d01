"""Offline infrastructure check (`make check-infra`). No AWS account, credentials or network.

1. `.chalice/policy-<stage>.json` are what infra/policy.py generates from the models;
2. synthesizes the CDK app (every stage in .chalice/config.json) and, for the plain
   `chalice deploy` path, runs `chalice package --stage <stage>`, on a copy of the project
   with the dependency download switched off (see infra/packaging.py);
3. runs cfn-lint on every template: errors fail, warnings are printed;
4. runs tests/infra against those templates (tables match the models, environment, role,
   bucket, binary types, schedules, no dependency cycle).

    .venv/bin/python -m infra.check [--out DIR]   # keep the templates in DIR
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_ENV = "SWITCHBOARD_INFRA_OUT"


def offline_environment() -> None:
    # chalice package creates (never calls) boto3 clients, which need a region.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # An environment-agnostic synthesis, whatever the shell says.
    for name in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"):
        os.environ.pop(name, None)
    # jsii's banner about Node 20 being past its end of life (the check still runs on it;
    # the README recommends Node 22+ for deploying).
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


def stages() -> list[str]:
    from infra.policy import chalice_config
    return sorted(chalice_config()["stages"])


def synthesize(out: Path) -> dict[str, Path]:
    """Every template, by label (`cdk-prod`, `chalice-prod`, ...), written under `out`."""
    offline_environment()
    from infra import packaging

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in ("project", "cdk.out", "chalice.out", *(f"chalice-{s}" for s in stages())):
        shutil.rmtree(out / old, ignore_errors=True)
    source = packaging.copy_project(out / "project")
    templates = {}
    cwd = os.getcwd()
    os.chdir(out)  # chalice.cdk writes chalice.out/ into the working directory
    try:
        with packaging.without_dependencies():
            from infra.cdk.app import build
            build(stages(), outdir=str(out / "cdk.out"), source_dir=source).synth()
            for stage in stages():
                templates[f"cdk-{stage}"] = out / "cdk.out" / f"{stage}.template.json"
                templates[f"chalice-{stage}"] = packaging.package(
                    source, out / f"chalice-{stage}", stage)
    finally:
        os.chdir(cwd)
    (out / "templates.json").write_text(json.dumps({k: str(v) for k, v in templates.items()}))
    return templates


def load_templates(out: Path) -> dict[str, dict]:
    index = json.loads((Path(out) / "templates.json").read_text())
    return {label: json.loads(Path(path).read_text()) for label, path in index.items()}


API_GATEWAY_RESOURCE_QUOTA = 300


def rest_api_resources(template: dict) -> int:
    """API Gateway resources the REST API needs: one per distinct path prefix of the
    routes in its definition, plus the root (the quota is 300 per API)."""
    (api,) = [r for r in template["Resources"].values()
              if r["Type"] == "AWS::Serverless::Api" and "DefinitionBody" in r["Properties"]]
    prefixes = set()
    for path in api["Properties"]["DefinitionBody"]["paths"]:
        parts = [p for p in path.split("/") if p]
        prefixes.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return len(prefixes) + 1


def lint(templates: dict[str, Path]) -> bool:
    """cfn-lint exit status is a bit mask: 2 errors, 4 warnings, 8 informational."""
    result = subprocess.run([sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())",
                             "--", *map(str, templates.values())],
                            capture_output=True, text=True)
    if result.stdout.strip():
        print(result.stdout.rstrip())
    if result.stderr.strip():
        print(result.stderr.rstrip(), file=sys.stderr)
    if result.returncode & 4:
        print("cfn-lint: warnings (not failing the check)")
    return not (result.returncode & ~(4 | 8))


REST_RESOURCE_QUOTA = 300   # API Gateway's default quota of resources per REST API


def rest_resources(template: dict) -> set[str]:
    """The REST API's resources: every path of its definition and every prefix of one."""
    found = {"/"}
    for path in template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]:
        parts = path.strip("/").split("/")
        found |= {"/" + "/".join(parts[:n]) for n in range(1, len(parts) + 1)}
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="offline infrastructure check")
    parser.add_argument("--out", help="directory for the templates (default: a temporary one)")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    from infra import policy
    if policy.main(["--check"]) != 0:
        return 1
    print("policy files: up to date")

    with tempfile.TemporaryDirectory(prefix="switchboard-infra-") as scratch:
        out = Path(args.out) if args.out else Path(scratch)
        templates = synthesize(out)
        print(f"synthesized: {', '.join(sorted(templates))} "
              f"({time.perf_counter() - started:.1f} s)")
        for label, template in sorted(load_templates(out).items()):
            if label.startswith("chalice-"):
                print(f"{label}: {rest_api_resources(template)} API Gateway REST resources "
                      f"(quota {API_GATEWAY_RESOURCE_QUOTA})")
        if not lint(templates):
            print("cfn-lint: errors", file=sys.stderr)
            return 1
        print("cfn-lint: no errors")
        count = len(rest_resources(load_templates(out)[f"chalice-{stages()[0]}"]))
        print(f"REST API resources: {count} of API Gateway's {REST_RESOURCE_QUOTA}")
        env = {**os.environ, OUT_ENV: str(out.resolve())}
        tests = subprocess.run([sys.executable, "-m", "pytest", "-q", str(ROOT / "tests" / "infra")],
                               cwd=ROOT, env=env)
        if tests.returncode != 0:
            return tests.returncode
    print(f"check-infra: ok ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
