"""Why the request models are msgspec Structs and not pydantic v2 models: what each costs
at import (cold start) and per request.

    .venv/bin/python -m bench.validation [runs]

Import: a fresh interpreter imports chalice, boto3 and pynamodb (what the app needs
anyway), then the library and as many models as the app declares, each shaped like the
platform's task body (ten constrained fields); the cost is the difference from the
libraries alone. Per request: validating a typical task body into that model.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
import timeit
import types

BASELINE = "import chalice, boto3, pynamodb.models"
FIELDS = """
    title: Annotated[str, {meta}(min_length=1, max_length=500)]
    description: Optional[Annotated[str, {meta}(max_length=65536)]] = None
    instructions: Optional[Annotated[str, {meta}(max_length=65536)]] = None
    priority: Optional[Union[Annotated[str, {meta}(max_length=20)], Annotated[int, {meta}(ge=0, le=9)]]] = None
    required_tools: Optional[List[Annotated[str, {meta}(max_length=100)]]] = None
    agent_id: Optional[Annotated[str, {meta}(min_length=1, max_length=128, pattern=r"^[^#/]+$")]] = None
    worker_id: Optional[Annotated[str, {meta}(min_length=1, max_length=128, pattern=r"^[^#/]+$")]] = None
    max_attempts: Optional[Annotated[int, {meta}(ge=1, le=100)]] = None
    metadata: Optional[Dict[str, Any]] = None
    idempotency_key: Optional[Annotated[str, {meta}(min_length=1, max_length=200)]] = None
"""
HEADER = "from typing import Annotated, Any, Dict, List, Optional, Union\n"
LIBRARIES = {
    "msgspec": HEADER + "import msgspec\nfrom msgspec import Meta\n"
               "class Base(msgspec.Struct):\n    pass\n",
    "pydantic": HEADER + "from pydantic import BaseModel, Field\n"
                "class Base(BaseModel):\n    pass\n",
}
META = {"msgspec": "Meta", "pydantic": "Field"}
BODY = {"title": "Summarise the report", "description": "The quarterly one, in French.",
        "priority": "high", "required_tools": ["pdf", "translate"], "agent_id": "writer-1",
        "max_attempts": "3", "metadata": {"source": "bench", "pages": 12}}


def source(library: str, models: int) -> str:
    body = FIELDS.format(meta=META[library])
    return LIBRARIES[library] + "".join(f"class Model{i}(Base):{body}" for i in range(models))


def fresh(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def declared_models() -> int:
    import app  # noqa: F401
    from chalicelib.api.routing import ROUTES
    return len({m for r in ROUTES for m in (r.body, r.query) if m is not None})


def validator(library: str, name: str):
    """A model of `library` in a module of its own, and a function validating BODY into it."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(source(library, 1), module.__dict__)  # noqa: S102 (our own generated source)
    model = module.Model0
    if library == "msgspec":
        import msgspec
        return lambda: msgspec.convert(BODY, model, strict=False)
    return lambda: model.model_validate(BODY)


def first_and_next_us(library: str) -> tuple[float, float]:
    """A model's first validation (msgspec resolves its types then) and the next ones."""
    run = validator(library, f"bench_{library}_first")
    started = time.perf_counter()
    run()
    first = (time.perf_counter() - started) * 1e6
    number = 20_000
    return first, min(timeit.repeat(run, number=number, repeat=5)) / number * 1e6


def main(runs: int) -> None:
    models = declared_models()
    codes = {name: f"{BASELINE}\nexec({source(name, models)!r})" for name in LIBRARIES}
    fresh(BASELINE), [fresh(c) for c in codes.values()]  # warm the file cache
    times: dict[str, list[float]] = {"baseline": [], **{name: [] for name in codes}}
    for _ in range(runs):
        times["baseline"].append(fresh(BASELINE))
        for name, code in codes.items():
            times[name].append(fresh(code))
    base = statistics.median(times["baseline"])
    print(f"{models} input models, {runs} fresh interpreters each; libraries alone "
          f"(chalice+boto3+pynamodb): median {base * 1000:.0f} ms")
    for name in codes:
        extra = statistics.median(times[name]) - base
        first, then = first_and_next_us(name)
        print(f"  {name:8s} import + models: +{extra * 1000:.0f} ms "
              f"(+{extra / base:.2f} of the baseline); validating a task body: first "
              f"{first:.0f} us, then {then:.1f} us")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 11)
