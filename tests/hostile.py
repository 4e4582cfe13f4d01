"""Hostile input for every declared route, as a new user with valid credentials would send
it: wrong JSON types, lone surrogates, 1 MB strings, huge numbers, NaN, 2,000-character
keys and ids, broken and non-object bodies.

Used by tests/test_input_sweep.py (the property test and the deterministic sweep) and by
`python -m tests.hostile`, which runs the sweep once and prints how many answers were 5xx.
The route table it works from is plain JSON (`route_table()`), so the same sweep can be
replayed against another revision of the app: dump the table here, copy this file and
tests/conftest.py into the other checkout, and run `python -m tests.hostile table.json`
there (that is how the "before" count in the README was taken).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from urllib.parse import quote

SURROGATE = "lone \ud800 surrogate"
MEGABYTE = "x" * 1_000_000
HUGE = 1180591620717411303424
LONG_KEY = "k" * 2000

# Values put in one body field at a time.
BODY_VALUES = [12345, True, None, [1, "a"], {"a": 1}, SURROGATE, MEGABYTE, HUGE, -HUGE,
               float("nan"), float("inf"), -1, "", "y" * 2000, {LONG_KEY: 1}, 1.5, "NaN"]
# Values put in one query parameter at a time (already percent-encoded where they must be:
# a lone surrogate reaches a server as the bytes of its UTF-8-style encoding).
QUERY_VALUES = ["x" * 2000, "%ED%A0%80", "-1", "NaN", "1e400", str(HUGE), "true", "a%23b%2Fc",
                "%00"]
# Whole bodies that are not an object at all, or not JSON.
RAW_BODIES = [b"[1, 2]", b'"text"', b"null", b"{not json", b"[" * 100_000,
              json.dumps({LONG_KEY: "v"}).encode(), b"\xff\xfe"]
PATH_VALUES = ["i" * 2000, "a%23b", "%ED%A0%80", "..", "%00", "\u00e9t\u00e9"]
REFUSAL_MAX_BYTES = 4096  # a refusal names what is wrong; it never echoes the input back


def plausible(kind: dict):
    """A value a well-behaved client would send for a field of this (JSON-able) kind."""
    return kind["example"]


def describe_type(info) -> dict:
    """A field's msgspec type as a JSON-able description with one plausible example."""
    from msgspec import inspect
    while isinstance(info, inspect.Metadata):
        info = info.type
    if isinstance(info, inspect.UnionType):
        options = [t for t in info.types if not isinstance(t, inspect.NoneType)]
        return describe_type(options[0])
    if isinstance(info, inspect.StrType):
        if info.pattern:
            return {"type": "string", "example": "node-1"}
        return {"type": "string", "example": "t1" if (info.min_length or 0) <= 2 else "t" * info.min_length}
    if isinstance(info, inspect.IntType):
        low = info.ge if info.ge is not None else 0
        return {"type": "integer", "example": max(low, 1) if info.le is None or info.le >= 1 else low}
    if isinstance(info, inspect.FloatType):
        return {"type": "number", "example": info.ge if info.ge is not None else 0.5}
    if isinstance(info, inspect.BoolType):
        return {"type": "boolean", "example": True}
    if isinstance(info, inspect.DictType):
        return {"type": "object", "example": {}}
    if isinstance(info, inspect.ListType):
        return {"type": "array", "example": ["node-1"]}
    if isinstance(info, inspect.LiteralType):
        return {"type": "enum", "example": info.values[0]}
    return {"type": "timestamp", "example": "2026-06-01T00:00:00Z"}


def model_fields(model) -> list[dict]:
    if model is None:
        return []
    from msgspec import inspect
    return [{"name": f.encode_name, "required": f.required, **describe_type(f.type)}
            for f in inspect.type_info(model).fields]


def route_table(routes=None) -> list[dict]:
    """Every declared route with its input fields, as JSON."""
    if routes is None:
        from chalicelib.api.routing import ROUTES as routes
    return [{"path": r.path, "method": r.method, "dialect": r.dialect, "auth": r.auth,
             "body": model_fields(r.body), "query": model_fields(r.query)} for r in routes]


@dataclass
class Case:
    method: str
    path: str
    query: dict          # name -> value, percent-encoded already
    body: bytes | None
    what: str

    @property
    def url(self) -> str:
        if not self.query:
            return self.path
        return self.path + "?" + "&".join(f"{quote(k, safe='')}={v}" for k, v in self.query.items())


def json_bytes(value) -> bytes:
    return json.dumps(value).encode()  # NaN and Infinity go out as the literals clients send


def concrete(path: str, value: str = "some-id") -> str:
    import re
    return re.sub(r"\{[^}]+\}", value, path)


def query_string(value) -> str:
    return quote(json.dumps(value) if isinstance(value, (dict, list, bool)) else str(value),
                 safe="")


