"""Idempotent creates: one rule for tasks, synchronous calls, messages and files, whatever
the dialect.

A client's key (`Idempotency-Key` header, or `idempotency_key` in the body) names one
create *of that principal*: its ledger account (an API key, a user or network token, a
node, the shared secret). The create writes a marker under the principal's key
(`store.base.idempotency_key`) with a hash of the request, in the same transaction as what
it creates, conditioned on the marker being new. So:
- a retry with the same key and the same request gets the first result, and nothing runs,
  is stored or is charged twice;
- the same key with a different request is a Conflict (409), and changes nothing;
- another principal's identical key is another create: one client's key never returns
  or blocks another client's work.
Anonymous callers (open dialects) cannot be told apart: they share one scope per network.
A create that fails before its transaction (validation, no node, not enough credits)
leaves no marker: the key can be used again.
"""
from __future__ import annotations

import hashlib
import json

from pynamodb.exceptions import DoesNotExist

from chalicelib.errors import Conflict
from chalicelib.store.base import idempotency_key


def fingerprint(fields: dict) -> str:
    """A stable hash of what a create was asked to do."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def earlier(model, network_id: str, account_id: str, key: str, request_hash: str):
    """The marker an earlier create with this principal's key left, or None.
    Conflict when that create was asked something else."""
    try:
        marker = model.get(*idempotency_key(network_id, account_id, key), consistent_read=True)
    except DoesNotExist:
        return None
    if marker.request_hash != request_hash:
        raise Conflict("this idempotency key was used for a different request")
    return marker
