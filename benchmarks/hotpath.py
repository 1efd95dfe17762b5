"""Where tracing's time goes: per-task cost of each stage, on the scheduler and workers.

Runs a tree reduction on ``LocalCluster(processes=False)`` (scheduler and both
workers in this process) with tracing to the local file, and measures:

* **hooks** (event loop): each plugin hook and the parts of it worth knowing
  (opening and closing an attempt on the scheduler, recording an execution on
  a worker), timed by wrapping the plugin instances' methods with
  ``perf_counter`` (about 0.1 µs per call added);
* **pipeline threads**: the CPU time of the tracing threads, and within them
  the time in the exporter (encoding and writing) against the rest (building
  span data from records);
* **offline replay**: the records of the run, captured as they were queued,
  turned into span data, then encoded as OTLP JSON (local file, ``http/json``),
  as OTLP protobuf by our encoder (``grpc``, ``http/protobuf``) and as OTLP
  protobuf through the SDK (``otlp_exporter = "sdk"``: ``ReadableSpan``, the
  SDK's ``encode_spans`` and ``SerializeToString``), timed one stage at a time,
  without the event loop competing;
* optionally (``--yappi``) a Yappi CPU profile of the same run, the functions
  of ``otel_dask_prov`` ranked by their own time.

Names of private methods come from the current design; a probe whose method
does not exist (after a redesign) is reported as missing, not an error.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed import Client, LocalCluster

import otel_dask_prov

from .measure import export_thread_ids, thread_cpu_seconds
from .workloads import Workload

PLUGIN_NAME = otel_dask_prov.TracingSchedulerPlugin.name

SCHEDULER_PROBES = ("update_graph", "transition", "_open_attempt", "_close_attempt", "_forget")
WORKER_PROBES = ("transition", "_record_execution")


@dataclass
class Timer:
    calls: int = 0
    seconds: float = 0.0


@dataclass
class HotPathReport:
    """Seconds per stage for one run, and the numbers to turn them into per-task costs."""

    tasks: int
    wall: float
    hooks: dict[str, Timer] = field(default_factory=dict)
    pipeline_thread_cpu: dict[str, float] = field(default_factory=dict)
    exporter_seconds: dict[str, float] = field(default_factory=dict)
    replay: dict[str, float] = field(default_factory=dict)
    replay_counts: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    yappi_top: list[tuple[str, int, float]] = field(default_factory=list)
    yappi_total: float = 0.0
    yappi_ours: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "wall": self.wall,
            "hooks": {name: vars(timer) for name, timer in self.hooks.items()},
            "pipeline_thread_cpu": self.pipeline_thread_cpu,
            "exporter_seconds": self.exporter_seconds,
            "replay": self.replay,
            "replay_counts": self.replay_counts,
            "missing_probes": self.missing,
            "yappi_top": self.yappi_top,
            "yappi_total_cpu": self.yappi_total,
            "yappi_otel_dask_prov_cpu": self.yappi_ours,
        }


def _wrap(owner: Any, method: str, timer: Timer) -> bool:
    original = getattr(owner, method, None)
    if original is None:
        return False

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            timer.seconds += time.perf_counter() - started
            timer.calls += 1

    setattr(owner, method, timed)
    return True


class _Capture:
    """Wraps a pipeline's ``put`` to keep every queued record for the offline replay."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def install(self, pipeline: Any) -> None:
        put = pipeline.put

        def capturing_put(record: Any) -> None:
            self.records.append(record)
            put(record)

        pipeline.put = capturing_put


def _instrument(cluster: LocalCluster, report: HotPathReport, capture: _Capture) -> list[Any]:
    """Wrap the plugins and pipelines of *cluster*; return the pipelines."""
    pipelines = []
    scheduler_plugin = cluster.scheduler.plugins[PLUGIN_NAME]
    targets: list[tuple[str, Any, tuple[str, ...]]] = [
        ("scheduler", scheduler_plugin, SCHEDULER_PROBES)]
    targets += [("worker", worker.plugins[PLUGIN_NAME], WORKER_PROBES)
                for worker in cluster.workers.values()]
    for side, plugin, probes in targets:
        for method in probes:
            timer = report.hooks.setdefault(f"{side}.{method}", Timer())
            if not _wrap(plugin, method, timer) and f"{side}.{method}" not in report.missing:
                report.missing.append(f"{side}.{method}")
        pipeline = getattr(plugin, "pipeline", None)
        if pipeline is None:
            report.missing.append(f"{side}.pipeline")
            continue
        pipelines.append((side, pipeline))
        capture.install(pipeline)
        exporter = getattr(pipeline, "exporter", None)
        timer = report.hooks.setdefault(f"{side}.exporter.export_data", Timer())
        if exporter is None or not _wrap(exporter, "export_data", timer):
            report.missing.append(f"{side}.exporter.export_data")
    return pipelines


