"""The domain's rules, one module per concept (see ARCHITECTURE.md).

Cold start: every Lambda function imports app.py, which declares every route, so every
adapter module is imported at start. Services load on first use instead: a name taken from
this package (`from chalicelib.services import tasks`) is a stand-in that imports the module
the first time one of its attributes is read. A function then pays only for the services
its requests use. Importing a module directly (`import chalicelib.services.tasks`,
`from chalicelib.services.tasks import X`) loads it at once, as usual.
"""
from __future__ import annotations

import importlib
import importlib.util


class _OnFirstUse:
    """A module, imported when first used; reads, writes (tests' monkeypatching) and
    deletes, and its `__dict__`, are the module's own."""

    __slots__ = ("_name",)

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)

    def _module(self):
        return importlib.import_module(object.__getattribute__(self, "_name"))

    @property
    def __dict__(self):
        return self._module().__dict__

    def __getattr__(self, attribute):
        return getattr(self._module(), attribute)

    def __setattr__(self, attribute, value):
        setattr(self._module(), attribute, value)

    def __delattr__(self, attribute):
        delattr(self._module(), attribute)

    def __repr__(self) -> str:
        return f"<service {object.__getattribute__(self, '_name')}, loaded on first use>"


def on_first_use(package: str):
    """A package's module `__getattr__` handing out its modules as stand-ins."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str):
        if name.startswith("_") or importlib.util.find_spec(f"{package}.{name}") is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        stand_in = namespace[name] = _OnFirstUse(f"{package}.{name}")
        return stand_in
    return __getattr__


__getattr__ = on_first_use(__name__)
