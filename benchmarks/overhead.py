"""Benchmark 1: what tracing costs a computation, per cluster kind and configuration.

For each round, each cluster kind and each configuration (the order of the
configurations alternates between rounds), a fresh cluster is started, warmed
up, and every workload is run once. For each run it records:

* ``wall``: seconds from submission to result, on the client;
* ``sched_cpu``: CPU seconds of the scheduler process and its tracing exporter
  process from submission until every process is idle again (so the export
  after the result counts); for ``local`` this process also runs the client;
* ``sched_export_cpu``: the part of it spent on tracing threads and the exporter process;
* ``worker_cpu`` / ``worker_export_cpu``: the same summed over the workers;
* ``sched_peak_rss`` / ``worker_peak_rss``: the highest RSS during the run
  (the largest worker's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from distributed import Client

from .clusters import Harness, running
from .configs import Configuration
from .measure import peak_rss_bytes, reset_peak_rss, sample, wait_until_idle
from .workloads import Workload, inc


@dataclass
class Measurement:
    """One workload run on one cluster in one configuration."""

    kind: str
    config: str
    workload: str
    round: int
    tasks: int
    wall: float
    sched_cpu: float
    sched_export_cpu: float
    worker_cpu: float
    worker_export_cpu: float
    sched_peak_rss: int
    worker_peak_rss: int
    trace_bytes: int = 0
    """Bytes the run added to the local trace files (0 when exporting over OTLP)."""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def warm_up(client: Client) -> None:
    """Import what the workloads need on the workers and run a first few tasks."""
    import dask.array as da

    client.gather(client.map(inc, range(20)))
    client.compute(da.ones((200, 200), chunks=(100, 100)).sum()).result()


def measure_run(harness: Harness, workload: Workload, round_number: int,
                idle_window: float) -> Measurement:
    """Run *workload* once on *harness* and measure it."""
    import time

    run = workload.prepare(harness.client)
    harness.wait_until_forgotten()
    harness.wait_until_exported()
    wait_until_idle(harness.pids, idle_window)
    threads = harness.export_threads()
    for pid in harness.pids:
        reset_peak_rss(pid)
    before = {pid: sample(pid, threads.get(pid, ())) for pid in harness.pids}
    started = time.perf_counter()
    run()
    wall = time.perf_counter() - started
    harness.wait_until_forgotten()
    harness.wait_until_exported()  # the export after the result counts for the CPU
    wait_until_idle(harness.pids, idle_window)
    after = {pid: sample(pid, threads.get(pid, ())) for pid in harness.pids}
    scheduler = harness.scheduler_pid
    workers = harness.worker_pids
    return Measurement(
        kind=harness.kind,
        config=harness.configuration.name,
        workload=workload.name,
        round=round_number,
        tasks=workload.tasks,
        wall=wall,
        sched_cpu=after[scheduler].cpu - before[scheduler].cpu,
        sched_export_cpu=after[scheduler].export_cpu - before[scheduler].export_cpu,
        worker_cpu=sum(after[pid].cpu - before[pid].cpu for pid in workers),
        worker_export_cpu=sum(after[pid].export_cpu - before[pid].export_cpu for pid in workers),
        sched_peak_rss=peak_rss_bytes(scheduler),
        worker_peak_rss=max(peak_rss_bytes(pid) for pid in workers),
    )


def trace_bytes(workdir: Path) -> int:
    """Bytes of the local trace files under *workdir* (the journals, deleted once exported, apart)."""
    traces = workdir / "traces"
    return sum(path.stat().st_size for path in traces.rglob("*.jsonl*")) if traces.is_dir() else 0


def run_overhead(kinds: Sequence[str], configurations: Sequence[Configuration],
                 workloads: Sequence[Workload], repeats: int, workdir: Path,
                 idle_window: float,
                 progress: Callable[[str], None] = print) -> list[Measurement]:
    """Every (round, kind, configuration, workload) run, configurations alternating."""
    measurements: list[Measurement] = []
    for round_number in range(repeats):
        order = list(configurations) if round_number % 2 == 0 else list(reversed(configurations))
        for kind in kinds:
            for configuration in order:
                where = workdir / f"overhead-{kind}-{configuration.name}-{round_number}"
                with running(kind, configuration, where) as harness:
                    warm_up(harness.client)
                    for workload in workloads:
                        on_disk = trace_bytes(where)
                        measurement = measure_run(harness, workload, round_number, idle_window)
                        measurement.trace_bytes = trace_bytes(where) - on_disk
                        measurements.append(measurement)
                        progress(f"round {round_number + 1}/{repeats} {kind:9} "
                                 f"{configuration.name:5} {workload.name:8} "
                                 f"wall {measurement.wall:7.2f} s  "
                                 f"scheduler cpu {measurement.sched_cpu:7.2f} s  "
                                 f"{measurement.trace_bytes / measurement.tasks:6.0f} B/task on disk")
    return measurements
