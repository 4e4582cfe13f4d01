"""People: who may do what. One module per concept.

- networks     tenants, memberships, invites
- accounts     users: registration (every way in), profiles, password changes
- passwords    the password policy
- credentials  secrets issued, hashed, resolved to a principal, revoked
- sessions     logins' sessions: lifetime, idle timeout, listing, revocation
- login        password login, lockout and the MFA step
- lockout      failed logins counted per account and per address
- mfa          TOTP and recovery codes
- api_keys     keys for programs, scoped
- ip_rules     allowed and refused addresses
- settings     typed settings per category
- security     the security configuration (the `security` settings) and whom it governs
- bootstrap    the first start
services/identity.py re-exports the names callers used before this package existed.
"""

from chalicelib.services import on_first_use

__getattr__ = on_first_use(__name__)  # modules load on first use (see chalicelib/services)
