"""SSH connections (admin only): stored credentials, a real handshake, pinned host keys,
one command at a time.

- Credentials (a password, or a private key and its passphrase) are sealed by the vault;
  listings say only which kind is stored.
- Every connection goes through the outbound path: the host's addresses through the SSRF
  guard (the socket goes to the checked address), and the `host:port` circuit breaker.
- Host keys: the first successful `test` (or `execute`) pins the server's key (trust on
  first use, the fingerprint shown to the operator). Afterwards only that key is accepted,
  and it is checked during the key exchange, before any password or key signature is
  sent: a changed key is refused with both fingerprints. Changing the host or port
  forgets the pin; so does `forget_host_key`.
- `execute` runs one command with a timeout (at most MAX_TIMEOUT_S, under API Gateway's
  29 s) and keeps at most OUTPUT_CAP bytes of stdout and of stderr (the rest is read and
  dropped); the command and its exit status go to the audit record.
asyncio, asyncssh (and cryptography under it) are imported only when a connection is used.
"""
from __future__ import annotations

import json
import time

from chalicelib import logs
from chalicelib.clock import now_ms
from chalicelib.errors import Conflict, Unavailable, ValidationFailed
from chalicelib.services import audit, vault
from chalicelib.services.outbound import breakers, guard
from chalicelib.services.records import Family, Page
from chalicelib.store.outbound import SSHConnectionRecord as S
from chalicelib.limits import (SSH_COMMAND_MAX_CHARS as MAX_COMMAND_CHARS,
                               SSH_TIMEOUT_MAX_S as MAX_TIMEOUT_S)

log = logs.get("ssh")
SSH = Family(S, kind="ssh_connection", id_prefix="ssh", label="SSH connection")
OUTPUT_CAP = 64 * 1024
DEFAULT_TIMEOUT_S = 20
CONNECT_TIMEOUT_S = 10
AUTH_TYPES = ("password", "key")


class HostKeyChanged(Conflict):
    """The server's key is not the pinned one (409: the pin and the server disagree)."""
    code = "host_key_changed"


def _purpose(connection_id: str) -> str:
    return f"ssh/{connection_id}"


# --------------------------------------------------------------------------- records


