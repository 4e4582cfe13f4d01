"""The REST API stays inside API Gateway's quota of 300 resources (one per path prefix)."""
from __future__ import annotations

import pytest

pytest.importorskip("aws_cdk", reason="infra deps not installed (make check-infra)")

from infra.check import API_GATEWAY_RESOURCE_QUOTA, rest_api_resources  # noqa: E402


def test_the_rest_api_fits_the_resource_quota(templates):
    chalice = {label: t for label, t in templates.items() if label.startswith("chalice-")}
    assert chalice
    for label, template in chalice.items():
        count = rest_api_resources(template)
        # every route's own path is a resource: a template that lost routes would count less
        assert 150 < count < API_GATEWAY_RESOURCE_QUOTA, (label, count)
