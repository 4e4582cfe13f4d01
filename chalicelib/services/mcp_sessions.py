"""MCP sessions (CommHub `POST /mcp`): what `Mcp-Session-Id` names, kept in DynamoDB so
any instance can answer any request of a session (no instance outlives a request on
Lambda, and no stream is held open).

A session belongs to the credential that opened it: the same id presented with another
credential is unknown (404 on the wire, so the client starts a new session). Sessions
expire after a day without use (TTL; readers check the expiry themselves, since TTL
deletes lazily); a client may end one with DELETE.

Keys (records table): pk NET#<net>#MCP  sk <session id>
"""
from __future__ import annotations

import secrets

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import DoesNotExist

from chalicelib.auth.principal import Principal
from chalicelib.clock import now_ms
from chalicelib.store.records import Record, family_pk

IDLE_S = 86400
TOUCH_EVERY_S = 3600  # refresh the expiry at most this often (one write an hour, not a request)


class McpSession(Record):
    account_id = UnicodeAttribute(null=True)
    protocol_version = UnicodeAttribute(null=True)
    client_name = UnicodeAttribute(null=True)


def _key(network_id: str, session_id: str) -> tuple[str, str]:
    return family_pk(network_id, "mcp"), session_id


def open_session(principal: Principal, protocol_version: str, client_name: str | None) -> str:
    stamp = now_ms()
    session_id = secrets.token_hex(16)  # visible ASCII, as the spec asks; unguessable
    McpSession(*_key(principal.network_id, session_id), kind="mcp_session", id=session_id,
               network_id=principal.network_id, account_id=principal.account_id,
               protocol_version=protocol_version, client_name=(client_name or "")[:200] or None,
               created_at=stamp, updated_at=stamp,
               expires_at=stamp // 1000 + IDLE_S).save(condition=McpSession.pk.does_not_exist())
    return session_id


def find(principal: Principal, session_id: str) -> McpSession | None:
    """The caller's live session with this id, or None (unknown, expired, or another's)."""
    if not session_id or len(session_id) > 128 or not session_id.isascii() or "#" in session_id:
        return None
    try:
        session = McpSession.get(*_key(principal.network_id, session_id), consistent_read=True)
    except DoesNotExist:
        return None
    stamp = now_ms()
    if session.account_id != principal.account_id or session.deleted_at or \
            (session.expires_at or 0) * 1000 < stamp:
        return None
    if (session.expires_at or 0) - stamp // 1000 < IDLE_S - TOUCH_EVERY_S:
        session.update(actions=[McpSession.expires_at.set(stamp // 1000 + IDLE_S),
                                McpSession.updated_at.set(stamp)])
    return session


def close(session: McpSession) -> None:
    session.update(actions=[McpSession.deleted_at.set(now_ms())])
