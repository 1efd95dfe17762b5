"""Spans decoded in a second process (``parallel=True``) give the same document, byte for byte.

Large inputs are converted with a child process that decodes the spans while
the parent maps and writes them (``otel_dask_prov.convert.readahead``). These
tests force it on small inputs and compare with the conversion in one process:
every fixture, both streaming formats, bundled and flattened, values that
cannot travel as MessagePack, and units that only the second pass finds
malformed (the error, or the skipped line, must be the same).
"""

from __future__ import annotations

import io
import json
import os
import signal
import warnings
from pathlib import Path
from typing import Any

import prov
import pytest

from otel_dask_prov import attributes as attr
from otel_dask_prov.convert import convert, to_document
from otel_dask_prov.convert.discovery import discover
from otel_dask_prov.convert.readahead import Helper, ReadaheadError
from otel_dask_prov.errors import TraceFormatError
from tests.support.prov_diff import difference
from tests.support.synthetic_traces import SyntheticTask, generate, map_reduce, write

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
INPUTS = {
    **{f"real/{name}": FIXTURES / name
       for name in ("plain", "erred", "retry", "worker-killed", "fused")},
    "formats/all": FIXTURES / "formats",
    "broken/truncated-last-line": FIXTURES / "broken" / "truncated-last-line.jsonl",
}


def converted(path: Path, parallel: bool, **options: Any) -> str:
    output = io.StringIO()
    convert([path], output, parallel=parallel, skip_invalid=True, **options)
    return output.getvalue()


@pytest.fixture(scope="module")
def failures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Retries, errors, a lost worker and Dask's tuple keys, in small batches (many units)."""
    tasks = [
        SyntheticTask("('load-1f2e', 0)"),
        SyntheticTask("('load-1f2e', 1)", failures=1, retries=2),
        SyntheticTask("join-9a", ("('load-1f2e', 0)", "('load-1f2e', 1)"), lost_worker=True),
        SyntheticTask("fit-3c", ("join-9a",), failures=3, retries=1),
        *map_reduce(60, fan_in=4),
    ]
    directory = tmp_path_factory.mktemp("failures")
    write(directory, tasks, workers=3, seed=7, batch=5)
    return directory


@pytest.mark.parametrize("flatten", [False, True], ids=["bundles", "flat"])
@pytest.mark.parametrize("format_name", ["json", "provn"])
@pytest.mark.parametrize("name", [*INPUTS, "synthetic"])
def test_the_second_process_writes_the_same_bytes(name: str, format_name: str, flatten: bool,
                                                   failures: Path) -> None:
    path = failures if name == "synthetic" else INPUTS[name]
    one = converted(path, False, format=format_name, flatten=flatten)
    assert converted(path, True, format=format_name, flatten=flatten) == one


def test_the_prov_document_is_the_same(failures: Path) -> None:
    assert difference(to_document([failures], parallel=True), to_document([failures])) == []


def _edit_spans(directory: Path, edit: Any) -> None:
    """Apply ``edit(span)`` to every span of every file under *directory*."""
    for path in directory.glob("*.jsonl"):
        lines = []
        for line in path.read_text().splitlines():
            request = json.loads(line)
            for resource_spans in request["resourceSpans"]:
                for scope_spans in resource_spans["scopeSpans"]:
                    for span in scope_spans["spans"]:
                        edit(span)
            lines.append(json.dumps(request) + "\n")
        path.write_text("".join(lines))


