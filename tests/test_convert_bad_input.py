"""Bad input through the real command line: a clear message and an exit code, never a traceback.

Each case runs ``python -m otel_dask_prov.cli convert`` in
``tests/fixtures/traces/broken/`` (see its README for how each file is broken).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.synthetic_traces import map_reduce, write

BROKEN = Path(__file__).parent / "fixtures" / "traces" / "broken"

CASES = [
    # (id, arguments, exit code, what stderr says)
    ("malformed line", ["malformed-line.jsonl"], 2,
     "otel-prov: malformed-line.jsonl:2: malformed JSON: Expecting value at column 1"),
    ("malformed line skipped", ["--skip-invalid", "malformed-line.jsonl"], 0,
     "skipped 1 invalid line(s)"),
    ("malformed line skipped quietly", ["--skip-invalid", "--quiet", "malformed-line.jsonl"], 0,
     "otel-prov: skipped 1 invalid line(s)"),
    ("truncated last line", ["truncated-last-line.jsonl"], 0,
     "otel-prov: warning: truncated-last-line.jsonl:3: last line is truncated"),
    ("truncated gzip", ["truncated.jsonl.gz"], 0,
     "otel-prov: warning: truncated.jsonl.gz:3: last line is truncated"),
    ("not a trace", ["not-a-trace.json"], 2,
     "otel-prov: not-a-trace.json:1: not OpenTelemetry or Jaeger trace data "
     "(a JSON object with keys: dependencies, name, version)"),
    ("other instrumentation", ["other-instrumentation.jsonl"], 2,
     "otel-prov: no otel-dask-prov spans in other-instrumentation.jsonl: 1 span(s) from other "
     "instrumentations (opentelemetry.instrumentation.requests)"),
    ("empty file", ["empty.jsonl"], 2, "otel-prov: no spans in empty.jsonl"),
    ("metrics only", ["metrics-only.jsonl"], 2, "otel-prov: no spans in metrics-only.jsonl"),
    ("bad trace id", ["bad-trace-id.jsonl"], 2,
     "otel-prov: bad-trace-id.jsonl:1: trace id 'not-a-trace-id' is neither 32 hex digits "
     "nor base64 of 16 bytes"),
    ("config file in a directory", ["with-config-file"], 0,
     "otel-prov: warning: with-config-file/config.json: skipped, not OpenTelemetry or Jaeger"),
    ("missing file", ["missing.jsonl"], 2,
     "otel-prov: missing.jsonl: no such file or directory"),
    ("output directory missing", ["not-a-trace.json", "-o", "missing/run.json"], 2,
     "otel-prov: cannot write missing/run.json: No such file or directory"),
    ("unknown format", ["-f", "yaml", "empty.jsonl"], 2,
     "otel-prov: unknown output format 'yaml'; supported formats: json, provn, xml, jsonld, "
     "trig, turtle, dot, svg, png"),
]


def run(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "otel_dask_prov.cli", "convert", *arguments],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("arguments", "exit_code", "message"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input(arguments: list[str], exit_code: int, message: str) -> None:
    done = run(arguments, BROKEN)
    assert done.returncode == exit_code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    if exit_code:
        assert done.stdout == ""
    else:
        assert json.loads(done.stdout)["bundle"]


def test_empty_directory(tmp_path: Path) -> None:
    done = run(["."], tmp_path)
    assert done.returncode == 2
    assert "otel-prov: no trace files in . (looked for *.json, *.jsonl" in done.stderr


def test_a_failed_conversion_leaves_no_output_file(tmp_path: Path) -> None:
    done = run([str(BROKEN / "malformed-line.jsonl"), "-o", str(tmp_path / "run.json")], tmp_path)
    assert done.returncode == 2
    assert list(tmp_path.iterdir()) == []


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    """``otel-prov convert ... | head``: the closed pipe is said in one line."""
    write(tmp_path, map_reduce(400))
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_dask_prov.cli", "convert", str(tmp_path), "-f", "provn"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(100).startswith(b"document")
    process.stdout.close()
    error = process.stderr.read().decode()
    assert process.wait(timeout=120) == 2
    assert error == "otel-prov: cannot write the standard output: the reading end was closed\n"
