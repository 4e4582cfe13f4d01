"""The secrets vault: envelope encryption bound to its place, versions, audited reveal,
expiry through an index. (The at-rest check over a real local stack's data directory is
in tests/e2e/test_outbound_e2e.py.)"""
from __future__ import annotations

import time

import pytest

from chalicelib.clock import now_ms
from chalicelib.errors import Conflict, NotFound, Unavailable, ValidationFailed
from chalicelib.services import audit, events, vault
from chalicelib.store.records import Record
from chalicelib.store.vault import SecretRecord


def test_sealed_values_open_only_where_they_were_sealed(aws):
    sealed = vault.seal("hunter2-correct-horse", network_id="net_a", purpose="ssh/ssh_1")
    assert "hunter2" not in sealed and sealed.startswith("sb1.")
    assert vault.unseal(sealed, network_id="net_a", purpose="ssh/ssh_1") == "hunter2-correct-horse"
    # the same plaintext seals differently every time (fresh data key and nonce)
    assert vault.seal("hunter2-correct-horse", network_id="net_a", purpose="ssh/ssh_1") != sealed
    for network, purpose in (("net_b", "ssh/ssh_1"), ("net_a", "ssh/ssh_2")):
        with pytest.raises(Unavailable):
            vault.unseal(sealed, network_id=network, purpose=purpose)
    version, wrapped, body = sealed.split(".")
    tampered = ".".join((version, wrapped, body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB")))
    with pytest.raises(Unavailable):
        vault.unseal(tampered, network_id="net_a", purpose="ssh/ssh_1")


def test_secrets_are_versioned_masked_revealed_with_an_audit_note_and_found_by_expiry(aws):
    day = 86_400_000
    api_key = vault.create_secret("net_a", actor="user:1", name="OpenAI key", value="sk-first-value",
                                  category="api_key", expires_at=(now_ms() + 3 * day) / 1000)
    vault.create_secret("net_a", actor="user:1", name="later", value="v", expires_at=(now_ms() + 20 * day) / 1000)
    vault.create_secret("net_a", actor="user:1", name="never", value="v")
    vault.create_secret("net_b", actor="user:2", name="elsewhere", value="v",
                        expires_at=(now_ms() + day) / 1000)
    with pytest.raises(Conflict):
        vault.create_secret("net_a", actor="user:1", name="openai KEY", value="x")
    with pytest.raises(ValidationFailed):
        vault.create_secret("net_a", actor="user:1", name="empty", value="")

    stored = Record.get(f"NET#net_a#SECRET", api_key.id, consistent_read=True)
    assert "sk-first-value" not in repr(stored.attribute_values)

    rotated, generated = vault.rotate("net_a", api_key.id, actor="user:1", value="sk-second-value")
    assert generated is None and rotated.current_version == 2 and rotated.rotated_by == "user:1"
    _, third = vault.rotate("net_a", api_key.id, actor="user:1")
    assert len(third) >= 40  # generated, returned once

    note = audit.begin()
    record, number, plaintext = vault.reveal("net_a", api_key.id, actor="user:1")
    assert (number, plaintext) == (3, third)
    assert note.action == "secret.reveal" and note.target_id == api_key.id
    assert note.details == {"version": 3} and third not in repr(note)
    assert vault.reveal("net_a", api_key.id, actor="user:1", version=1)[2] == "sk-first-value"
    assert vault.reveal("net_a", api_key.id, actor="user:1", version=2)[2] == "sk-second-value"
    with pytest.raises(NotFound):
        vault.reveal("net_a", api_key.id, actor="user:1", version=9)
    with pytest.raises(NotFound):
        vault.reveal("net_b", api_key.id, actor="user:2")
    assert [v["version"] for v in vault.versions(record)] == [1, 2, 3]

    # expiring within a week: a Query on the index, this network only, soonest first, paged
    assert [s.name for s in vault.expiring("net_a", days=7).items] == ["OpenAI key"]
    first = vault.expiring("net_a", days=30, limit=1)
    assert [s.name for s in first.items] == ["OpenAI key"] and first.total == 2
    rest = vault.expiring("net_a", days=30, limit=1, cursor=first.next_cursor)
    assert [s.name for s in rest.items] == ["later"] and rest.next_cursor is None
    with pytest.raises(ValidationFailed):  # a cursor of another network's index is refused
        vault.expiring("net_b", days=30, cursor=first.next_cursor)
    vault.update_secret("net_a", api_key.id, actor="user:1", expires_at=None)
    assert [s.name for s in vault.expiring("net_a", days=30).items] == ["later"]
    vault.update_secret("net_a", api_key.id, actor="user:1",
                        expires_at=(now_ms() - 1000) / 1000, description="old")
    with pytest.raises(Conflict):  # an expired secret is not served
        vault.reveal("net_a", api_key.id, actor="user:1")

    listing = vault.list_secrets("net_a", category="api_key")
    assert [s.name for s in listing.items] == ["OpenAI key"] and listing.total == 1
    assert vault.list_secrets("net_a").total == 3
    vault.delete_secret("net_a", api_key.id)
    assert vault.list_secrets("net_a").total == 2
    vault.create_secret("net_a", actor="user:1", name="OpenAI key", value="again")  # name freed

    time.sleep(0.6)
    logged, _ = events.read("net_a", None)
    assert {"secret.created", "secret.rotated", "secret.updated", "secret.deleted"} <= \
        {e.type for e in logged}
    assert not any(v in repr(e.data) for e in logged
                   for v in ("sk-first-value", "sk-second-value", third))


def test_expiring_days_must_be_sane(aws):
    for days in (0, -1, 5000, True):
        with pytest.raises(ValidationFailed):
            vault.expiring("net_a", days=days)
    assert isinstance(SecretRecord.by_time, object)
