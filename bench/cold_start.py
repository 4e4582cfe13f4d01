"""Cold-start import cost: `import app` against importing chalice + boto3 + pynamodb alone.

    .venv/bin/python -m bench.cold_start [runs]

Each import runs in a fresh interpreter; runs alternate so machine noise hits both alike.
The target: `import app` costs at most 1.25x the libraries alone.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

APP = "import app"
BASELINE = "import chalice, boto3, pynamodb.models"
# Services load on first use, so `import app` alone flatters: this adds what a first task
# request loads (the task and messaging services, their tables, pynamodb and botocore).
FIRST_TASK_REQUEST = "import app, chalicelib.services.tasks, chalicelib.services.messaging"


def timed(code: str) -> float:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "0"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - started


def main(runs: int) -> None:
    timed(APP), timed(BASELINE)  # compile and warm the file cache
    app, base, first = [], [], []
    for _ in range(runs):
        app.append(timed(APP))
        base.append(timed(BASELINE))
        first.append(timed(FIRST_TASK_REQUEST))
    a, b, f = statistics.median(app), statistics.median(base), statistics.median(first)
    print(f"import app: median {a * 1000:.0f} ms; chalice+boto3+pynamodb: median {b * 1000:.0f} ms; "
          f"ratio {a / b:.2f} (target <= 1.25) over {runs} runs each")
    print(f"import app and what a first task request loads: median {f * 1000:.0f} ms; "
          f"ratio {f / b:.2f}")
    heavy = subprocess.run([sys.executable, "-c", "import sys, app; print(sorted(m for m in ("
                            "'boto3', 'argon2', 'aws_xray_sdk', 'multipart') if m in sys.modules))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    print(f"heavy modules loaded by import app: {heavy}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
