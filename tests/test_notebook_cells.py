"""Which notebook cell defined a task's function: the client's scan, the scheduler's lookup.

The whole path (an IPython shell, the client preload, a real cluster) is tested
in tests/test_provenance_defaults.py; these are the two halves' own rules.
"""

from __future__ import annotations

import pickle
from typing import Any

import cloudpickle
from dask._task_spec import Task

from otel_dask_prov import attributes as attr
from otel_dask_prov.capture.probes.code import describe_function, function_digest
from otel_dask_prov.capture.probes.notebook import MAX_ORIGINS, CodeOrigins, cell_functions

CELL = "<ipython-input-2-88e0667c2db8>"


def define_in_cell(source: str, filename: str = CELL) -> dict[str, Any]:
    """Run *source* as IPython runs a cell: compiled under the cell's file name, in ``__main__``."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - test code
    return namespace


def test_the_client_finds_the_functions_a_cell_defined() -> None:
    namespace = define_in_cell("def triple(x):\n    return 3 * x\nvalue = 3\n")
    namespace["imported"] = function_digest  # defined in a module, not a cell
    assert cell_functions(namespace) == {function_digest(namespace["triple"]): CELL}


def test_a_shipped_function_keeps_its_digest_but_loses_its_cell() -> None:
    triple = define_in_cell("def triple(x):\n    return 3 * x\n")["triple"]
    shipped = pickle.loads(cloudpickle.dumps(triple))
    assert function_digest(shipped) == function_digest(triple)
    described = describe_function(shipped)
    assert attr.NOTEBOOK_CELL not in described
    assert attr.CODE_FILE_PATH not in described  # "<dynamic-code>" is not a file


def test_the_scheduler_names_the_cell_of_a_shipped_function() -> None:
    triple = define_in_cell("def triple(x):\n    return 3 * x\n")["triple"]
    shipped = pickle.loads(cloudpickle.dumps(triple))
    origins = CodeOrigins()
    assert not origins  # no client said anything: no per-task work
    origins.event(attr.CODE_ORIGIN_EVENT_TOPIC, {"origins": cell_functions({"triple": triple})})
    assert origins
    assert origins.of_task(Task("triple-1", shipped, 14)) == CELL
    assert origins.of_task(Task("other-1", function_digest, 14)) is None  # shipped by reference
    assert origins.of_task(Task("data-1", len, [1])) is None  # no Python code


def test_a_function_redefined_in_a_later_cell_gets_the_later_cell() -> None:
    first = define_in_cell("def f(x):\n    return x\n")["f"]
    later = define_in_cell("def f(x):\n    return x + 1\n", "<ipython-input-7-0123456789ab>")["f"]
    origins = CodeOrigins()
    origins.event(attr.CODE_ORIGIN_EVENT_TOPIC, {"origins": cell_functions({"f": first})})
    assert origins.of_task(Task("f-1", later, 1)) is None
    origins.event(attr.CODE_ORIGIN_EVENT_TOPIC, {"origins": cell_functions({"f": later})})
    assert origins.of_task(Task("f-1", later, 1)) == "<ipython-input-7-0123456789ab>"
    assert origins.of_task(Task("f-2", first, 1)) == CELL


def test_malformed_or_unrelated_events_are_ignored_and_the_table_is_bounded() -> None:
    origins = CodeOrigins()
    origins.event("some-other-topic", {"origins": {"d": CELL}})
    origins.event(attr.CODE_ORIGIN_EVENT_TOPIC, "not a mapping")
    origins.event(attr.CODE_ORIGIN_EVENT_TOPIC, {"origins": ["not", "a", "mapping"]})
    origins.event(attr.CODE_ORIGIN_EVENT_TOPIC, {"origins": {1: CELL, "d": 2, "x" * 1000: CELL}})
    assert not origins
    many = {f"bytecode-sha256:{index:064x}": CELL for index in range(MAX_ORIGINS + 10)}
    origins.event(attr.CODE_ORIGIN_EVENT_TOPIC, {"origins": many})
    assert len(origins) == MAX_ORIGINS
    assert "bytecode-sha256:" + "0" * 64 not in origins  # the oldest went first
    assert f"bytecode-sha256:{MAX_ORIGINS + 9:064x}" in origins
