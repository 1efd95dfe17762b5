"""Every input format gives the same provenance.

``tests/fixtures/traces/formats/`` holds one run (a retry, dependencies, three
computations) recorded through the real OpenTelemetry Collector and Jaeger, and
kept in each format the converter reads (``scripts/record-fixtures``). Each one
must convert to the bundles the collector's own file gives. Jaeger keeps
microseconds and the SDK's console JSON rounds through floats, so for those two
the times are compared to the millisecond.
"""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from prov.constants import PROV_N_MAP

from otel_dask_prov.convert import to_document
from tests.support.prov_diff import containers
from tests.support.synthetic_traces import SyntheticTask, generate

FORMATS = Path(__file__).parent / "fixtures" / "traces" / "formats"
FIXTURES = FORMATS.parent
_MICROSECONDS = re.compile(r"(\d\d:\d\d:\d\d\.\d{3})\d{3}")


def canonical(record: Any) -> str:
    """A record as text that does not depend on the order of its attributes."""
    formal = ", ".join(str(value) for _, value in record.formal_attributes)
    extra = sorted(f"{name}={type(value).__name__}:{value}"
                   for name, value in record.extra_attributes)
    return f"{PROV_N_MAP[record.get_type()]}({record.identifier}; {formal}; {extra})"


def bundles(document: object, coarse: bool = False) -> dict[str, set[str]]:
    """Every record in canonical text, per bundle; times to the millisecond if *coarse*."""
    found = {}
    for name, records in containers(document).items():
        if name == "(document)":
            continue
        lines = {canonical(record) for record in records}
        found[name] = {_MICROSECONDS.sub(r"\1", line) for line in lines} if coarse else lines
    return found


@pytest.fixture(scope="module")
def reference() -> object:
    return to_document([FORMATS / "collector.jsonl"])


@pytest.mark.parametrize(("name", "coarse"), [
    ("collector.jsonl.gz", False),
    ("proto3.jsonl", False),
    ("variant.jsonl", False),
    ("jaeger-v3.json", False),
    ("jaeger-api.json", True),
    ("jaeger-ui.json", True),
    ("sdk-console.json", True),
])
def test_format_gives_the_bundles_of_the_collector_file(name: str, coarse: bool,
                                                        reference: object) -> None:
    converted = bundles(to_document([FORMATS / name]), coarse)
    expected = bundles(reference, coarse)
    assert converted.keys() == expected.keys()
    for bundle, records in expected.items():
        assert converted[bundle] == records, bundle


def test_the_collector_file_holds_three_computations_as_three_bundles(reference: object) -> None:
    assert len(list(reference.bundles)) == 3  # type: ignore[attr-defined]


def test_a_directory_joins_the_scheduler_and_worker_files_of_a_run(tmp_path: Path) -> None:
    run = FIXTURES / "retry"
    nested = tmp_path / "cluster" / "node-1"
    nested.mkdir(parents=True)
    for path in run.glob("*.jsonl"):
        target = nested if "worker" in path.name else tmp_path
        with gzip.open(target / (path.name + ".gz"), "wb") as stream:
            stream.write(path.read_bytes())
    (tmp_path / "notes.txt").write_text("not a trace file, and not looked at\n")
    assert bundles(to_document([tmp_path])) == bundles(to_document([run]))


def test_scheduler_spans_alone_still_give_every_attempt(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "retry" / "dask-scheduler.jsonl", tmp_path)
    alone = bundles(to_document([tmp_path]))
    joined = bundles(to_document([FIXTURES / "retry"]))
    assert alone.keys() == joined.keys()
    for bundle, records in alone.items():
        activities = {line.split(";")[0] for line in records if line.startswith("activity(")}
        assert activities == {line.split(";")[0] for line in joined[bundle]
                              if line.startswith("activity(")}


def test_several_runs_in_one_file_give_one_bundle_each(tmp_path: Path) -> None:
    lines = []
    for seed in range(3):
        for file_lines in generate([SyntheticTask("a-1"), SyntheticTask("b-1", ("a-1",))],
                                   seed=seed).values():
            lines.extend(file_lines)
    (tmp_path / "all.jsonl").write_text("".join(sorted(lines)))
    assert len(bundles(to_document([tmp_path / "all.jsonl"]))) == 3


def test_a_line_holding_two_requests_gives_both(tmp_path: Path) -> None:
    """A collector killed between a request and its newline appends the next request
    to that line after its restart: both are converted, as if on lines of their own."""
    lines = []
    for seed in range(3):
        for file_lines in generate([SyntheticTask("a-1"), SyntheticTask("b-1", ("a-1",))],
                                   seed=seed).values():
            lines.extend(file_lines)
    assert len(lines) >= 3
    expected = tmp_path / "expected.jsonl"
    expected.write_text("".join(lines))
    joined = tmp_path / "collector-restarted.jsonl"
    joined.write_text(lines[0] + lines[1].rstrip("\n") + "".join(lines[2:]))
    assert bundles(to_document([joined])) == bundles(to_document([expected]))
