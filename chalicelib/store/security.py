"""A network's settings and IP rules, in the records table.

Keys
- setting   pk NET#<net>#SETTINGS  sk <category>.<key>   one item per value changed from its
            default (defaults live in code: services/people/settings.py); all of a
            network's settings are one Query, a category one `begins_with`
- ip rules  pk NET#<net>#IPRULES   sk CURRENT            the whole rule list, replaced at once
            (a request reads one item)
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute

from chalicelib.store.records import Record

IP_RULES_SK = "CURRENT"


class SettingRecord(Record):
    value = JSONAttribute(null=True)        # the typed value (never a secret's)
    sealed = UnicodeAttribute(null=True)    # a secret setting's value, sealed
    updated_by = UnicodeAttribute(null=True)


class IpRulesRecord(Record):
    rules = JSONAttribute(null=True)        # [{id, cidr, action, description, created_by, created_at}]
    updated_by = UnicodeAttribute(null=True)


def settings_pk(network_id: str) -> str:
    return f"NET#{network_id}#SETTINGS"


def ip_rules_pk(network_id: str) -> str:
    return f"NET#{network_id}#IPRULES"