def _replay(records: list[Any], report: HotPathReport, batch_size: int) -> None:
    """Time building span data, JSON encoding, our protobuf encoding and the SDK's of *records*."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource

    from otel_dask_prov.export import otlp_protobuf
    from otel_dask_prov.export.otlp_json import encode_line, resource_prefix
    from otel_dask_prov.export.span_data import to_readable_span

    by_kind: dict[str, list[Any]] = defaultdict(list)
    for record in records:
        by_kind[type(record).__name__].append(record)
    spans = []
    for kind, group in by_kind.items():
        started = time.perf_counter()
        built = [span for record in group for span in record.to_span_data()]
        report.replay[f"build {kind}"] = time.perf_counter() - started
        report.replay_counts[f"records {kind}"] = len(group)
        report.replay_counts[f"spans {kind}"] = len(built)
        spans += built
    report.replay_counts["spans"] = len(spans)
    report.replay_counts["records"] = len(records)
    resource = Resource.create({"service.name": "benchmark"})
    prefix = resource_prefix(resource.attributes)
    batches = [spans[i:i + batch_size] for i in range(0, len(spans), batch_size)]
    started = time.perf_counter()
    for batch in batches:
        encode_line(prefix, batch)
    report.replay["encode OTLP JSON"] = time.perf_counter() - started
    protobuf_prefix = otlp_protobuf.resource_prefix(resource.attributes)
    started = time.perf_counter()
    for batch in batches:
        otlp_protobuf.encode_request(protobuf_prefix, batch)
    report.replay["encode OTLP protobuf (ours)"] = time.perf_counter() - started
    started = time.perf_counter()
    readable_batches = [[to_readable_span(span, resource) for span in batch] for batch in batches]
    report.replay["SDK ReadableSpan"] = time.perf_counter() - started
    started = time.perf_counter()
    for batch in readable_batches:
        encode_spans(batch).SerializeToString()
    report.replay["encode OTLP protobuf (SDK)"] = time.perf_counter() - started


def profile_hot_path(workload: Workload, workdir: Path, use_yappi: bool = False,
                     progress: Callable[[str], None] = print) -> HotPathReport:
    """Run *workload* traced on an in-process cluster and measure every stage."""
    import dask.config

    report = HotPathReport(tasks=workload.tasks, wall=0.0)
    capture = _Capture()
    with dask.config.set({"distributed.diagnostics.computations.nframes": 1}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                         dashboard_address=None) as cluster, Client(cluster) as client:
        otel_dask_prov.install(client, output_dir=str(workdir / "hotpath-traces"))
        pipelines = _instrument(cluster, report, capture)
        threads = export_thread_ids()
        import os

        pid = os.getpid()
        run = workload.prepare(client)
        cpu_before = thread_cpu_seconds(pid, threads)
        if use_yappi:
            import yappi

            yappi.set_clock_type("cpu")
            yappi.start(builtins=False, profile_threads=True)
        started = time.perf_counter()
        run()
        report.wall = time.perf_counter() - started
        # Let the pipelines drain what the run queued before reading their CPU time.
        for _, pipeline in pipelines:
            while getattr(pipeline, "_queue", None):
                time.sleep(0.05)
        time.sleep(0.5)
        if use_yappi:
            yappi.stop()
            _yappi_report(report)
        report.pipeline_thread_cpu["all pipeline threads"] = (
            thread_cpu_seconds(pid, threads) - cpu_before)
        batch_size = pipelines[0][1].settings.max_export_batch_size if pipelines else 2048
    for name, timer in report.hooks.items():
        if name.endswith("export_data"):
            report.exporter_seconds[name] = timer.seconds
    progress(f"hot path: {workload.tasks:,} tasks in {report.wall:.1f} s, replaying "
             f"{len(capture.records):,} records")
    _replay(capture.records, report, batch_size)
    return report


def _yappi_report(report: HotPathReport, top: int = 25) -> None:
    import yappi

    stats = yappi.get_func_stats()
    total = 0.0
    ours = []
    for stat in stats:
        total += stat.tsub
        if "otel_dask_prov" in stat.module:
            ours.append((f"{Path(stat.module).name}:{stat.name}", stat.ncall, stat.tsub))
    ours.sort(key=lambda item: item[2], reverse=True)
    report.yappi_total = total
    report.yappi_ours = sum(item[2] for item in ours)
    report.yappi_top = ours[:top]
    yappi.clear_stats()
