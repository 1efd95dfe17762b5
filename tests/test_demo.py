"""``otel-prov demo``, run as a user runs it: a real subprocess starting real dask processes."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from otel_dask_prov.demo.trace_summary import summarize
from tests.support.collector import SCRIPTS_DIR, http_get

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


def test_demo_with_jaeger_serves_each_computation_in_the_ui_until_ctrl_c(tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.skip("--jaeger builds the collector and Jaeger: go is not on PATH")
    ui = subprocess.run([str(SCRIPTS_DIR / "build-jaeger-ui")], capture_output=True, text=True, check=False)
    if ui.returncode in (2, 127):  # no source archive, no Node: the UI cannot be built here
        pytest.skip(f"--jaeger builds Jaeger's UI: {ui.stderr.strip()}")
    workdir = tmp_path / "demo"
    demo = subprocess.Popen(
        [sys.executable, "-m", "otel_dask_prov.cli", "demo", "--jaeger", "--jaeger-port", "0",
         "--workdir", str(workdir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in demo.stdout or ()], daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + 600  # a first run builds everything
        while not output or "press Ctrl-C" not in output[-1]:
            assert demo.poll() is None or not lines.empty(), "".join(output)
            assert time.monotonic() < deadline, "".join(output)
            with contextlib.suppress(queue.Empty):
                output.append(lines.get(timeout=1))
        text = "".join(output)
        traces = re.findall(r"(http://127\.0\.0\.1:\d+)/trace/([0-9a-f]{32})\n\s+(\d+) spans", text)
        assert len(traces) == 3, text  # array, delayed pipeline, retried download
        for ui, trace_id, spans in traces:
            trace = json.loads(http_get(f"{ui}/api/traces/{trace_id}"))["data"][0]
            assert len(trace["spans"]) == int(spans)
        page = http_get(f"{ui}/trace/{trace_id}").decode()
        assert "<title>Jaeger UI</title>" in page, page[:500]  # the built UI, not the placeholder
        time.sleep(2)
        assert demo.poll() is None, "the demo must keep the services up until Ctrl-C"
        demo.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    time.sleep(0.5)
    rest = "".join(output) + "".join(iter_queue(lines))
    assert "interrupted: stopping the collector and Jaeger" in rest
    with pytest.raises(OSError):
        http_get(f"{ui}/api/services", timeout=2)


def iter_queue(lines: queue.Queue[str]) -> list[str]:
    found = []
    with contextlib.suppress(queue.Empty):
        while True:
            found.append(lines.get_nowait())
    return found
