"""Real HTTP receivers on 127.0.0.1 for the outbound tests: each answers from a script of
responses and records what it received, and when."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Received:
    def __init__(self, method, path, headers, body, at):
        self.method, self.path, self.headers, self.body, self.at = method, path, headers, body, at

    @property
    def json(self):
        return json.loads(self.body)


class Receiver:
    """`Receiver([500, 500, 200])` answers 500, 500, then 200 for ever after (the last entry
    repeats). An entry may be a status, or (status, body, headers)."""

    def __init__(self, script=(200,)):
        self.script = list(script)
        self.received: list[Received] = []
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._arrived:
                    entry = receiver.script[min(len(receiver.received), len(receiver.script) - 1)]
                    receiver.received.append(Received(self.command, self.path,
                                                      dict(self.headers.items()), body,
                                                      time.monotonic()))
                    receiver._arrived.notify_all()
                status, answer, headers = entry if isinstance(entry, tuple) else (entry, b"ok", {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_POST = do_GET = do_PUT = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout_s)
            return list(self.received)
