"""Fixtures: an in-process AWS (moto) per test, the app through chalice.test.Client, and a
real local stack (subprocess, real sockets) shared by the end-to-end tests."""
from __future__ import annotations

import contextlib
import json
import os

# The environment must be set before chalicelib reads its settings and defines its tables.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
    "SWITCHBOARD_STAGE": "test", "SWITCHBOARD_TOKEN_PEPPER": "test-pepper",
    "SWITCHBOARD_JWT_SECRET": "test-jwt-key", "SWITCHBOARD_OPEN_DIALECTS": "",
    "SWITCHBOARD_WS_ENDPOINT": "http://localhost:9/unused",
})
for _name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3",
              "AWS_PROFILE"):
    os.environ.pop(_name, None)

import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from chalicelib import config  # noqa: E402
from infra.local import dynamodb, moto_patches  # noqa: E402

# The same DynamoDB the local stack runs: moto, patched, reached in process.
moto_patches.apply()
dynamodb.install_transport(dynamodb.LocalDynamoDB(os.environ["AWS_DEFAULT_REGION"]))

ADMIN_EMAIL = "admin@example.test"
ADMIN_PASSWORD = "admin-password"
ADMIN_TOKEN = "sba_test_admin_token"
SHARED_SECRET = "test-shared-secret"


@contextlib.contextmanager
def fresh_aws():
    """A fresh in-process AWS with every table and the files bucket."""
    with mock_aws():
        import boto3
        from chalicelib.services import identity
        from chalicelib.services.people import ip_rules
        from chalicelib.store import tables
        tables.create_all()
        boto3.client("s3").create_bucket(Bucket=config.settings().files_bucket)
        from infra.local import outbound  # the vault key, the SES sender, the deliveries queue
        outbound.provision(os.environ["AWS_DEFAULT_REGION"])
        identity._cache.clear()
        ip_rules._cache.clear()
        from chalicelib.services import reactions
        reactions.forget()
        yield


def bootstrap_hub() -> dict:
    """The default network: its admin, admin token and shared secret."""
    from chalicelib.services import identity
    return identity.bootstrap(admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD,
                              shared_secret=SHARED_SECRET, admin_token=ADMIN_TOKEN)


@pytest.fixture
def aws():
    with fresh_aws():
        yield


@pytest.fixture
def settings_env(monkeypatch):
    """Change settings for one test: `settings_env(SWITCHBOARD_OPEN_DIALECTS="hub2d")`."""
    def apply(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return config.reload()
    yield apply
    monkeypatch.undo()
    config.reload()


@pytest.fixture
def hub(aws):
    """The bootstrapped default network: its admin, admin token and shared secret."""
    return bootstrap_hub()


class Api:
    """chalice.test.Client with JSON in and out, and a credential to send."""

    def __init__(self, client, headers=None):
        self._client = client
        self.headers = headers or {}

    def as_(self, **headers) -> "Api":
        return Api(self._client, headers)

    def bearer(self, token: str) -> "Api":
        return self.as_(Authorization=f"Bearer {token}")

    def call(self, method, path, body=None, raw=None, headers=None):
        merged = {**self.headers, **(headers or {})}
        if body is not None:
            raw = json.dumps(body)
            merged.setdefault("Content-Type", "application/json")
        response = getattr(self._client.http, method.lower())(path, headers=merged, body=raw)
        content_type = next((v for k, v in response.headers.items() if k.lower() == "content-type"), "")
        response.json = json.loads(response.body) if response.body and \
            content_type.startswith("application/json") else None
        return response

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


@pytest.fixture
def api(hub):
    from chalice.test import Client

    from app import app
    with Client(app) as client:
        yield Api(client)


@pytest.fixture
def sky(api):
    """A SkyCetus client of the default network (the shared secret)."""
    return api.as_(**{"X-Matrix-Secret": SHARED_SECRET})


@pytest.fixture
def admin(api):
    """The bootstrap admin token."""
    return api.bearer(ADMIN_TOKEN)
