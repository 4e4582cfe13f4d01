"""SSH connections against a real asyncssh server on 127.0.0.1: password and key users, a
pinned host key, a changed key refused before any credential is sent, execute with its
output cap and timeout."""
from __future__ import annotations

import asyncio
import threading

import asyncssh
import pytest

from chalicelib.errors import ValidationFailed
from chalicelib.services import audit
from chalicelib.services.outbound import ssh

NET = "net_default"
PASSWORD = "correct-horse-battery-staple"


class SSHServer:
    """asyncssh's server on its own loop and thread; `restart(new_host_key)` rebinds the
    same port with another host key (a re-keyed, or impersonated, server)."""

    def __init__(self, client_key):
        self.client_key = client_key.export_public_key().decode()
        self.password_attempts: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = 0
        self.server = None

    def start(self, host_key):
        self.host_key = host_key
        self.server = asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _listen(self):
        outer = self

        class Server(asyncssh.SSHServer):
            def begin_auth(self, username):
                return True

            def password_auth_supported(self):
                return True

            def validate_password(self, username, password):
                outer.password_attempts.append(password)
                return username == "deploy" and password == PASSWORD

            def public_key_auth_supported(self):
                return True

            def validate_public_key(self, username, key):
                return username == "ci" and key.export_public_key().decode() == outer.client_key

        return await asyncssh.create_server(Server, "127.0.0.1", self.port,
                                            server_host_keys=[self.host_key],
                                            process_factory=self._run)

    @staticmethod
    async def _run(process):
        command = process.command or ""
        if command.startswith("echo "):
            process.stdout.write(command[5:] + "\n")
            process.exit(0)
        elif command == "fail":
            process.stderr.write("boom\n")
            process.exit(3)
        elif command == "flood":
            for _ in range(25):
                process.stdout.write("x" * 8000)
            process.exit(0)
        elif command == "hang":
            await asyncio.sleep(30)
            process.exit(0)
        else:
            process.stderr.write(f"unknown command {command}\n")
            process.exit(127)

    def restart(self, host_key):
        async def close():
            self.server.close()
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        return self.start(host_key)

    def stop(self):
        async def close():
            self.server.close()
            await self.server.wait_closed()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()  # a command still running (the one that hung)
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def server(hub, settings_env):
    settings_env(SWITCHBOARD_OUTBOUND_ALLOW="127.0.0.0/8")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    running = SSHServer(client_key).start(asyncssh.generate_private_key("ssh-ed25519"))
    running.client_private = client_key.export_private_key().decode()
    yield running
    running.stop()


def test_handshake_pins_the_host_key_executes_and_refuses_a_changed_key(server):
    by_password = ssh.create_connection(NET, actor="user:admin", name="web-1", host="127.0.0.1",
                                        port=server.port, username="deploy", password=PASSWORD)
    by_key = ssh.create_connection(NET, actor="user:admin", name="build", host="127.0.0.1",
                                   port=server.port, username="ci",
                                   private_key=server.client_private)
    assert by_key.auth_type == "key" and PASSWORD not in by_password.sealed

    tested = ssh.test_connection(NET, by_password.id)
    expected = server.host_key.get_fingerprint()
    assert tested["status"] == "success" and tested["host_key_pinned"] is True
    assert tested["host_key_fingerprint"] == expected
    assert ssh.get_connection(NET, by_password.id).status == "connected"

    note = audit.begin()
    ran = ssh.execute(NET, by_key.id, "echo hello from ci")
    assert (ran["exit_status"], ran["stdout"], ran["timed_out"]) == (0, "hello from ci\n", False)
    assert note.action == "ssh.execute" and note.details["command"] == "echo hello from ci"
    assert ssh.get_connection(NET, by_key.id).host_key_fingerprint == expected  # pinned on use
    failed = ssh.execute(NET, by_key.id, "fail")
    assert (failed["exit_status"], failed["stderr"]) == (3, "boom\n")
    flood = ssh.execute(NET, by_key.id, "flood")
    assert flood["truncated"] and len(flood["stdout"]) == ssh.OUTPUT_CAP
    hung = ssh.execute(NET, by_key.id, "hang", timeout_s=0.5)
    assert hung["timed_out"] and hung["exit_status"] is None

    wrong = ssh.create_connection(NET, actor="user:admin", host="127.0.0.1", port=server.port,
                                  username="deploy", password="not-the-password")
    assert ssh.test_connection(NET, wrong.id)["message"] == "authentication failed"

    attempts_before = len(server.password_attempts)
    impostor_key = asyncssh.generate_private_key("ssh-ed25519")
    server.restart(impostor_key)
    with pytest.raises(ssh.HostKeyChanged) as changed:
        ssh.test_connection(NET, by_password.id)
    assert expected in changed.value.message and impostor_key.get_fingerprint() in changed.value.message
    with pytest.raises(ssh.HostKeyChanged):
        ssh.execute(NET, by_key.id, "echo secret")
    assert len(server.password_attempts) == attempts_before  # no password reached the impostor
    assert ssh.get_connection(NET, by_password.id).status == "failed"

    ssh.forget_host_key(NET, by_password.id)  # the operator says the server was re-keyed
    assert ssh.test_connection(NET, by_password.id)["host_key_fingerprint"] == \
        impostor_key.get_fingerprint()


def test_connections_are_validated_and_guarded(hub, settings_env):
    settings_env(SWITCHBOARD_OUTBOUND_ALLOW="")
    with pytest.raises(ValidationFailed):  # a deployed stage refuses private hosts
        ssh.create_connection(NET, actor="a", host="10.0.0.5", username="root", password="x")
    with pytest.raises(ValidationFailed):
        ssh.create_connection(NET, actor="a", host="example.com", username="root",
                              private_key="not a key")
    with pytest.raises(ValidationFailed):
        ssh.create_connection(NET, actor="a", host="example.com", username="root")
