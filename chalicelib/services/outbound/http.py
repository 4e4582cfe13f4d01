"""The one HTTP sender for everything that leaves the hub (webhooks, Slack, Telegram,
generic webhook channels, webhook tests).

- every hop goes through the guard: the URL's scheme, then every address of its host;
  the connection is made to a checked address (the Host header and TLS name stay the
  host's), so nothing is resolved twice;
- redirects (at most MAX_REDIRECTS) are followed only to http/https, and re-checked;
  headers the caller added (tokens) are not carried to another host; 303, and 301/302
  after a POST, continue as GET without a body, as browsers do;
- a connect timeout, and one deadline for the whole exchange (a server that drips its
  answer byte by byte is cut off);
- the response body is read up to BODY_CAP bytes and the connection dropped after that.

Breakers are the caller's business (deliveries.py, ssh.py): this module only sends.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import urljoin

from chalicelib.config import VERSION, settings
from chalicelib.services.outbound import guard

MAX_REDIRECTS = 3
BODY_CAP = 64 * 1024
EXCERPT_CHARS = 500
CONNECT_TIMEOUT_S = 5.0
USER_AGENT = f"Switchboard-Webhooks/{VERSION}"
REDIRECTS = {301, 302, 303, 307, 308}


@dataclass
class Request:
    method: str
    url: str
    body: bytes = b""
    headers: dict = field(default_factory=dict)      # the caller's own: dropped across hosts
    signed: dict = field(default_factory=dict)       # signature headers: always sent


@dataclass
class Outcome:
    status_code: int | None = None
    latency_ms: float = 0.0
    body: bytes = b""
    error: str | None = None
    refused: bool = False          # the guard refused the target: trying again will not help

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def host_failed(self) -> bool:
        """Whether this says the target host is unwell (what a circuit breaker counts):
        no answer, a 5xx, 408 or 429. A 4xx is the receiver's verdict on the request."""
        if self.refused:
            return False
        return self.status_code is None or self.status_code >= 500 or \
            self.status_code in (408, 429)

    @property
    def excerpt(self) -> str:
        return self.body[:EXCERPT_CHARS].decode("utf-8", "replace")


def _pool(target: guard.Target, address: str, timeout):
    import urllib3
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(address, target.port, timeout=timeout, retries=False,
                                           maxsize=1, server_hostname=target.host,
                                           assert_hostname=target.host, cert_reqs="CERT_REQUIRED")
    return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False,
                                      maxsize=1)


def _exchange(target: guard.Target, addresses: list[str], method: str, body: bytes,
              headers: dict, deadline: float):
    """Send once to the first checked address that accepts a connection: (status,
    location, body read up to the cap)."""
    import urllib3
    last_error = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT_S, remaining), read=remaining)
        pool = _pool(target, address, timeout)
        try:
            response = pool.urlopen(method, target.path, body=body or None, headers=headers,
                                    redirect=False, retries=False, preload_content=False,
                                    assert_same_host=False)
        except urllib3.exceptions.NewConnectionError as error:
            last_error = error
            pool.close()
            continue
        try:
            chunks, size = [], 0
            while size <= BODY_CAP:
                if time.monotonic() > deadline:
                    raise TimeoutError("the response took too long")
                chunk = response.read(min(8192, BODY_CAP + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            return response.status, response.headers.get("location"), b"".join(chunks)[:BODY_CAP]
        finally:
            response.close()
            pool.close()
    raise last_error or TimeoutError("no time left to connect")


def _describe(error: Exception) -> str:
    import urllib3
    if isinstance(error, (TimeoutError, urllib3.exceptions.TimeoutError)):
        return "timed out"
    if isinstance(error, urllib3.exceptions.NewConnectionError):
        return "connection refused or unreachable"
    if isinstance(error, urllib3.exceptions.SSLError):
        return f"TLS error: {error}"[:300]
    if isinstance(error, urllib3.exceptions.ProtocolError):
        return "the connection was dropped"
    return f"{type(error).__name__}: {error}"[:300]


def send(request: Request, *, timeout_s: float | None = None) -> Outcome:
    """One request, following redirects through the guard; never raises for the network's
    failures (they are the Outcome's `error`)."""
    started = time.monotonic()
    deadline = started + (timeout_s or settings().outbound_timeout_s)
    method, url, body = request.method.upper(), request.url, request.body
    origin = None
    for _ in range(MAX_REDIRECTS + 1):
        try:
            target = guard.target(url)
            addresses = guard.resolve(target.host, target.port)
        except guard.Refused as refused:
            return Outcome(latency_ms=_ms(started), error=refused.message, refused=True)
        origin = origin or (target.scheme, target.host, target.port)
        same_origin = origin == (target.scheme, target.host, target.port)
        headers = {"User-Agent": USER_AGENT, **(request.headers if same_origin else {}),
                   **request.signed, "Host": target.host_header}
        if body:
            headers.setdefault("Content-Type", "application/json")
        try:
            status, location, answer = _exchange(target, addresses, method, body, headers,
                                                 deadline)
        except Exception as error:  # noqa: BLE001 - every network failure is an outcome
            return Outcome(latency_ms=_ms(started), error=_describe(error))
        if status in REDIRECTS and location:
            url = urljoin(url, location)
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", b""
            continue
        return Outcome(status_code=status, latency_ms=_ms(started), body=answer)
    return Outcome(latency_ms=_ms(started), error=f"more than {MAX_REDIRECTS} redirects")


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
