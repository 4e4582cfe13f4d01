"""Templates for the infrastructure tests: those `make check-infra` just synthesized
(SWITCHBOARD_INFRA_OUT), or synthesized here once per session. The template tests skip
themselves where the infrastructure dependencies are not installed (`make test` does not
install them; `make check-infra` does and runs them)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> dict[str, dict]:
    from infra import check
    out = os.environ.get(check.OUT_ENV)
    if not out:
        out = tmp_path_factory.mktemp("infra")
        check.synthesize(Path(out))
    return check.load_templates(Path(out))
