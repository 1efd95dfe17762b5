"""The examples in the package's docstrings run, and show what the code returns.

Every module of ``otel_dask_prov`` whose docstrings hold a runnable ``>>>``
example goes through :mod:`doctest` (with ``ELLIPSIS``); examples marked
``# doctest: +SKIP`` (a cluster to start, trace files to read) stay skipped. The
span ids, ``traceparent`` strings and PROV ids the examples show are those of
``tests/fixtures/traces/retry``, a real run, so they are ids the code produces.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType
from typing import Any

import pytest

import otel_dask_prov

MODULE_NAMES = ["otel_dask_prov", *sorted(
    info.name for info in pkgutil.walk_packages(otel_dask_prov.__path__, "otel_dask_prov."))]


def runnable_examples(module: ModuleType) -> list[doctest.DocTest]:
    """The docstring tests of *module* (its own objects only) with an example that is not skipped."""
    return [test for test in doctest.DocTestFinder().find(module)
            if any(not example.options.get(doctest.SKIP) for example in test.examples)]


def modules_with_examples() -> list[Any]:
    """The names of the modules with runnable examples; a module that needs an optional
    dependency missing here is a skipped parameter."""
    found: list[Any] = []
    for name in MODULE_NAMES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if (error.name or "").startswith("otel_dask_prov"):
                raise
            found.append(pytest.param(name, marks=pytest.mark.skip(reason=f"needs {error.name}")))
            continue
        if runnable_examples(module):
            found.append(name)
    return found


DOCTEST_MODULES = modules_with_examples()


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_the_docstring_examples_run(name: str) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    failed = attempted = 0
    for test in runnable_examples(importlib.import_module(name)):
        result = runner.run(test, out=report.append)
        failed, attempted = failed + result.failed, attempted + result.attempted
    assert attempted > 0
    assert failed == 0, "".join(report)


def test_the_id_examples_are_among_them() -> None:
    """The span ids, ``traceparent`` strings and PROV ids shown in docstrings are checked here."""
    assert {"otel_dask_prov.capture.span_ids", "otel_dask_prov.convert.identifiers"} <= set(DOCTEST_MODULES)
