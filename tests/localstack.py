"""Start and stop the real local stack (`python -m infra.local`) for end-to-end tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
STACK_CREDENTIALS = {
    "SWITCHBOARD_ADMIN_EMAIL": "admin@example.test",
    "SWITCHBOARD_ADMIN_PASSWORD": "admin-password",
    "SWITCHBOARD_ADMIN_TOKEN": "sba_e2e_admin_token",
    "SWITCHBOARD_SHARED_SECRET": "e2e-shared-secret",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningStack:
    def __init__(self, data_dir: Path, **env):
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("SWITCHBOARD_", "AWS_"))}
        self.env = {**clean, **STACK_CREDENTIALS, "PORT": str(self.port), "HOST": "127.0.0.1",
                    "SWITCHBOARD_DATA_DIR": str(data_dir), **env}
        self.process = None
        self.log_path = data_dir.parent / f"stack-{self.port}.log"

    def start(self, timeout: float = 60.0) -> "RunningStack":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "infra.local"], cwd=ROOT,
                                        env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"local stack exited early:\n{self.log()}")
            try:
                if requests.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"local stack did not answer /health in {timeout}s:\n{self.log()}")

    def stop(self, timeout: float = 30.0) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        code = self.process.returncode
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL, as a crash, an OOM kill or a power cut (of the process) would."""
        self.process.kill()
        self.process.wait()
        self._log.close()
        self.process = None

    @property
    def emulator_url(self) -> str:
        """The AWS emulator's HTTP endpoint, as the stack's banner shows it."""
        banners = [line.split()[2] for line in self.log().splitlines() if "AWS emulator" in line]
        if not banners:
            raise RuntimeError("the stack has not printed its banner")
        return banners[-1]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def url(self, path: str) -> str:
        return self.base_url + path
