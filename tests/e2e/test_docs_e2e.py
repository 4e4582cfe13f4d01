"""`/docs` in a real browser: Debian's headless Chromium loads the page from the local
stack, Swagger UI (served by the app) fetches `/openapi.json` and renders the operations.
Chromium reaches only the stack on 127.0.0.1 (background networking, updates and sync are
off, and the page loads nothing from anywhere else)."""
import re
import shutil
import subprocess

import pytest

import app  # noqa: F401  (declares the routes)
from chalicelib.api.routing import ROUTES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                             "(apt-get install -y chromium)")
def test_the_docs_page_renders_the_operations(stack, tmp_path):
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         # Swagger UI 5 renders only the operations in view: a window tall enough for all
         "--window-size=1400,40000", "--virtual-time-budget=30000", "--dump-dom",
         stack.url("/docs")],
        capture_output=True, text=True, timeout=120).stdout
    assert len(ROUTES) > 150
    operations = re.findall(r'class="opblock opblock-(get|post|put|patch|delete)', dom)
    assert len(operations) == len(ROUTES), f"{len(operations)} operations rendered"
    assert 'data-path="/api/v1/tasks"' in dom and 'data-path="/mcp"' in dom
    assert "platform/tasks" in dom and "commhub/mcp" in dom      # the tags
    assert "Switchboard" in dom and "OAS 3.1" in dom             # the document's info