def test_values_that_msgpack_cannot_carry_arrive_unchanged(tmp_path: Path) -> None:
    """Integers beyond 64 bits and arrays of arrays travel pickled."""
    write(tmp_path, map_reduce(30, fan_in=4), workers=2, seed=3, batch=4)

    def edit(span: dict[str, Any]) -> None:
        if not span["name"].startswith("task "):
            return
        span["attributes"] += [  # the attempt's values come first in the activity
            {"key": attr.THREAD_ID, "value": {"intValue": str(2**70)}},
            {"key": attr.THREAD_NAME, "value": {"arrayValue": {"values": [
                {"arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}},
                {"stringValue": "c"}]}}},
        ]

    _edit_spans(tmp_path, edit)
    one = converted(tmp_path, False, format="provn")
    assert str(2**70) in one and "('a', 'b'), c" in one
    assert converted(tmp_path, True, format="provn") == one
    assert converted(tmp_path, True, format="json") == converted(tmp_path, False, format="json")


@pytest.fixture
def bad_span_id(tmp_path: Path) -> Path:
    """A trace whose worker file has one execution span with an impossible span id: the first
    pass (which reads trace ids only) accepts it, the second pass finds it."""
    write(tmp_path, map_reduce(40, fan_in=4), workers=2, seed=5, batch=4)
    done = []

    def edit(span: dict[str, Any]) -> None:
        if span["name"].startswith("execute") and not done:
            span["spanId"] = "not-a-span-id"
            done.append(span)

    _edit_spans(tmp_path, edit)
    assert done
    return tmp_path


def test_a_unit_the_second_pass_cannot_decode_stops_both_ways_alike(bad_span_id: Path) -> None:
    errors = []
    for parallel in (False, True):
        with pytest.raises(TraceFormatError) as raised:
            convert([bad_span_id], io.StringIO(), parallel=parallel)
        errors.append(str(raised.value))
    assert errors[0] == errors[1]
    assert "cannot convert: span id 'not-a-span-id' is neither" in errors[0]


def test_a_unit_the_second_pass_cannot_decode_is_skipped_both_ways_alike(
    bad_span_id: Path,
) -> None:
    reports, outputs = [], []
    for parallel in (False, True):
        output = io.StringIO()
        reports.append(convert([bad_span_id], output, parallel=parallel, skip_invalid=True))
        outputs.append(output.getvalue())
    assert reports[0] == reports[1] and reports[0].skipped_lines == 1
    assert outputs[0] == outputs[1]


@pytest.fixture
def flawed_files(tmp_path: Path) -> Path:
    """Several files, so that the first pass shares them between the two processes: a
    malformed line in a worker's file, a truncated last line in another's, and a JSON
    file that is not a trace."""
    write(tmp_path, map_reduce(60, fan_in=4), workers=3, seed=9, batch=4)
    lines = (tmp_path / "dask-worker-1.jsonl").read_text().splitlines(keepends=True)
    lines.insert(2, "{not json\n")
    (tmp_path / "dask-worker-1.jsonl").write_text("".join(lines))
    text = (tmp_path / "dask-worker-2.jsonl").read_text()
    (tmp_path / "dask-worker-2.jsonl").write_text(text[:-40])
    (tmp_path / "settings.json").write_text('{"name": "not a trace"}')
    return tmp_path


def test_the_first_pass_shared_between_processes_stops_as_one_would(flawed_files: Path) -> None:
    errors = []
    for parallel in (False, True):
        with pytest.raises(TraceFormatError) as raised:
            convert([flawed_files], io.StringIO(), parallel=parallel)
        errors.append(str(raised.value))
    assert errors[0] == errors[1]
    assert "dask-worker-1.jsonl:3: malformed JSON" in errors[0]


def test_the_first_pass_shared_between_processes_skips_and_warns_as_one_would(
    flawed_files: Path,
) -> None:
    reports, outputs = [], []
    for parallel in (False, True):
        output = io.StringIO()
        reports.append(convert([flawed_files], output, parallel=parallel, skip_invalid=True))
        outputs.append(output.getvalue())
    assert reports[0] == reports[1]
    assert reports[0].skipped_lines == 1 and len(reports[0].warnings) == 2
    assert outputs[0] == outputs[1]


def test_a_helper_that_dies_is_one_error_not_a_hang(failures: Path) -> None:
    files = discover([failures])
    with Helper() as helper:
        os.kill(helper.pid, signal.SIGKILL)
        with pytest.raises(ReadaheadError, match="helper process ended early"):
            helper.start_scan(files, [1, 2], skip_invalid=False)
            helper.scan_result()


@pytest.fixture(scope="module")
def overlapping(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three computations at the same time: the two short ones end while the long one
    runs, so their bundles are written first and the long one's is kept until it ends."""
    directory = tmp_path_factory.mktemp("overlapping")
    runs = [map_reduce(120, fan_in=4), map_reduce(20, fan_in=3),
            [SyntheticTask("a-1"), SyntheticTask("b-1", ("a-1",), failures=1, retries=1)]]
    for number, tasks in enumerate(runs):
        for name, lines in generate(tasks, workers=2, seed=number, batch=7,
                                    trace_id=number + 1).items():
            (directory / f"run{number}-{name}").write_text("".join(lines))
    return directory


@pytest.mark.parametrize("format_name", ["json", "provn"])
def test_bundles_of_traces_that_overlap_in_time(overlapping: Path, format_name: str) -> None:
    one = converted(overlapping, False, format=format_name)
    assert converted(overlapping, True, format=format_name) == one
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        document = prov.read(io.StringIO(one), format=format_name)
    assert difference(document, to_document([overlapping])) == []
    ends = sorted((max(int(line.split('"endTimeUnixNano":"')[-1].split('"')[0])
                       for path in overlapping.glob(f"run{number}-*")
                       for line in path.read_text().splitlines()), number + 1)
                  for number in range(3))
    opening = '    "run:trace.%032x": {' if format_name == "json" else "  bundle run:trace.%032x"
    bundles = [opening % trace for _, trace in ends]
    assert sorted(bundles, key=one.index) == bundles
