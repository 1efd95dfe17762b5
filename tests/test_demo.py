"""``otel-prov demo``, run as a user runs it: a real subprocess starting real dask processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from otel_dask_prov.demo.trace_summary import summarize

pytestmark = pytest.mark.slow


def test_demo_traces_its_workload_and_says_where_the_traces_are(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "otel_dask_prov.cli", "demo", "--workdir", str(workdir)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"traces: {workdir / 'traces'}/" in done.stdout
    summary = summarize([workdir / "traces"])
    assert len(summary.traces) == 3  # array, delayed pipeline, retried download
    assert summary.outcomes["error-retried"] == 1
    assert len(summary.workers) == 2
    assert "traces (computations): 3" in done.stdout
    assert "tracing error" not in (workdir / "logs" / "scheduler.log").read_text()
