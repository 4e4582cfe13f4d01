"""Find the secret a request presents, wherever its dialect puts it.

Accepted, first found wins: `X-Matrix-Secret` (SkyCetus), `Authorization: Bearer|Token <secret>`
(platform, CommHub, GemmaNet), `X-API-Key`, `?token=` (CommHub SSE), `?api_key=`, and
`api_key` in a JSON body (GemmaNet). Nothing else in the code base reads credentials.
"""
from __future__ import annotations

from typing import Callable, Mapping

HEADER_NAMES = ("x-matrix-secret", "x-api-key")
QUERY_NAMES = ("token", "api_key", "access_token")


def presented_secret(headers: Mapping[str, str], query: Mapping[str, str],
                     json_body: Callable[[], dict | None] = lambda: None) -> str | None:
    authorization = (headers.get("authorization") or "").strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() in ("bearer", "token") and value.strip():
            return value.strip()
        if not value and scheme:
            return scheme  # a bare token with no scheme
    for name in HEADER_NAMES:
        if headers.get(name):
            return headers[name].strip()
    for name in QUERY_NAMES:
        if query.get(name):
            return query[name].strip()
    body = json_body()
    if isinstance(body, dict) and isinstance(body.get("api_key"), str) and body["api_key"].strip():
        return body["api_key"].strip()
    return None
