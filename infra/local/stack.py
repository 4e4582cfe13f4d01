"""The embedded local stack: moto (DynamoDB, S3, SQS, KMS, SES), the app over HTTP and
WebSocket, the Management API, the schedules, the stream and queue consumers
(infra/local/outbound.py) and persistence, in one process.

The app is the same object Lambda runs; only the AWS endpoints point elsewhere. The
environment is prepared before the app is imported, as Lambda's would be. Every write the
stack acknowledges is in its journal first (see persistence.py).
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import secrets
import sys
from pathlib import Path

DEFAULT_OPEN_DIALECTS = "gemmanet,hub2d"
# Web apps served by their own dev servers (the platform's web app defaults to port 3000).
DEFAULT_CORS_ORIGINS = "http://localhost:3000,http://127.0.0.1:3000"


def _local_keys(data_dir: Path) -> dict:
    """Server-side keys (token pepper, JWT signing key) kept with the data, so tokens
    issued before a restart still verify after it."""
    path = data_dir / "keys.json"
    if path.exists():
        return json.loads(path.read_text())
    keys = {"token_pepper": secrets.token_hex(32), "jwt_secret": secrets.token_hex(32)}
    path.write_text(json.dumps(keys))
    path.chmod(0o600)
    return keys


class LocalStack:
    def __init__(self, host: str, port: int, data_dir: Path):
        # HOST may list several addresses ("127.0.0.1,::1"): the stack listens on each,
        # so a client can call from IPv4 and IPv6 loopback (IP rules see both addresses).
        self.hosts = [h.strip() for h in host.split(",") if h.strip()] or ["127.0.0.1"]
        self.host, self.port, self.data_dir = self.hosts[0], port, data_dir
        self.moto = None
        self.persistence = None
        self.scheduler = None
        self.consumers = None
        self.gateway = None

    @property
    def base_url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://[{shown}]:{self.port}" if ":" in shown else f"http://{shown}:{self.port}"

    # ------------------------------------------------------------------ start

    def _start_emulator(self) -> str:
        from infra.local.emulator import Emulator
        self.moto = Emulator(self.host or "127.0.0.1")
        return self.moto.start()

    def _prepare_environment(self, emulator_url: str) -> None:
        keys = _local_keys(self.data_dir)
        env = os.environ
        env.setdefault("AWS_ACCESS_KEY_ID", "local")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        env.setdefault("AWS_REGION", env["AWS_DEFAULT_REGION"])
        for service in ("DYNAMODB", "S3", "SQS", "KMS", "SES"):
            env[f"AWS_ENDPOINT_URL_{service}"] = emulator_url
        # Receivers on this machine (webhooks, Slack stand-ins) are the point of a local stack.
        env.setdefault("SWITCHBOARD_OUTBOUND_ALLOW", "127.0.0.0/8,::1/128")
        env["SWITCHBOARD_WS_ENDPOINT"] = self.base_url
        env.setdefault("SWITCHBOARD_STAGE", "local")
        env.setdefault("SWITCHBOARD_OPEN_DIALECTS", DEFAULT_OPEN_DIALECTS)
        env.setdefault("SWITCHBOARD_CORS_ORIGINS", DEFAULT_CORS_ORIGINS)
        env.setdefault("SWITCHBOARD_TOKEN_PEPPER", keys["token_pepper"])
        env.setdefault("SWITCHBOARD_JWT_SECRET", keys["jwt_secret"])

    def start(self) -> dict:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        emulator_url = self._start_emulator()
        self._prepare_environment(emulator_url)

        import boto3
        from chalicelib.config import settings
        from chalicelib.store import tables

        cfg = settings()
        tables.create_all(wait=True)
        boto3.client("s3", region_name=cfg.region).create_bucket(Bucket=cfg.files_bucket)
        from infra.local import outbound
        outbound.provision(cfg.region, self.data_dir)
        from infra.local.persistence import Persistence
        self.persistence = Persistence(self.data_dir, self.moto)
        recovered = self.persistence.open()

        from chalicelib.services import identity
        boot = identity.bootstrap(
            admin_email=os.environ.get("SWITCHBOARD_ADMIN_EMAIL", "admin@switchboard.local"),
            admin_password=os.environ.get("SWITCHBOARD_ADMIN_PASSWORD"),
            shared_secret=os.environ.get("SWITCHBOARD_SHARED_SECRET"),
            admin_token=os.environ.get("SWITCHBOARD_ADMIN_TOKEN"))

        app_module = importlib.import_module("app")
        from infra.local.gateway import LocalGateway
        from infra.local.scheduler import Scheduler
        self.gateway = LocalGateway(app_module, streaming=os.environ.get(
            "SWITCHBOARD_LOCAL_STREAMING", "on").strip().lower() != "off")
        from infra.local import transport
        transport.route("apigatewaymanagementapi", self.base_url, self.gateway.management_call)
        override = os.environ.get("SWITCHBOARD_LOCAL_SCHEDULE_SECONDS")
        self.scheduler = Scheduler(app_module, float(override) if override else None)
        self.scheduler.start()
        self.consumers = outbound.Consumers(app_module, cfg.region)
        self.consumers.start()
        return {"emulator": emulator_url, "restored": recovered["restored"], "bootstrap": boot}

    # ------------------------------------------------------------------ serve

    def serve(self) -> None:
        import uvicorn
        config = uvicorn.Config(self.gateway, host=self.host, port=self.port, lifespan="off",
                                log_level="warning", ws_max_size=256 * 1024,
                                timeout_graceful_shutdown=3, ws_ping_interval=None)
        server = uvicorn.Server(config)
        if len(self.hosts) == 1:
            server.run()
        else:
            server.run(sockets=[_listening_socket(h, self.port) for h in self.hosts])

    def stop(self) -> None:
        if self.consumers:
            self.consumers.stop()
        if self.scheduler:
            self.scheduler.stop()
        if self.gateway:
            self.gateway.executor.shutdown(wait=False, cancel_futures=True)
        if self.persistence:
            try:
                self.persistence.close()
            except Exception:
                logging.getLogger("switchboard.local").exception("closing the journal failed")
        if self.moto:
            self.moto.stop()


def _listening_socket(host: str, port: int):
    import socket
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((host, port))
    return sock


def banner(stack: LocalStack, info: dict) -> str:
    ws = stack.base_url.replace("http://", "ws://")
    boot = info["bootstrap"]
    lines = [
        "",
        "Switchboard local stack",
        f"  base URL         {stack.base_url}"
        + (f"   (also listening on {', '.join(stack.hosts[1:])})" if len(stack.hosts) > 1 else ""),
        f"  WebSocket        {ws}/ws/node   (GemmaNet nodes)",
        f"                   {ws}/ws        (platform events)",
        f"  Management API   {stack.base_url}/@connections/{{id}}",
        f"  AWS emulator     {info['emulator']}   (moto: DynamoDB, S3, SQS, KMS, SES)",
        f"  durability       {stack.persistence.describe()}",
        f"  data directory   {stack.data_dir}",
        f"  open dialects    {os.environ.get('SWITCHBOARD_OPEN_DIALECTS') or '(none)'}",
        f"  default network  {boot['network_id']}",
        f"  admin login      {boot['admin_email']}",
    ]
    generated = boot["generated"]
    if generated:
        lines.append("  Generated bootstrap credentials (shown once; set SWITCHBOARD_* to fix them):")
        labels = {"admin_password": "admin password", "admin_token": "admin token  ",
                  "shared_secret": "shared secret"}
        for key, value in generated.items():
            lines.append(f"    {labels[key]}    {value}")
    elif boot["first_start"] is False:
        lines.append("  Credentials: as configured, or as printed at this data directory's first start.")
    restored = {k: v for k, v in info["restored"].items() if v}
    if restored:
        lines.append(f"  restored         {restored}")
    lines.append("Ctrl-C stops the stack.")
    return "\n".join(lines) + "\n"


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    data_dir = Path(os.environ.get("SWITCHBOARD_DATA_DIR", ".local-data")).resolve()
    stack = LocalStack(host, port, data_dir)
    try:
        info = stack.start()
        sys.stdout.write(banner(stack, info))
        sys.stdout.flush()
        stack.serve()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; we are stopping anyway
        pass
    finally:
        stack.stop()
        kept = stack.persistence is not None and stack.persistence.enabled
        sys.stdout.write("Switchboard local stack stopped" + ("; data saved.\n" if kept else ".\n"))
    return 0
