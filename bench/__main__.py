"""`make bench`: every benchmark with its default size, one after another.

Each is also runnable alone (`.venv/bin/python -m bench.<name>`), which is quicker when
only one number is wanted.
"""
import subprocess
import sys

BENCHMARKS = ("cold_start", "validation", "tasks", "request_latency", "receive_latency", "files",
              "durability", "outbound")

if __name__ == "__main__":
    failed = [name for name in BENCHMARKS
              if subprocess.run([sys.executable, "-m", f"bench.{name}"]).returncode != 0]
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")
