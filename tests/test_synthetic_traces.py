"""The synthetic traces the converter's tests and benchmark use look like the plugins' own.

:mod:`tests.support.synthetic_traces` builds its spans with the plugins' records
and the exporter's encoder; what it simulates is Dask (which fields the plugins
fill, when). So its scheduler spans are compared here with those of real runs
recorded by the plugins (``tests/fixtures/traces``), attempt by attempt: the
same attributes, the same events with the same attributes, the same status and
links. The worker's execution spans are left out: the real ones also carry
the worker probes' attributes (code, I/O), which the synthetic traces leave out.
"""

from __future__ import annotations

import doctest
from pathlib import Path
from types import ModuleType

import pytest

from otel_dask_prov import attributes as attr
from tests.support import prov_diff, synthetic_traces
from tests.support.synthetic_traces import SyntheticTask, write
from tests.support.traces import Span, read_spans

FIXTURES = Path(__file__).parent / "fixtures" / "traces"

Shape = tuple[list[str], list[tuple[str, list[str]]], int, int]
"""An attempt span's attribute names, its events (name, attribute names), status code, links."""

SAME_RUNS = {
    # tests/support/workloads.py: fail_once raises on its first attempt (retries=1), inc uses it
    "retry": [SyntheticTask("fail_once-1", failures=1, retries=1),
              SyntheticTask("inc-1", ("fail_once-1",))],
    # div raises ZeroDivisionError, inc depends on it and never runs
    "erred": [SyntheticTask("div-1", failures=1), SyntheticTask("inc-1", ("div-1",))],
    # inc runs on the worker about to die; slow runs there when it is killed, then elsewhere
    "worker-killed": [SyntheticTask("inc-1"), SyntheticTask("slow-1", lost_worker=True)],
}


def attempt_shapes(spans: list[Span]) -> dict[tuple[str, int, str], Shape]:
    """The shape of each task attempt span by (prefix, attempt number, outcome)."""
    return {
        (span.attributes[attr.TASK_PREFIX], span.attributes[attr.TASK_ATTEMPT],
         span.attributes[attr.TASK_OUTCOME]): (
            sorted(span.attributes),
            [(event["name"], sorted(event["attributes"])) for event in span.events],
            span.status_code,
            len(span.links),
        )
        for span in spans if span.kind == attr.RECORD_TASK_ATTEMPT
    }


@pytest.mark.parametrize("fixture", sorted(SAME_RUNS))
def test_attempt_spans_have_the_shape_of_the_plugins_spans(fixture: str, tmp_path: Path) -> None:
    write(tmp_path, SAME_RUNS[fixture], workers=1)
    synthetic = attempt_shapes(read_spans([tmp_path]))
    recorded = attempt_shapes(read_spans([FIXTURES / fixture / "dask-scheduler.jsonl"]))
    assert synthetic == recorded


def test_a_seed_gives_the_same_files(tmp_path: Path) -> None:
    tasks = [SyntheticTask("a-1"), SyntheticTask("b-1", ("a-1",), failures=2, retries=1),
             SyntheticTask("c-1", ("a-1",), lost_worker=True)]
    first = [path.read_bytes() for path in write(tmp_path / "first", tasks, seed=3)]
    second = [path.read_bytes() for path in write(tmp_path / "second", tasks, seed=3)]
    assert first == second


@pytest.mark.parametrize("module", [synthetic_traces, prov_diff], ids=lambda m: m.__name__)
def test_the_docstring_examples_run(module: ModuleType) -> None:
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert attempted > 0 and failed == 0
