"""Real runs of the plugins, converted, compared with the PROV-N checked in beside them.

The traces in ``tests/fixtures/traces/<scenario>/`` were recorded by
``scripts/record-fixtures`` from real ``dask scheduler`` / ``dask worker``
processes, and ``expected.provn`` was written by the converter and reviewed.
A change of the mapping shows here as a diff; if it is intended, rerun
``scripts/record-fixtures --expected`` and review the new files.
"""

from __future__ import annotations

import difflib
import io
from pathlib import Path

import pytest

from otel_dask_prov.convert import convert

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
SCENARIOS = ("plain", "erred", "retry", "worker-killed", "fused")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_conversion_matches_the_reviewed_prov_n(scenario: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    directory = FIXTURES / scenario
    monkeypatch.chdir(directory)  # input file locations are written as given: "dask-*.jsonl"
    output = io.StringIO()
    convert(["."], output, format="provn")
    expected = (directory / "expected.provn").read_text()
    diff = list(difflib.unified_diff(expected.splitlines(), output.getvalue().splitlines(),
                                     "expected.provn", "converted", lineterm="", n=0))
    assert not diff, "\n".join(diff[:40])
