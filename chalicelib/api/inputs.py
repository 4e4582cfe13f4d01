"""Typed request input at the edge.

Every route declares its body and query as `Input` models (msgspec Structs); the router
turns the raw request into them before the handler runs, so a handler only ever sees
values of the declared types. The rules, the same in every dialect:

- types are checked. Numbers and booleans may arrive as strings (a query string carries
  nothing else, and FastAPI clients send `"5"` for 5, as pydantic's lax mode accepts);
  booleans also accept 0 and 1. Strings are never made from numbers or booleans;
- every string has a length limit and must be well-formed Unicode (a lone surrogate is
  refused, never stored);
- numbers are finite and fit DynamoDB (38 digits); counts and limits have ranges;
  timestamps are ISO 8601 or epoch seconds/milliseconds within the years 1970-9999;
- enums are checked; free-form objects (`metadata`, `result`, `params`) are bounded in
  size and depth;
- unknown fields are ignored.

Where a field comes from: a body model reads the JSON body over the query string (a field
some clients send in the query and others in the body is accepted in both; a `null` in the
body falls back to the query), as the adapters' `req.arg` did. A query model reads the
query string only. An empty query parameter (`?limit=`) counts as absent.

The models are also the request schemas of the API description: `json_schema(model)`.
msgspec was chosen over pydantic v2 by measurement (README, "Input validation").
"""
from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct, field

from chalicelib.clock import parse_time
from chalicelib.errors import FieldError, ValidationFailed

__all__ = ["Input", "field", "Id", "Name", "Word", "Title", "Line", "Text", "Content", "Secret",
           "Email", "Cursor", "Limit", "Offset", "Page", "Percent", "Object", "Words", "Priority",
           "Timestamp", "IdempotencyKey", "decode", "check_path", "check_value", "json_schema"]


class Input(Struct):
    """A route's body or query: unknown fields are ignored. Declare required fields first."""


# --------------------------------------------------------------------------- field types

ID_PATTERN = r"^[^#/\\\x00-\x1f\x7f]+$"
ID_MAX = 128
# Node ids, task ids, aliases, message and event ids: they become parts of DynamoDB keys.
Id = Annotated[str, Meta(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN,
                         description="1-128 characters, without '#', slashes or control "
                                     "characters")]
Name = Annotated[str, Meta(min_length=1, max_length=200)]        # names, usernames
Word = Annotated[str, Meta(max_length=64)]                       # statuses, types, filters
Title = Annotated[str, Meta(min_length=1, max_length=500)]
Line = Annotated[str, Meta(max_length=500)]                      # subjects, reasons, names
Text = Annotated[str, Meta(max_length=65_536)]                   # descriptions, instructions
Content = Annotated[str, Meta(max_length=262_144)]               # message bodies
Secret = Annotated[str, Meta(min_length=1, max_length=1024)]     # passwords, tokens, codes
Email = Annotated[str, Meta(min_length=1, max_length=255)]     # emails and logins
Cursor = Annotated[str, Meta(max_length=2048)]
IdempotencyKey = Annotated[str, Meta(min_length=1, max_length=200)]
Limit = Annotated[int, Meta(ge=1, le=500)]
Offset = Annotated[int, Meta(ge=0, le=10_000)]
Percent = Annotated[float, Meta(ge=0, le=100)]
OBJECT_MAX_BYTES = 65_536
OBJECT_MAX_DEPTH = 16
# A free-form JSON object (`metadata`, `result`, `params`): at most 64 KiB and 16 levels.
Object = Annotated[dict[str, Any], Meta(max_length=1000)]
# Capabilities and tags: a list, or one comma-separated string (SkyCetus clients send both).
Words = (Annotated[list[Annotated[str, Meta(max_length=100)]], Meta(max_length=100)]
         | Annotated[str, Meta(max_length=2000)])
# critical/high/medium/low, p0-p9 or 0-9 (services/tasks.py normalizes).
Priority = Annotated[str, Meta(max_length=20)] | Annotated[int, Meta(ge=0, le=9)]


class Page(Input):
    """The platform's paging: `limit`, `offset` (read past), and the cheaper `cursor`."""
    limit: Limit = 50
    offset: Offset = 0
    cursor: Cursor | None = None


class Timestamp(datetime):
    """ISO 8601 (with or without zone; none is UTC) or epoch seconds or milliseconds,
    within the years 1970-9999. Handlers receive an aware datetime."""


def _dec_hook(kind, value):
    if kind is Timestamp:
        if isinstance(value, str) and len(value) > 64:
            raise ValueError("Input should be a valid timestamp")
        ms = parse_time(value)  # ValueError names the problem; msgspec adds the path
        return Timestamp.fromtimestamp(ms / 1000, tz=timezone.utc)
    raise NotImplementedError(kind)


