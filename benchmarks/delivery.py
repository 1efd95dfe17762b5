"""Benchmark 4: every span of a 100,000-task run reaches the real collector.

The run goes over OTLP/gRPC from real dask processes to ``otelcol-dask-prov``.
What must arrive is computed from Dask's own account of the run
(:class:`~benchmarks.task_counter.TaskCounter`): one computation span per
submission, and per finished task one attempt span (scheduler), one execution
span (worker) and one phase span per ``startstops`` entry. The processes and
then the collector are stopped gracefully (so everything is flushed) before
the collector's file is counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from otel_dask_prov import attributes as attr

from .clusters import running
from .collector import count_spans
from .configs import Configuration
from .overhead import warm_up
from .task_counter import TaskCounter, counts_on_scheduler
from .workloads import Workload


@dataclass
class DeliveryResult:
    tasks: int
    wall: float
    expected: dict[str, int]
    received: dict[str, int]

    @property
    def lost(self) -> int:
        return self.expected["total"] - self.received.get("total", 0)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "lost": self.lost}


def expected_spans(counts: dict[str, int]) -> dict[str, int]:
    """Spans tracing must produce for a run Dask counted as *counts*."""
    tasks = counts["finished"] + counts["erred"]
    expected = {
        attr.RECORD_COMPUTATION: counts["submissions"],
        attr.RECORD_TASK_ATTEMPT: tasks,
        attr.RECORD_TASK_EXECUTION: tasks,
        attr.RECORD_TASK_PHASE: counts["phases"],
    }
    return {**expected, "total": sum(expected.values())}


def run_delivery(configuration: Configuration, workload: Workload, workdir: Path,
                 progress: Callable[[str], None] = print) -> DeliveryResult:
    with running("processes", configuration, workdir / "delivery") as harness:
        client = harness.client
        client.register_plugin(TaskCounter())
        warm_up(client)
        run = workload.prepare(client)
        started = time.perf_counter()
        run()
        wall = time.perf_counter() - started
        harness.wait_until_forgotten()
        counts = client.run_on_scheduler(counts_on_scheduler)
        collector = harness.collector
        assert collector is not None
        # Stop the Dask processes (flushing their pipelines), then the collector.
        harness.stop()
        collector.stop()
        received = count_spans([collector.traces_file])
    result = DeliveryResult(workload.tasks, wall, expected_spans(counts), dict(received))
    progress(f"delivery {workload.tasks:,} tasks: expected {result.expected['total']:,} spans, "
             f"received {result.received.get('total', 0):,}")
    return result
