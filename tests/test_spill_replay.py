"""No span is lost when the collector is away: spill to a local file, ``otel-prov replay`` later.

Real ``dask scheduler``/``dask worker`` processes export over OTLP gRPC; the
collector is the real ``otelcol-dask-prov`` binary.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from otel_dask_prov import attributes as attr
from tests.support.cluster import DaskProcesses
from tests.support.collector import Collector, CollectorShare, free_ports
from tests.support.traces import Span, read_spans
from tests.support.workloads import inc, total

pytestmark = [pytest.mark.slow, pytest.mark.collector]

EXPORT_TIMEOUT = 5  # seconds; OTEL_EXPORTER_OTLP_TIMEOUT


def run_workload(cluster: DaskProcesses, size: int = 10) -> float:
    """One computation of ``size`` incs and their total; returns its wall time."""
    import dask

    with cluster.client() as client:
        started = time.monotonic()
        leaves = [dask.delayed(inc)(i) for i in range(size)]
        assert client.compute(dask.delayed(total)(leaves)).result() == sum(range(1, size + 1))
        return time.monotonic() - started


def assert_complete(spans: list[Span], computations: int, tasks_each: int) -> None:
    """Every computation, attempt, execution and phase is there exactly once."""
    ids = Counter(span.span_id for span in spans)
    assert max(ids.values()) == 1, "a span was delivered twice"
    kinds = Counter(span.kind for span in spans)
    assert kinds[attr.RECORD_COMPUTATION] == computations
    assert kinds[attr.RECORD_TASK_ATTEMPT] == computations * tasks_each
    assert kinds[attr.RECORD_TASK_EXECUTION] == computations * tasks_each
    by_id = {span.span_id: span for span in spans}
    for span in spans:
        if span.kind != attr.RECORD_COMPUTATION:
            assert span.parent_span_id in by_id, f"the parent of {span.name} was lost"
    executions = {s.span_id for s in spans if s.kind == attr.RECORD_TASK_EXECUTION}
    with_phases = {s.parent_span_id for s in spans if s.kind == attr.RECORD_TASK_PHASE}
    assert executions == with_phases


def otlp_env(endpoint: str, spill_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_TIMEOUT": str(EXPORT_TIMEOUT),
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_DASK_PROV_SPILL_DIR": str(spill_dir),
        **extra,
    }


def test_collector_down_for_the_whole_run_then_replayed(tmp_path: Path, collector: CollectorShare) -> None:
    """The run exports to a port nobody listens on; the spills are replayed to the session's collector."""
    (nobody,) = free_ports(1)
    spill_dir = tmp_path / "spill"
    env = otlp_env(f"http://127.0.0.1:{nobody}", spill_dir, **collector.resource_env)
    cluster = DaskProcesses(tmp_path / "dask", env=env)
    with cluster:
        wall_times = [run_workload(cluster) for _ in range(2)]
        cluster.stop()
    # Export happens off the event loop: the computations never wait for the collector.
    assert max(wall_times) < EXPORT_TIMEOUT, wall_times
    assert "tracing error" not in cluster.logs()
    assert "could not deliver spans" in cluster.logs()

    spilled = read_spans([spill_dir])
    assert_complete(spilled, computations=2, tasks_each=11)
    assert sorted(p.name.split("-")[1] for p in spill_dir.glob("*.spill.jsonl.zst")) == [
        "scheduler", "worker", "worker"]

    replay = subprocess.run(
        [sys.executable, "-m", "otel_dask_prov.cli", "replay", str(spill_dir),
         "--endpoint", collector.grpc_endpoint],
        capture_output=True, text=True, timeout=120,
    )
    assert replay.returncode == 0, replay.stderr
    assert f"delivered {len(spilled)} spans" in replay.stdout
    delivered = collector.wait_for_spans(lambda spans: len(spans) >= len(spilled))
    assert sorted(s.span_id for s in delivered) == sorted(s.span_id for s in spilled)
    assert {s.resource[attr.SERVICE_NAME] for s in delivered} == {"dask-scheduler", "dask-worker"}
    assert list(spill_dir.glob("*.spill.jsonl.zst")) == []  # renamed *.replayed: not sent twice


def test_collector_killed_and_restarted_mid_run_loses_nothing(
    tmp_path: Path, start_collector: Callable[..., Collector]
) -> None:
    collector = start_collector("local.yaml")  # its own: it is killed
    spill_dir = tmp_path / "spill"
    cluster = DaskProcesses(tmp_path / "dask", env=otlp_env(collector.grpc_endpoint, spill_dir))
    with cluster:
        run_workload(cluster)
        collector.wait_for_spans(
            lambda spans: sum(s.kind == attr.RECORD_TASK_PHASE for s in spans) >= 11)
        collector.kill()
        outage = run_workload(cluster)
        # Outlast the exporters' own retries (bounded by the export timeout): they
        # give up and spill. A shorter outage is bridged by those retries.
        time.sleep(EXPORT_TIMEOUT + 2)
        collector.start()
        run_workload(cluster)
        cluster.stop()
    collector.stop()
    assert outage < EXPORT_TIMEOUT
    delivered, spilled = collector.spans(), read_spans([spill_dir])
    assert spilled, "the outage should have spilled spans"
    assert_complete(delivered + spilled, computations=3, tasks_each=11)
    assert "tracing error" not in cluster.logs()


def test_replay_of_a_missing_file_is_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "otel_dask_prov.cli", "replay", "/no/such/spill",
         "--endpoint", "http://127.0.0.1:4317"],
        capture_output=True, text=True, timeout=60, env={**os.environ},
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "otel-prov: /no/such/spill: no such file or directory"