def _schema_hook(kind):
    if kind is Timestamp:
        return {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
                "description": "ISO 8601, or epoch seconds or milliseconds (1970-9999)"}
    raise NotImplementedError(kind)


# --------------------------------------------------------------------------- decoding


def decode(model: type[Input], *, query: dict, body: dict | None = None) -> Input:
    """The request's input as `model`, or ValidationFailed listing what is wrong.

    With `body`, the body's fields win over the query's (a `null` falls back to the query);
    without, only the query is read."""
    merged = {k: v for k, v in query.items() if v != ""}  # `?limit=` means no limit given
    if body:
        merged.update((k, v) for k, v in body.items() if v is not None)
    # Undeclared fields are ignored, so not checked.
    declared = {k: merged[k] for k in model.__struct_encode_fields__ if k in merged}
    value, problem = _convert(merged, model, declared, depth=-1)
    if problem:
        head = problem.loc[0] if problem.loc else None
        source = "body" if head in (body or {}) else "query" if head in query else \
            "body" if body is not None else "query"
        raise _failure([FieldError((source, *problem.loc), problem.message, problem.type)])
    return value


def check_value(kind, value, loc: tuple):
    """One value (a header, a path parameter) as `kind`, or ValidationFailed at `loc`."""
    checked, problem = _convert(value, kind, value, depth=0)
    if problem:
        raise _failure([FieldError(loc + problem.loc, problem.message, problem.type)])
    return checked


