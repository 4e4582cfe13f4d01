"""Failed logins, counted per account and per source address; too many within a window
lock further attempts out for a while (429 with Retry-After).

- The account is the user when the login names one, else the login name itself (hashed):
  an unknown login is counted and locked exactly like a real one, so a lockout never
  tells an attacker which accounts exist. A locked login is refused before its password
  is checked.
- The address counts every failed login from it, whichever account: a password spray
  across many accounts locks the address out too. Its limits are the deployment's.
- A success clears the account's count (not the address's).

Counters are items in the identity table (`LOCKOUT#...`), changed by conditional writes:
two racing failures both count.
"""
from __future__ import annotations

import hashlib
import math

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.clock import now_ms
from chalicelib.errors import RateLimited
from chalicelib.store.identity import IdentityRecord as R

SK = "LOCKOUT"


class Locked(RateLimited):
    code = "locked"


def _get(key: str) -> R | None:
    try:
        return R.get(key, SK, consistent_read=True)
    except DoesNotExist:
        return None


def _wait_s(key: str | None, now: int) -> int:
    item = _get(key) if key else None
    if item is None or not item.locked_until or item.locked_until <= now:
        return 0
    return math.ceil((item.locked_until - now) / 1000)


def _count(key: str, max_attempts: int, window_min: int, lock_min: int) -> None:
    for _ in range(5):  # a lost race re-reads and counts again
        now = now_ms()
        item = _get(key)
        if item is not None and (item.locked_until or 0) > now:
            return  # already locked: the lock is not extended by more attempts
        fresh = item is None or now - (item.window_start or 0) > window_min * 60_000
        failures = 1 if fresh else int(item.failures or 0) + 1
        locked = failures >= max_attempts
        condition = R.pk.does_not_exist() if item is None else \
            (R.window_start == item.window_start) & (R.failures == item.failures)
        window_start = now if fresh or locked else item.window_start
        locked_until = now + lock_min * 60_000 if locked else None
        ends = max(window_start + window_min * 60_000, locked_until or 0)
        record = R(key, SK, kind="lockout", failures=0 if locked else failures,
                   window_start=window_start, locked_until=locked_until,
                   purge_at=ends // 1000 + 60)  # forgotten by the table's TTL once over
        try:
            record.save(condition=condition)
            return
        except PutError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise


class Guard:
    """One login attempt's counters: the account's and the source address's."""

    def __init__(self, *, user, login: str | None, source_ip: str | None, config, ip_config):
        if user is not None:
            self.account = f"LOCKOUT#USER#{user.user_id}"
        else:
            digest = hashlib.sha256((login or "").strip().casefold().encode()).hexdigest()[:32]
            self.account = f"LOCKOUT#LOGIN#{digest}"
        self.address = f"LOCKOUT#IP#{source_ip}" if source_ip else None
        self.config, self.ip_config = config, ip_config

    def check(self) -> None:
        """Locked (429, Retry-After) while the account or the address is locked out."""
        now = now_ms()
        wait = max(_wait_s(self.account, now), _wait_s(self.address, now))
        if wait:
            raise Locked(f"too many failed logins; try again in {wait} seconds",
                         retry_after=wait)

    def failed(self) -> None:
        c, i = self.config, self.ip_config
        _count(self.account, c.max_login_attempts, c.lockout_window_minutes, c.lockout_minutes)
        if self.address:
            _count(self.address, i.ip_max_login_attempts, i.lockout_window_minutes,
                   i.lockout_minutes)

    def succeeded(self) -> None:
        R(self.account, SK).delete()
