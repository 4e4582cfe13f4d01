"""Templates for the infrastructure tests: those `make check-infra` just synthesized
(SWITCHBOARD_INFRA_OUT), or synthesized here once per session. The template tests skip
themselves where the infrastructure dependencies are not installed (`make test` does not
install them; `make check-infra` does and runs them)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> dict[str, dict]:
    from infra import check
    out = os.environ.get(check.OUT_ENV)
    if not out:
        # In a child process: `chalice package` imports the app with the stage's
        # environment variables set in os.environ, which would leak into later tests.
        out = tmp_path_factory.mktemp("infra")
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                        "from infra import check; check.synthesize(Path(sys.argv[1]))", str(out)],
                       check=True, cwd=check.ROOT,
                       env={**os.environ, "PYTHONPATH": str(check.ROOT)})
    return check.load_templates(Path(out))
