"""Identity and tenancy, as one import: the names callers use, from services/people/.

New code may import the people modules directly; this keeps every existing caller (and
branch) working.
"""
from chalicelib.services.people.accounts import (  # noqa: F401
    EMAIL_RE, USERNAME_RE, add_to_network, change_password, enroll, find_login, get_user,
    register_user, sign_up, update_profile)
from chalicelib.services.people.credentials import (  # noqa: F401
    _cache, ensure_credential, issue_credential, list_tokens, principal_for_user,
    resolve_secret, revoke_record, revoke_token, scope_to_network)
from chalicelib.services.people.networks import (  # noqa: F401
    MEMBER_ROLES, add_member, create_invite, create_network, default_network_for,
    delete_network, get_network, join, list_members, list_user_networks, membership,
    update_network)
from chalicelib.services.people.sessions import (  # noqa: F401
    end_session, refresh_session, start_session)


def bootstrap(**values) -> dict:
    """services/people/bootstrap.py (loaded when a stack starts, not by every cold start)."""
    from chalicelib.services.people.bootstrap import bootstrap as first_start
    return first_start(**values)