def catalogue(route: dict):
    """The deterministic sweep of one route: one hostile value at a time."""
    path, method = concrete(route["path"]), route["method"]
    base_body = {f["name"]: plausible(f) for f in route["body"]}
    base_query = {f["name"]: query_string(plausible(f)) for f in route["query"]}
    fields = route["body"] or route["query"]
    in_body = bool(route["body"])
    yield Case(method, path, base_query, json_bytes(base_body) if in_body else None, "plausible")
    for field in fields:
        if in_body:
            for value in BODY_VALUES:
                yield Case(method, path, base_query, json_bytes({**base_body, field["name"]: value}),
                           f"body {field['name']}={short(value)}")
        for value in QUERY_VALUES:
            yield Case(method, path, {**base_query, field["name"]: value},
                       json_bytes(base_body) if in_body else None,
                       f"query {field['name']}={short(value)}")
    for raw in RAW_BODIES:
        yield Case(method, path, base_query, raw, f"raw body {short(raw)}")
    yield Case(method, path, {**base_query, LONG_KEY: "v"}, None, "2,000-character query key")
    if "{" in route["path"]:
        for value in PATH_VALUES:
            yield Case(method, concrete(route["path"], value), base_query,
                       json_bytes(base_body) if in_body else None, f"path {short(value)}")


def short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text)} chars)"


def strict_json(text: str):
    """Parse an answer as strict JSON: NaN or Infinity in a response is a bug."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def send(client, case: Case, headers: dict):
    merged = dict(headers)
    if case.body is not None:
        merged["Content-Type"] = "application/json"
    return getattr(client.http, case.method.lower())(case.url, headers=merged, body=case.body)


# --------------------------------------------------------------------------- stored types

# Fields inside JSON attributes whose type the API documents.
DOCUMENTED = {"metadata": {"hostname": str, "ip_address": str, "cpu_cores": int,
                           "memory_total_mb": int, "os_info": str,
                           "cpu_usage_percent": (int, float)},
              "payload": {"instructions": str}}


def item_problems(model, item: dict) -> list[str]:
    """What in one item (DynamoDB wire form) is not of the type its model declares, or is a
    documented field of a JSON attribute with the wrong type."""
    from pynamodb.attributes import (BooleanAttribute, JSONAttribute, ListAttribute,
                                     NumberAttribute, UnicodeAttribute, UnicodeSetAttribute)
    wire = {UnicodeAttribute: "S", NumberAttribute: "N", BooleanAttribute: "BOOL",
            ListAttribute: "L", JSONAttribute: "S", UnicodeSetAttribute: "SS"}
    attributes, problems = model.get_attributes(), []
    for name, value in item.items():
        attribute = attributes.get(name)
        if attribute is None:
            continue  # dynamic counters
        (kind, inner), = value.items()
        expected = next((w for cls, w in wire.items() if isinstance(attribute, cls)), None)
        if expected and kind not in (expected, "NULL"):
            problems.append(f"{model.__name__}.{name} stored as {kind}, declared {expected}")
        elif kind in ("S", "N") and not isinstance(inner, str):
            problems.append(f"{model.__name__}.{name} holds {type(inner).__name__}")
        elif kind == "N" and not math.isfinite(float(inner)):
            problems.append(f"{model.__name__}.{name} is not finite")
        elif isinstance(attribute, JSONAttribute) and kind == "S" and name in DOCUMENTED:
            decoded = json.loads(inner)
            for key, types in DOCUMENTED[name].items():
                found = decoded.get(key) if isinstance(decoded, dict) else None
                if found is not None and (isinstance(found, bool) or not isinstance(found, types)):
                    problems.append(f"{model.__name__}.{name}.{key} = {short(found)}")
    return problems


def stored_type_problems() -> list[str]:
    """item_problems of every item in every table (read from moto's tables)."""
    import boto3

    from chalicelib.store.tables import MODELS
    client = boto3.client("dynamodb")
    return [problem for model in MODELS for item in _scan(client, model.Meta.table_name)
            for problem in item_problems(model, item)]


def _scan(client, table: str):
    kwargs = {"TableName": table}
    while True:
        page = client.scan(**kwargs)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --------------------------------------------------------------------------- the sweep run

def run_sweep(client, routes: list[dict], headers: dict, report=print,
              stored_problems=stored_type_problems) -> tuple[int, int, set]:
    """Send every case of every route; (requests, failures: 5xx answers and refusals that
    echo the input, stored-type problems).

    `stored_problems()` is asked after every accepted write, since a later write may
    overwrite a wrong value an earlier one stored."""
    sent, failures, stored = 0, 0, set()
    for route in routes:
        for case in catalogue(route):
            response = send(client, case, headers)
            sent += 1
            if response.status_code >= 500:
                failures += 1
                report(f"{response.status_code} {case.method} {route['path']} {case.what}")
            elif response.status_code >= 400 and len(response.body) > REFUSAL_MAX_BYTES:
                failures += 1
                report(f"{case.method} {route['path']} {case.what}: a refusal of "
                       f"{len(response.body)} bytes echoes the input")
            elif response.status_code < 300 and case.method != "GET":
                for problem in set(stored_problems()) - stored:
                    stored.add(problem)
                    report(f"stored after {case.method} {route['path']} {case.what}: {problem}")
    return sent, failures, stored


def main(argv: list[str]) -> None:
    """`python -m tests.hostile [route-table.json]`: the sweep against this tree's app, in
    moto, with the bootstrap admin token; prints the 5xx answers and the count."""
    import tests.conftest as fixtures
    from chalice.test import Client

    from app import app
    routes = json.loads(open(argv[0]).read()) if argv else route_table()
    with fixtures.fresh_aws():
        fixtures.bootstrap_hub()
        with Client(app) as client:
            sent, failures, stored = run_sweep(
                client, routes, {"Authorization": f"Bearer {fixtures.ADMIN_TOKEN}"})
    print(f"{sent} requests over {len(routes)} routes: {failures} answers were 5xx; "
          f"{len(stored)} stored values of the wrong type")


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
