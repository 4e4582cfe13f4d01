"""The identity table: networks, users, memberships and credentials.

Keys
- network        pk NET#<net>              sk NETWORK
- member         pk NET#<net>              sk MEMBER#<user>
- membership     pk USER#<user>            sk NET#<net>       (a user's networks)
- user           pk USER#<user>            sk PROFILE
- token record   pk USER#<user>|NET#<net>  sk TOKEN#<token_id> (listing, revocation)
- invite         pk INVITE#<code>          sk INVITE          (global: codes are presented bare)
- login lookup   pk LOGIN#<username|email> sk LOGIN           (global: logins are unique)
- credential     pk CRED#<keyed hash>      sk CRED            (global: a bearer presents only
                                                                the secret; the item names its network)
- session        pk NET#<net>              sk SESSION#<token_id> (a network's live sessions, for
                                                                admins: points at the token record)
- lockout        pk LOCKOUT#<USER|LOGIN|IP>#<id>  sk LOCKOUT  (global: failed logins counted per
                                                                account and per source address)
"""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, JSONAttribute, ListAttribute,
                                 NumberAttribute, UnicodeAttribute, UnicodeSetAttribute)

from chalicelib.store.base import TableModel, meta


class IdentityRecord(TableModel):
    Meta = meta("identity")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(null=True)
    network_id = UnicodeAttribute(null=True)
    user_id = UnicodeAttribute(null=True)
    token_id = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    owner_id = UnicodeAttribute(null=True)
    visibility = UnicodeAttribute(null=True)
    max_members = NumberAttribute(null=True)
    username = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    display_name = UnicodeAttribute(null=True)
    password_hash = UnicodeAttribute(null=True)
    role = UnicodeAttribute(null=True)
    roles = UnicodeSetAttribute(null=True)
    secret_hash = UnicodeAttribute(null=True)
    prefix = UnicodeAttribute(null=True)
    max_uses = NumberAttribute(null=True)
    uses = NumberAttribute(null=True)
    profile = JSONAttribute(null=True)
    created_at = NumberAttribute(null=True)
    updated_at = NumberAttribute(null=True)
    expires_at = NumberAttribute(null=True)
    last_used_at = NumberAttribute(null=True)
    # users: MFA (secrets sealed, recovery codes hashed) and password history (argon2 hashes)
    mfa_enabled = BooleanAttribute(null=True)
    mfa_secret = UnicodeAttribute(null=True)
    mfa_pending = UnicodeAttribute(null=True)
    mfa_last_step = NumberAttribute(null=True)      # the last TOTP time step accepted
    recovery_hashes = UnicodeSetAttribute(null=True)
    password_history = ListAttribute(of=UnicodeAttribute, null=True)
    password_changed_at = NumberAttribute(null=True)
    # credentials: where a session started, what a key may do, how long a session may idle
    source_ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    scopes = UnicodeSetAttribute(null=True)
    idle_s = NumberAttribute(null=True)
    # lockout counters
    failures = NumberAttribute(null=True)
    window_start = NumberAttribute(null=True)
    locked_until = NumberAttribute(null=True)
    # epoch seconds: the table's TTL attribute. Set on what is useless once past its time
    # (expiring credentials and their listings, lockout counters), so that expired
    # sessions do not pile up under a user and unknown logins' counters do not accumulate.
    purge_at = NumberAttribute(null=True)