def _string(value, field: str, limit: int, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValidationFailed(field, f"'{field}' is required (at most {limit} characters)"
                               if required else f"'{field}' is a string of at most {limit} characters")
    return value.strip()


def _host(value) -> str:
    host = _string(value, "host", 255, required=True).lower()
    try:
        guard.check_host(host)
    except guard.Refused as refused:
        raise ValidationFailed("host", refused.message) from None
    return host


def _port(value) -> int:
    if value is None:
        return 22
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValidationFailed("port", "'port' is an integer from 1 to 65535")
    return value


def _credentials(auth_type, password, private_key, passphrase) -> tuple[str, dict]:
    auth_type = auth_type or ("key" if private_key else "password")
    if auth_type not in AUTH_TYPES:
        raise ValidationFailed("auth_type", "'auth_type' is 'password' or 'key'")
    if auth_type == "password":
        if not isinstance(password, str) or not password:
            raise ValidationFailed("password", "a password connection needs 'password'")
        return auth_type, {"password": password}
    if not isinstance(private_key, str) or not private_key.strip():
        raise ValidationFailed("private_key", "a key connection needs 'private_key'")
    import asyncssh
    try:
        asyncssh.import_private_key(private_key, passphrase)
    except (asyncssh.KeyImportError, ValueError, TypeError):
        raise ValidationFailed("private_key", "'private_key' is not a private key this "
                                              "passphrase opens (OpenSSH or PEM)") from None
    return auth_type, {"private_key": private_key, "passphrase": passphrase}


def _tags(value) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 50 or \
            not all(isinstance(t, str) and 0 < len(t) <= 64 for t in value):
        raise ValidationFailed("tags", "'tags' is a list of short strings")
    return value


def create_connection(network_id: str, *, actor: str | None, host, username, port=None,
                      name=None, auth_type=None, password=None, private_key=None,
                      passphrase=None, description=None, tags=None) -> S:
    auth_type, credentials = _credentials(auth_type, password, private_key, passphrase)
    record = SSH.new(network_id, created_by=actor,
                     name=_string(name, "name", 200) or "Unnamed Connection", host=_host(host),
                     port=_port(port), username=_string(username, "username", 255, required=True),
                     auth_type=auth_type, description=_string(description, "description", 2000),
                     tags=_tags(tags), status="untested")
    record.sealed = vault.seal(json.dumps(credentials), network_id=network_id,
                               purpose=_purpose(record.id))
    return SSH.create(record, event={"name": record.name, "host": record.host})


def update_connection(network_id: str, connection_id: str, **fields) -> S:
    record = SSH.get(network_id, connection_id)
    sets, removals = {}, []
    if fields.get("name") is not None:
        sets["name"] = _string(fields["name"], "name", 200, required=True)
    if fields.get("description") is not None:
        sets["description"] = _string(fields["description"], "description", 2000)
    if fields.get("tags") is not None:
        sets["tags"] = _tags(fields["tags"])
    if fields.get("username") is not None:
        sets["username"] = _string(fields["username"], "username", 255, required=True)
    moved = False
    if fields.get("host") is not None and fields["host"].strip().lower() != record.host:
        sets["host"], moved = _host(fields["host"]), True
    if fields.get("port") is not None and _port(fields["port"]) != record.port:
        sets["port"], moved = _port(fields["port"]), True
    if moved:  # another server: its key is not the pinned one
        sets["status"] = "untested"
        removals += ["host_key", "host_key_fingerprint"]
    if any(fields.get(k) is not None for k in ("password", "private_key", "auth_type")):
        auth_type, credentials = _credentials(fields.get("auth_type"), fields.get("password"),
                                              fields.get("private_key"), fields.get("passphrase"))
        sets["auth_type"] = auth_type
        sets["sealed"] = vault.seal(json.dumps(credentials), network_id=network_id,
                                    purpose=_purpose(record.id))
    if not sets and not removals:
        return record
    return SSH.update(record, sets, removals=removals, event={"name": sets.get("name", record.name)})


def forget_host_key(network_id: str, connection_id: str) -> S:
    record = SSH.get(network_id, connection_id)
    return SSH.update(record, {"status": "untested"}, removals=["host_key", "host_key_fingerprint"],
                      event={"name": record.name, "host_key_forgotten": True})


def delete_connection(network_id: str, connection_id: str) -> None:
    SSH.delete(SSH.get(network_id, connection_id))


def get_connection(network_id: str, connection_id: str) -> S:
    return SSH.get(network_id, connection_id)


def list_connections(network_id: str, **paging) -> Page:
    return SSH.list(network_id, **paging)


# --------------------------------------------------------------------------- sessions


class _Session:
    """One SSH connection through the outbound path, pinning or checking the host key."""

    def __init__(self, record: S):
        self.record = record
        self.presented = None          # the host key the server showed
        self.breaker = f"{record.host}:{int(record.port)}"

    def _client(self):
        import asyncssh
        session = self

        class PinningClient(asyncssh.SSHClient):
            def validate_host_public_key(self, host, addr, port, key):
                session.presented = key
                pinned = session.record.host_key
                return pinned is None or key.export_public_key().decode().strip() == pinned
        return PinningClient()

    async def _connect(self, address: str):
        import asyncssh
        credentials = json.loads(vault.unseal(self.record.sealed, network_id=self.record.network_id,
                                              purpose=_purpose(self.record.id)))
        keys = None
        if credentials.get("private_key"):
            keys = [asyncssh.import_private_key(credentials["private_key"],
                                                credentials.get("passphrase"))]
        return await asyncssh.connect(
            address, int(self.record.port), username=self.record.username,
            password=credentials.get("password"), client_keys=keys, known_hosts=([], [], []),
            client_factory=self._client, agent_path=None, config=None, x509_trusted_certs=None,
            connect_timeout=CONNECT_TIMEOUT_S, login_timeout=CONNECT_TIMEOUT_S)

    def run(self, work, timeout_s: float):
        """`work(connection)` on a fresh connection: (result, error message or None)."""
        import asyncio

        import asyncssh
        addresses = guard.resolve(self.record.host, int(self.record.port))
        admission = breakers.admit(self.record.network_id, self.breaker)
        if not admission.allowed:
            return None, f"circuit breaker {self.breaker} is open; try again later"

        async def session():
            async with await self._connect(addresses[0]) as connection:
                return await work(connection)
        try:
            result = asyncio.run(asyncio.wait_for(session(), timeout_s + CONNECT_TIMEOUT_S))
            error, host_failed = None, False
        except asyncssh.HostKeyNotVerifiable:
            result, error, host_failed = None, "host key changed", False
        except asyncssh.PermissionDenied:
            result, error, host_failed = None, "authentication failed", False
        except (OSError, asyncio.TimeoutError, asyncssh.Error) as failure:
            result, host_failed = None, True
            error = "timed out" if isinstance(failure, asyncio.TimeoutError) else \
                f"{type(failure).__name__}: {failure}"[:300]
        breakers.record_result(self.record.network_id, self.breaker, ok=not host_failed,
                               trial=admission.trial, error=error)
        return result, error

    def fingerprint(self) -> str | None:
        return self.presented.get_fingerprint() if self.presented is not None else None


def _settle(record: S, session: _Session, error: str | None) -> S:
    """Keep the connection's status, and pin the host key on its first success."""
    sets = {"status": "failed" if error else "connected", "last_tested_at": now_ms()}
    removals = []
    if error:
        sets["last_error"] = error
    else:
        removals.append("last_error")
        if record.host_key is None and session.presented is not None:
            sets["host_key"] = session.presented.export_public_key().decode().strip()
            sets["host_key_fingerprint"] = session.fingerprint()
    return SSH.update(record, sets, removals=removals, event={"name": record.name,
                                                              "status": sets["status"]})


def _refuse_changed_key(record: S, session: _Session, error: str | None) -> None:
    if error == "host key changed":
        raise HostKeyChanged(
            f"the host key of {record.host}:{record.port} changed: pinned "
            f"{record.host_key_fingerprint}, presented {session.fingerprint()}. If the server "
            "was really re-keyed, forget the pinned key and test again.",
            pinned=record.host_key_fingerprint, presented=session.fingerprint())


def test_connection(network_id: str, connection_id: str) -> dict:
    """A real handshake and authentication; pins the host key on the first success."""
    record = SSH.get(network_id, connection_id)
    session = _Session(record)
    started = time.monotonic()

    async def handshake(connection):
        return connection.get_extra_info("server_version")
    server, error = session.run(handshake, CONNECT_TIMEOUT_S)
    first_pin = record.host_key is None and error is None
    record = _settle(record, session, error)
    _refuse_changed_key(record, session, error)
    return {"status": "failed" if error else "success",
            "message": error or f"connected and authenticated as {record.username}",
            "server_version": server, "host_key_fingerprint": record.host_key_fingerprint,
            "host_key_pinned": first_pin, "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def execute(network_id: str, connection_id: str, command, *, timeout_s=None) -> dict:
    """Run one command: exit status, stdout and stderr (each capped), whether it timed out."""
    command = _string(command, "command", MAX_COMMAND_CHARS, required=True)
    timeout_s = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or \
            not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise ValidationFailed("timeout", f"'timeout' is a number of seconds up to {MAX_TIMEOUT_S}")
    record = SSH.get(network_id, connection_id)
    session = _Session(record)
    started = time.monotonic()

    async def run(connection):
        import asyncio
        async with connection.create_process(command, encoding=None) as process:
            try:
                (out, out_cut), (err, err_cut) = await asyncio.wait_for(asyncio.gather(
                    _read_capped(process.stdout), _read_capped(process.stderr)), timeout_s)
                await asyncio.wait_for(process.wait_closed(), 5)
                return {"exit_status": process.exit_status, "stdout": out, "stderr": err,
                        "truncated": out_cut or err_cut, "timed_out": False}
            except asyncio.TimeoutError:
                process.close()
                return {"exit_status": None, "stdout": b"", "stderr": b"", "truncated": False,
                        "timed_out": True}
    result, error = session.run(run, timeout_s)
    if error or record.host_key is None:
        record = _settle(record, session, error)
    _refuse_changed_key(record, session, error)
    audit.note(action="ssh.execute", target_type="ssh_connection", target_id=connection_id,
               command=command[:500], exit_status=(result or {}).get("exit_status"),
               timed_out=(result or {}).get("timed_out"), error=error)
    if error:
        raise Unavailable(f"SSH to {record.host}:{record.port} failed: {error}")
    return {**result, "stdout": result["stdout"].decode("utf-8", "replace"),
            "stderr": result["stderr"].decode("utf-8", "replace"),
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "host_key_fingerprint": record.host_key_fingerprint}


async def _read_capped(stream) -> tuple[bytes, bool]:
    """Read a stream to its end, keeping at most OUTPUT_CAP bytes."""
    kept, truncated = bytearray(), False
    while True:
        chunk = await stream.read(8192)
        if not chunk:
            return bytes(kept), truncated
        room = OUTPUT_CAP - len(kept)
        if len(chunk) > room:
            truncated = True
        kept += chunk[:max(0, room)]
