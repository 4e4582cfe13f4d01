"""Table definitions for infrastructure, read from the PynamoDB models.

The models in chalicelib/store/ are the one source of truth for tables: the local stack
creates its tables from them, and the CDK stack builds `aws_dynamodb.Table`s from the
specs returned here. Nothing about keys, indexes or TTL is written twice.

Uses PynamoDB's `Model._get_schema()` (the same schema `Model.create_table` sends to
DynamoDB), so what is deployed is what the tests and the local stack run against.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping


@dataclass(frozen=True)
class Key:
    name: str
    type: str  # DynamoDB scalar type: S | N | B


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: Key
    sort_key: Key | None
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    name: str          # the model's table name without the stage prefix ("files")
    table_name: str    # as the model was imported ("switchboard-dev-files")
    partition_key: Key
    sort_key: Key | None
    global_indexes: tuple[IndexSpec, ...] = field(default=())
    local_indexes: tuple[IndexSpec, ...] = field(default=())
    ttl_attribute: str | None = None
    stream: str | None = None    # the stream's view type (NEW_IMAGE, ...) when a consumer follows it

    def physical_name(self, prefix: str) -> str:
        return prefix + self.name


def _keys(key_schema: list[dict], types: Mapping[str, str]) -> tuple[Key, Key | None]:
    by_role = {k["KeyType"]: k["AttributeName"] for k in key_schema}
    hash_name, range_name = by_role["HASH"], by_role.get("RANGE")
    return (Key(hash_name, types[hash_name]),
            Key(range_name, types[range_name]) if range_name else None)


def _index(raw: dict, types: Mapping[str, str]) -> IndexSpec:
    pk, sk = _keys(raw["key_schema"], types)
    projection = raw["projection"]
    return IndexSpec(name=raw["index_name"], partition_key=pk, sort_key=sk,
                     projection=projection["ProjectionType"],
                     non_key_attributes=tuple(projection.get("NonKeyAttributes", ())))


def table_spec(model, ttl_attribute: str | None = None, prefix: str | None = None) -> TableSpec:
    """One model's table. `prefix` is the stage prefix its Meta.table_name was built with
    (default: the prefix in force, from chalicelib.config)."""
    if prefix is None:
        from chalicelib.config import settings
        prefix = settings().table_prefix
    table_name = model.Meta.table_name
    if not table_name.startswith(prefix):
        raise ValueError(f"{model.__name__}: table {table_name!r} does not start with "
                         f"the prefix {prefix!r}")
    schema = model._get_schema()
    types = {}
    for definition in schema["attribute_definitions"]:
        types[definition["AttributeName"]] = definition["AttributeType"]
    for raw in schema["global_secondary_indexes"] + schema["local_secondary_indexes"]:
        for definition in raw.get("attribute_definitions", ()):
            known = types.setdefault(definition["AttributeName"], definition["AttributeType"])
            if known != definition["AttributeType"]:
                raise ValueError(f"{model.__name__}: attribute {definition['AttributeName']!r} "
                                 f"is {known} in one place and {definition['AttributeType']} "
                                 "in another")
    pk, sk = _keys(schema["key_schema"], types)
    if ttl_attribute is not None:
        attribute = model.get_attributes().get(ttl_attribute)
        if attribute is None or attribute.attr_type != "N":
            raise ValueError(f"{model.__name__}: TTL attribute {ttl_attribute!r} must be a "
                             "number attribute of the model")
        ttl_attribute = attribute.attr_name
    return TableSpec(
        name=table_name[len(prefix):], table_name=table_name, partition_key=pk, sort_key=sk,
        global_indexes=tuple(sorted((_index(raw, types)
                                     for raw in schema["global_secondary_indexes"]),
                                    key=lambda i: i.name)),
        local_indexes=tuple(sorted((_index(raw, types)
                                    for raw in schema["local_secondary_indexes"]),
                                   key=lambda i: i.name)),
        ttl_attribute=ttl_attribute, stream=getattr(model.Meta, "stream_view_type", None))


def table_specs(models: Iterable | None = None, ttl_attributes: Mapping | None = None,
                prefix: str | None = None) -> list[TableSpec]:
    """Specs for every model (default: chalicelib.store.tables.MODELS and TTL_ATTRIBUTES)."""
    if models is None or ttl_attributes is None:
        from chalicelib.store import tables
        models = tables.MODELS if models is None else models
        ttl_attributes = tables.TTL_ATTRIBUTES if ttl_attributes is None else ttl_attributes
    specs = [table_spec(m, ttl_attributes.get(m), prefix) for m in models]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"two models share a table name: {names}")
    return specs
