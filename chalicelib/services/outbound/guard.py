"""The SSRF guard: decides where the hub may connect, before any socket is opened.

A target is refused when its scheme is not http/https (for URLs), or when ANY address its
host resolves to is private, loopback, link-local (169.254.169.254, the cloud metadata
service, included), unspecified, multicast, reserved, shared (100.64/10), or an IPv6 form
of one of those (IPv4-mapped, 6to4, Teredo) — unless the address is inside a CIDR listed
in SWITCHBOARD_OUTBOUND_ALLOW. The local stack allows loopback by default (so tests and
laptops can run receivers on 127.0.0.1); deployed stages allow nothing by default.

Callers connect to the addresses `resolve` returned, never to the name again, so a DNS
answer that changes between the check and the connection (rebinding) cannot send the hub
somewhere it did not check. Redirects go through `target` and `resolve` again.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.config import settings
from chalicelib.errors import BadRequest

SCHEMES = {"http": 80, "https": 443}


class Refused(BadRequest):
    """The hub will not connect there."""
    code = "outbound_refused"


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str          # lower-case name or address, without brackets
    port: int
    path: str          # path and query, as sent in the request line

    @property
    def breaker_name(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == SCHEMES[self.scheme] else f"{host}:{self.port}"


def target(url: str) -> Target:
    """A URL the hub may try to reach (syntax and scheme only; `resolve` checks addresses)."""
    if not isinstance(url, str) or len(url) > 2048:
        raise Refused("a target URL is a string of at most 2048 characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise Refused("not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise Refused(f"only http and https targets are allowed, not {scheme[:20] or 'no scheme'!r}")
    if not parts.hostname:
        raise Refused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise Refused("credentials in the URL are not allowed; use headers")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, parts.hostname.lower().rstrip("."), port or SCHEMES[scheme], path)


def _embedded(address) -> list:
    """The IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo)."""
    if address.version != 6:
        return []
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo:
        found += list(address.teredo)
    return found


def refusal(address) -> str | None:
    """Why the hub may not connect to `address`, or None when it may."""
    if any(address in network for network in settings().outbound_allow):
        return None
    for candidate in [address, *_embedded(address)]:
        if not candidate.is_global or candidate.is_multicast or candidate.is_reserved \
                or candidate.is_unspecified:
            kind = next((k for k in ("loopback", "link_local", "private", "multicast",
                                     "unspecified", "reserved") if getattr(candidate, f"is_{k}")),
                        "non_public")
            return f"{address} is a {kind.replace('_', '-')} address"
    return None


def resolve(host: str, port: int) -> list[str]:
    """The addresses of `host` the hub may connect to: every one is checked, and if any is
    refused the host is (a name that mixes public and private answers is not trusted)."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        answers = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise Refused(f"cannot resolve {host!r}: {error}") from None
        answers = []
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
            if address not in answers:
                answers.append(address)
    if not answers:
        raise Refused(f"{host!r} has no addresses")
    for address in answers:
        reason = refusal(address)
        if reason:
            where = host if literal is not None else f"{host} ({address})"
            raise Refused(f"refusing to connect to {where}: {reason}")
    return [str(a) for a in answers]


def check_host(host: str) -> None:
    """What can be known of a host when it is configured, without asking DNS: an address
    written literally must be one the hub may reach. Names are resolved (and checked) at
    every connection; resolving them here too would prove nothing about later answers."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        try:  # the legacy IPv4 spellings resolvers accept too: 0x7f000001, 127.1, 2130706433
            literal = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return
    reason = refusal(literal)
    if reason:
        raise Refused(f"refusing to connect to {host}: {reason}")


def check_url(url: str) -> Target:
    """`target` and `check_host`: for validating a URL when it is configured."""
    checked = target(url)
    check_host(checked.host)
    return checked
