"""``otel-prov validate`` as a user runs it: a real subprocess, its output and exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "prov"


def otel_prov(*args: str | Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "otel_dask_prov.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def test_valid_documents_exit_0_with_nothing_on_stdout() -> None:
    documents = [FIXTURES / "valid" / name for name in ("dask-run.json", "dask-run.provn", "dask-run.provx")]
    result = otel_prov("validate", *documents)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.splitlines() == [f"otel-prov: {path}: valid" for path in documents]


def test_violations_exit_1_with_one_line_each_on_stdout() -> None:
    invalid = FIXTURES / "invalid" / "schema-violations.json"
    result = otel_prov("validate", FIXTURES / "valid" / "dask-run.json", invalid)
    assert result.returncode == 1
    violations = result.stdout.splitlines()
    assert len(violations) == 3
    assert all(line.startswith(f"{invalid}: ") for line in violations)
    assert result.stderr.splitlines()[-1] == "otel-prov: 3 violations in 1 of 2 documents"


def test_skew_option_sets_the_tolerance() -> None:
    skewed = FIXTURES / "valid" / "clock-skew.json"
    assert otel_prov("validate", skewed).returncode == 0
    tight = otel_prov("validate", "--skew", "0.1", skewed)
    assert tight.returncode == 1
    assert "more than the clock-skew tolerance of 0.1 s" in tight.stdout


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("truncated.json", '{"activity": {"ex:a": {', ": the file ends early: "),
        ("not-json.json", "activity(ex:a)\n", ":1: column 1: not JSON; a PROV-JSON document is one JSON object, {...}"),
        ("trace.json", '{"resourceSpans": []}\n{"resourceSpans": []}\n', ":2: column 1: more data after"),
        ("broken.provn", "document\n  used(\n", ": not a readable PROV-N document: "),
    ],
    ids=["truncated", "not-json", "trace-lines", "broken-provn"],
)
def test_unreadable_input_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    result = otel_prov("validate", path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"otel-prov: {path}{message}")


def test_one_unreadable_document_among_several_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    invalid = FIXTURES / "invalid" / "bad-time.json"
    result = otel_prov("validate", missing, invalid, FIXTURES / "valid" / "dask-run.json")
    assert result.returncode == 2
    assert len(result.stdout.splitlines()) == 1  # bad-time's violation is still listed
    assert f"otel-prov: {missing}: cannot read: No such file or directory" in result.stderr.splitlines()
    assert "Traceback" not in result.stderr


def test_unknown_format_lists_the_supported_ones() -> None:
    result = otel_prov("validate", "--format", "yaml", FIXTURES / "valid" / "dask-run.json")
    assert result.returncode == 2
    assert "'json', 'provn', 'xml', 'jsonld', 'trig', 'turtle'" in result.stderr
