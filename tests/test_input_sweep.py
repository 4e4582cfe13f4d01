"""No input crashes the hub: every declared route, driven with hostile input through the
in-process app, never answers 5xx, never answers with invalid JSON, and never stores a value
of the wrong type.

Two drivers share one hub (tests/hostile.py has the values):
- the sweep: every route, one hostile value at a time in each declared field, in the query,
  in the path, and whole bodies that are not objects or not JSON (about 5,000 requests);
- a hypothesis property test per route: bodies generated from the route's own JSON Schema
  (hypothesis-jsonschema) and then broken, query strings and path parameters generated.

`HYPOTHESIS_PROFILE=fuzz` (make fuzz) runs many more generated examples per route.
"""
from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis_jsonschema import from_schema

import app  # declaring the app declares every route in ROUTES
from chalicelib.api.inputs import json_schema
from chalicelib.api.routing import ROUTES
from tests import hostile
from tests.conftest import ADMIN_TOKEN, bootstrap_hub, fresh_aws

# Examples per route: a few in `make test`, many under `make fuzz` (HYPOTHESIS_PROFILE=fuzz).
# Applied to this module's tests only, so other property tests keep their own settings.
EXAMPLES = {"ci": 6, "fuzz": 150}[os.environ.get("HYPOTHESIS_PROFILE", "ci")]
SWEEP_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck))
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def client():
    """One hub for the whole module, with waits that cannot hold a request open: streams
    answer at once, calls and blocking receives give up in a fraction of a second."""
    from chalice.test import Client

    from chalicelib import config
    from chalicelib.api.skycetus import messages
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SWITCHBOARD_STREAM_WAIT", "0")
        patch.setenv("SWITCHBOARD_REQUEST_TIMEOUT", "0.1")
        patch.setattr(messages, "MAX_BLOCK_S", 0.05)
        config.reload()
        with fresh_aws():
            bootstrap_hub()
            with Client(app.app) as test_client:
                yield test_client
    config.reload()


@pytest.fixture
def written(monkeypatch):
    """What every write sends to DynamoDB, checked as it passes the store's own guard
    (cheaper than scanning every table after every write, and it sees every item)."""
    from chalicelib.store import base
    problems, guard = [], base.check_write

    def watched(model, item):
        guard(model, item)
        problems.extend(hostile.item_problems(model, item))
    monkeypatch.setattr(base, "check_write", watched)
    return problems


def check_answer(client, case: hostile.Case):
    response = hostile.send(client, case, HEADERS)
    assert response.status_code < 500, (case.method, case.url[:200], case.what, response.body[:300])
    assert response.status_code < 400 or len(response.body) <= hostile.REFUSAL_MAX_BYTES, \
        (case.what, "a refusal echoes the input", response.body[:300])
    if response.body and response.headers.get("Content-Type", "").startswith("application/json"):
        hostile.strict_json(response.body)
    return response


def test_the_sweep_gets_no_5xx_and_stores_no_wrong_type(client, written):
    routes = hostile.route_table()
    failures = []
    sent, errors, stored = hostile.run_sweep(client, routes, HEADERS, report=failures.append,
                                             stored_problems=lambda: written)
    assert errors == 0 and not stored, "\n".join(failures[:30])
    assert len(routes) == len(ROUTES) and sent > 4000


# --------------------------------------------------------------------------- generated

hostile_json = st.one_of(
    st.sampled_from(hostile.BODY_VALUES),
    st.text(st.characters(categories=["Cs", "Nd"]), min_size=1, max_size=8),
    st.recursive(st.none() | st.booleans() | st.integers() |
                 st.floats(allow_nan=True, allow_infinity=True) |
                 st.text(st.characters(categories=["Cs", "L", "N", "P", "Cc", "So"]), max_size=20),
                 lambda inner: st.lists(inner, max_size=3) |
                 st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6))
query_text = st.one_of(st.sampled_from(hostile.QUERY_VALUES),
                       st.text(max_size=40).map(lambda t: hostile.quote(t, safe="")),
                       st.integers().map(str), st.floats().map(str))
path_text = st.one_of(st.sampled_from(hostile.PATH_VALUES),
                      st.text(st.characters(blacklist_characters="/?#%",
                                            blacklist_categories=["Cs"]), min_size=1,
                              max_size=300))


def _as_query(value) -> str:
    return hostile.query_string(value)


def declared(model) -> list[str]:
    return list(model.__struct_encode_fields__)


@st.composite
def generated_case(draw, spec):
    path = re.sub(r"\{[^}]+\}", lambda _: draw(path_text), spec.path)
    query, body = {}, None
    if spec.query is not None:
        valid = draw(from_schema(json_schema(spec.query)))
        query = {k: _as_query(v) for k, v in valid.items() if v is not None}
        for name in draw(st.lists(st.sampled_from(declared(spec.query)), max_size=2)):
            query[name] = draw(query_text)
    if spec.body is not None:
        how = draw(st.sampled_from(["valid", "broken", "raw", "moved to the query"]))
        valid = draw(from_schema(json_schema(spec.body)))
        if how == "raw":
            return hostile.Case(spec.method, path, query, draw(st.sampled_from(hostile.RAW_BODIES)),
                                how)
        if how == "broken":
            fields = draw(st.permutations(declared(spec.body)))
            for name in fields[:draw(st.integers(1, 2))]:
                valid[name] = draw(hostile_json)
        if how == "moved to the query":
            name = draw(st.sampled_from(declared(spec.body)))
            moved = [_as_query(valid.pop(name))] if name in valid else []
            query[name] = draw(st.one_of(st.sampled_from(moved), query_text) if moved
                               else query_text)
        if draw(st.booleans()):
            valid[hostile.LONG_KEY] = draw(hostile_json)
        body = hostile.json_bytes(valid)
        return hostile.Case(spec.method, path, query, body, how)
    return hostile.Case(spec.method, path, query, body, "generated")


@pytest.mark.parametrize("spec", ROUTES, ids=lambda s: f"{s.method} {s.path}")
def test_generated_hostile_input_never_crashes_the_route(client, written, spec):
    @SWEEP_SETTINGS
    @given(case=generated_case(spec))
    def check(case):
        check_answer(client, case)
        assert written == [], case.what

    check()
