"""The benchmark suite still runs: ``scripts/bench --smoke`` end to end.

Benchmarks are never timed tests: this only checks that every benchmark runs
on real dask processes and the real collector and reports what it should.
Its figures are not looked at (tiny sizes, one round, a shared machine).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(240)
def test_smoke_run_of_every_benchmark(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    done = subprocess.run(
        [str(REPO_ROOT / "scripts" / "bench"), "--smoke", "--configs", "none,all",
         "--json", str(output)],
        capture_output=True, text=True, timeout=220, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(output.read_text())

    overhead = {(row["config"], row["workload"]): row for row in results["overhead"]["summary"]}
    assert set(overhead) == {(config, workload) for config in ("none", "all")
                             for workload in ("a-map", "b-array", "c-tree", "d-large")}
    for row in overhead.values():
        assert row["wall_min"] > 0 and row["sched_peak_rss_median"] > 0
        assert row["wall_ratio_min"] > 0
    # The tracing threads were found and measured.
    assert sum(row["sched_export_cpu_median"] + row["worker_export_cpu_median"]
               for (config, _), row in overhead.items() if config == "all") > 0

    memory = results["memory"]["summary"]
    assert set(memory) == {"none", "file"} and memory["file"]["peak_median"] > 0

    if "collector_unavailable" not in results:
        delivery = results["delivery"]
        assert delivery["expected"]["task_attempt"] >= 499
        assert delivery["lost"] == 0, delivery

    hooks = results["hotpath"]["hooks"]
    assert hooks["scheduler.transition"]["calls"] > 0
    assert not results["hotpath"]["missing_probes"]
    assert results["hotpath"]["replay"]["encode OTLP JSON"] > 0

    assert "== overhead" in done.stdout and "== hot path" in done.stdout
    assert results["converter"]["returncode"] == 0
    assert results["report"]["returncode"] == 0, results["report"]
    assert results["report"]["output"].splitlines()[-1].split()[:2] == ["200", "201"]  # tasks, attempts
