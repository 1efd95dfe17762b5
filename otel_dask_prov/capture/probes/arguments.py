"""Data provenance: the literal arguments of a task call (opt-in: ``record_arguments``).

The arguments are rendered, before the task runs, as a JSON list in
``dask.task.arguments``; each item is one argument:

* ``{"position": 0, "type": "int", "value": "1"}`` for a literal value, its
  ``repr`` cut to ``argument_max_bytes`` characters (``reprlib`` limits also
  keep the cost of rendering a large container bounded);
* ``{"name": "path", "type": "str", "value": "'/data/x.nc'"}`` for a keyword;
* ``{"position": 1, "key": "inc-1"}`` for a dependency: the value is the output
  of the task with that key, already recorded as such;
* ``{"position": 2, "type": "List", "value": "...", "keys": ["a", "b"]}`` for an
  inline Dask expression (a container of dependencies, a nested task).

Keyword arguments whose name contains a ``redact`` fragment are recorded as
``"<redacted>"``, and secret values of the environment are masked anywhere
(:mod:`.redaction`). At most :data:`MAX_ARGUMENTS` arguments are listed.

>>> from dask.task_spec import Task, TaskRef
>>> from .redaction import Redactor
>>> task = Task("add-1", max, 1, TaskRef("x"), password="hunter22")
>>> print(render_arguments(task, 64, Redactor(["password"], {})))  # doctest: +NORMALIZE_WHITESPACE
[{"position": 0, "type": "int", "value": "1"}, {"position": 1, "key": "x"},
 {"name": "password", "value": "<redacted>"}]
"""

from __future__ import annotations

import json
import reprlib
from typing import Any

from .code import resolve_call
from .redaction import REDACTED, Redactor

try:
    from dask._task_spec import DataNode, GraphNode, TaskRef
except ImportError:  # pragma: no cover - older dask: plain tuples
    DataNode = GraphNode = TaskRef = ()

MAX_ARGUMENTS = 50
"""Arguments listed per task; the rest are counted in a final ``{"omitted": n}``."""


def _repr(value: Any, max_chars: int) -> str:
    limits = reprlib.Repr()
    limits.maxstring = limits.maxother = limits.maxlong = max_chars
    limits.maxlist = limits.maxtuple = limits.maxdict = limits.maxset = 20
    try:
        text = limits.repr(value)
    except Exception as error:  # noqa: BLE001 - user objects with broken __repr__
        text = f"<unrepresentable {type(value).__qualname__}: {type(error).__name__}>"
    return text if len(text) <= max_chars else text[: max_chars - 3] + "..."


def _describe(value: Any, max_chars: int, redactor: Redactor) -> dict[str, Any]:
    if TaskRef and isinstance(value, TaskRef):
        return {"key": str(value.key)}
    if DataNode and isinstance(value, DataNode):
        value = value.value
    elif GraphNode and isinstance(value, GraphNode):
        target = getattr(value, "target", None)
        if target is not None and value.dependencies == frozenset((target,)):
            return {"key": str(target)}  # an Alias
        return {"type": type(value).__name__,
                "value": redactor.mask(_repr(value, max_chars)),
                "keys": sorted(str(key) for key in value.dependencies)}
    return {"type": type(value).__qualname__,
            "value": redactor.mask(_repr(value, max_chars))}


def render_arguments(task: Any, max_chars: int, redactor: Redactor) -> str:
    """JSON text describing the arguments of the call *task* makes."""
    _, args, kwargs = resolve_call(task)
    items: list[dict[str, Any]] = []
    for position, value in enumerate(args):
        items.append({"position": position, **_describe(value, max_chars, redactor)})
    for name, value in kwargs.items():
        if redactor.is_secret_name(str(name)):
            items.append({"name": str(name), "value": REDACTED})
        else:
            items.append({"name": str(name), **_describe(value, max_chars, redactor)})
    if len(items) > MAX_ARGUMENTS:
        items = [*items[:MAX_ARGUMENTS], {"omitted": len(items) - MAX_ARGUMENTS}]
    return json.dumps(items)
