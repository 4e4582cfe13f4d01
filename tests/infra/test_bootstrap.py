"""`python -m infra.bootstrap` against (moto's) real AWS APIs: the pepper comes from
Secrets Manager, and the credentials it prints work for the app."""
from __future__ import annotations

import boto3

from chalicelib import config
from chalicelib.services import identity
from infra import bootstrap


def test_bootstrap_a_deployed_stage(aws, monkeypatch, capsys):
    boto3.client("secretsmanager").create_secret(Name="switchboard-test/token-pepper",
                                                 SecretString="deployed-pepper")
    monkeypatch.delenv("SWITCHBOARD_TOKEN_PEPPER")
    # bootstrap sets these for chalicelib; let monkeypatch restore them afterwards.
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "SWITCHBOARD_STAGE"):
        monkeypatch.setenv(name, "us-east-1" if name.startswith("AWS") else "test")
    monkeypatch.setenv("SWITCHBOARD_TABLE_PREFIX", "switchboard-test-")
    monkeypatch.setenv("SWITCHBOARD_ADMIN_PASSWORD", "a-long-admin-password")
    try:
        assert bootstrap.main(["--stage", "test", "--admin-email", "ops@example.test"]) == 0
        out = capsys.readouterr().out
        assert config.settings().token_pepper == b"deployed-pepper"
        token = next(line.split(": ")[1].split()[0] for line in out.splitlines()
                     if "admin token" in line)
        principal = identity.resolve_secret(token)
        assert "admin" in principal.roles
        from chalicelib.services.people import login
        assert login.password_login("ops@example.test", "a-long-admin-password").user.role == \
            "admin"

        assert bootstrap.main(["--stage", "test", "--admin-email", "ops@example.test"]) == 0
        assert "already bootstrapped" in capsys.readouterr().out
    finally:
        monkeypatch.undo()
        config.reload()
