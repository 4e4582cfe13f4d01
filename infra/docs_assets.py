"""Fetch Swagger UI's assets from the npm registry into chalicelib/api/docs_assets/, which
is committed and shipped with the app (the Lambda package), so `/docs` is served by the app
itself, never from a CDN. Run it again to move to another version:

    .venv/bin/python -m infra.docs_assets [version]

It runs `npm pack swagger-ui-dist@<version>` (npm's own client, its integrity check),
copies the few files the page needs and writes MANIFEST.json with their sha256, which
tests/test_openapi.py checks the committed files against.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "swagger-ui-dist"
VERSION = "5.35.0"   # Swagger UI 5: the first to render OpenAPI 3.1
FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE",
         "swagger-ui-bundle.js.LICENSE.txt")
TARGET = Path(__file__).resolve().parent.parent / "chalicelib" / "api" / "docs_assets"


def fetch(version: str = VERSION) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["npm", "pack", f"{PACKAGE}@{version}", "--silent"], cwd=scratch,
                       check=True, stdout=subprocess.DEVNULL)
        (archive,) = Path(scratch).glob("*.tgz")
        with tarfile.open(archive) as tar:
            TARGET.mkdir(parents=True, exist_ok=True)
            for name in FILES:
                data = tar.extractfile(f"package/{name}").read()
                (TARGET / name).write_bytes(data)
    manifest = {"package": PACKAGE, "version": version,
                "files": {name: hashlib.sha256((TARGET / name).read_bytes()).hexdigest()
                          for name in FILES}}
    (TARGET / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


if __name__ == "__main__":
    print(json.dumps(fetch(*sys.argv[1:2]), indent=2))