def _convert(value, kind, raw, depth: int) -> tuple[Any, FieldError | None]:
    """(`value` as `kind`, None) or (None, the first problem). `raw` (the declared fields
    at `depth` -1, or one value) is checked for soundness first: msgspec cannot even read
    a string with a lone surrogate as a number."""
    problem = _unsound(raw, (), depth)
    if problem:
        return None, problem
    try:
        converted = msgspec.convert(value, kind, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as error:
        return None, _field_error(str(error), kind)
    return converted, _unsound(converted, ())


def check_path(params: dict) -> None:
    """Path parameters are ids: they end up in keys, so the same rule holds."""
    for name, value in params.items():
        check_value(Id, value, ("path", name))


def _failure(errors: list[FieldError]) -> ValidationFailed:
    """The dialects that answer one message get one naming the field; FastAPI's get them all."""
    first = errors[0]
    message = f"'{first.field}' is required" if first.type == "missing" \
        else f"'{first.field}': {first.message}"
    return ValidationFailed(first.field, message, errors=errors)


# --------------------------------------------------------------------------- soundness


def _unsound(value, path: tuple, depth: int = 0) -> FieldError | None:
    """The first value that could not be stored or sent back faithfully: a string that is
    not well-formed Unicode, a number that is not finite or beyond DynamoDB's 38 digits,
    a free-form object too deep or too large."""
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return FieldError(path, "Input should be a valid string, not one with a "
                                        "lone surrogate", "string_unicode")
        return None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or (value and not 1e-130 < abs(value) < 1e125):
            return FieldError(path, "Input should be a finite number", "finite_number")
        return None
    if isinstance(value, int):
        if abs(value) >= 10 ** 38:
            return FieldError(path, "Input should have at most 38 digits", "int_too_large")
        return None
    if isinstance(value, Struct):
        for name in value.__struct_fields__:
            problem = _unsound(getattr(value, name), path + (_wire_name(value, name),), depth)
            if problem:
                return problem
        return None
    if isinstance(value, (dict, list)):
        if depth == 0 and _json_bytes(value) > OBJECT_MAX_BYTES:
            return FieldError(path, f"Input should be at most {OBJECT_MAX_BYTES} bytes of JSON",
                              "too_long")
        if depth >= OBJECT_MAX_DEPTH:
            return FieldError(path, f"Input should be nested at most {OBJECT_MAX_DEPTH} levels",
                              "too_deep")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            problem = (_unsound(key, path + (key,), depth + 1) if isinstance(key, str) else None) \
                or _unsound(item, path + (key,), depth + 1)
            if problem:
                return problem
    return None


def _json_bytes(value) -> int:
    return len(json.dumps(value, default=str, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def _wire_name(struct: Struct, name: str) -> str:
    encoded = struct.__struct_encode_fields__
    return encoded[struct.__struct_fields__.index(name)]


# --------------------------------------------------------------------------- errors

# msgspec reports one error as text: "<what> - at `$.a.b[0]`". These read it back into a
# location and FastAPI's error vocabulary, which FastAPI clients know.
_TYPE_NAMES = {"str": ("string_type", "a valid string"), "int": ("int_type", "a valid integer"),
               "float": ("float_type", "a valid number"), "bool": ("bool_type", "a valid boolean"),
               "object": ("dict_type", "a valid dictionary"), "array": ("list_type", "a valid list"),
               "Timestamp": ("datetime_type", "a valid timestamp")}
_PARSING = {"int": "int_parsing", "float": "float_parsing", "bool": "bool_parsing"}
# (Patterns as text: `re` compiles and caches them on the first refusal, not at import.)
_EXPECTED = r"^Expected `([^`]+)`, got `([^`]+)`$"
_LENGTH = r"^Expected `(\w+)` of length (<=|>=) (\d+)$"
_RANGE = r"^Expected `(\w+)` (<=|>=|<|>) (\S+)$"
_PATTERN = r"(?s)^Expected `str` matching regex '(.*)'$"
_MISSING = r"^Object missing required field `([^`]+)`$"
_ENUM = r"(?s)^Invalid enum value (.*)$"
_PATH_PART = r"\.([^.\[]+)|\[(\d+|\.\.\.)\]"
_PATTERN_WORDS = {ID_PATTERN: "1-128 characters, without '#', slashes or control characters"}
_RANGE_WORDS = {"<=": ("less_than_equal", "less than or equal to"),
                ">=": ("greater_than_equal", "greater than or equal to"),
                "<": ("less_than", "less than"), ">": ("greater_than", "greater than")}


def _field_error(text: str, model) -> FieldError:
    what, _, where = text.partition(" - at `")
    path = tuple(name if name is not None else (int(index) if index.isdigit() else "*")
                 for name, index in ((m.group(1), m.group(2))
                                     for m in re.finditer(_PATH_PART, where.rstrip("`"))))
    message, kind = _describe(what, model, path)
    if kind == "missing":
        path += (re.match(_MISSING, what).group(1),)
    return FieldError(path, message, kind)


def _describe(what: str, model, path: tuple) -> tuple[str, str]:
    if re.match(_MISSING, what):
        return "Field required", "missing"
    match = re.match(_EXPECTED, what)
    if match:
        expected = [t for t in match.group(1).split(" | ") if t != "null"]
        got = match.group(2)
        if len(expected) > 1:
            return f"Input should be one of: {', '.join(expected)}", "union_type"
        kind, words = _TYPE_NAMES.get(expected[0], ("type_error", f"of type {expected[0]}"))
        if got == "str" and expected[0] in _PARSING:
            return f"Input should be {words}, unable to parse the string", _PARSING[expected[0]]
        return f"Input should be {words}", kind
    match = re.match(_LENGTH, what)
    if match:
        kind, op, n = match.groups()
        noun = "String" if kind == "str" else "Value"
        unit = "characters" if kind == "str" else "items"
        if op == "<=":
            return f"{noun} should have at most {n} {unit}", ("string_too_long" if kind == "str"
                                                              else "too_long")
        return f"{noun} should have at least {n} {unit}", ("string_too_short" if kind == "str"
                                                           else "too_short")
    match = re.match(_RANGE, what)
    if match:
        _, op, bound = match.groups()
        kind, words = _RANGE_WORDS[op]
        return f"Input should be {words} {bound}", kind
    match = re.match(_PATTERN, what)
    if match:
        pattern = match.group(1)
        return (f"Input should be {_PATTERN_WORDS.get(pattern, f'a string matching {pattern}')}",
                "string_pattern_mismatch")
    match = re.match(_ENUM, what)
    if match:
        allowed = _literal_values(model, path)
        choices = f": one of {', '.join(map(repr, allowed))}" if allowed else ""
        return f"Input should be an allowed value{choices} (got {_clip(match.group(1))})", "enum"
    return _clip(what), "value_error"


def _clip(echo: str, limit: int = 80) -> str:
    """What a refusal quotes of the input: never the whole of a megabyte."""
    return echo if len(echo) <= limit else f"{echo[:limit]}... ({len(echo)} characters)"


def _literal_values(model, path: tuple) -> tuple:
    """The allowed values of an enum field at the top level of `model`."""
    if not (isinstance(model, type) and issubclass(model, Struct)) or len(path) != 1:
        return ()
    from msgspec import inspect
    for item in inspect.type_info(model).fields:
        if item.encode_name == path[0]:
            kinds = item.type.types if isinstance(item.type, inspect.UnionType) else (item.type,)
            for kind in kinds:
                if isinstance(kind, inspect.LiteralType):
                    return tuple(kind.values)
    return ()


# --------------------------------------------------------------------------- schemas


def json_schema(model: type[Input]) -> dict:
    """The JSON Schema of a body or query model (definitions under `$defs`)."""
    return msgspec.json.schema(model, schema_hook=_schema_hook)


def schema_components(models, ref_template: str = "#/components/schemas/{name}"):
    """(schemas referencing the components, the components): for an OpenAPI document."""
    return msgspec.json.schema_components(list(models), schema_hook=_schema_hook,
                                          ref_template=ref_template)
