"""Benchmark 2: how much scheduler memory tracing adds on a large run.

A 200,000-task graph (a tree reduction, submitted at once) runs on real dask
processes with and without tracing (the default: local file). For the
scheduler process it records the RSS before the run, the peak during it and
the RSS once every task is forgotten and the pipeline idle; the growth of a
configuration is its peak minus its baseline, and tracing's cost is the
difference between the growths with and without tracing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from .clusters import running
from .configs import Configuration
from .measure import peak_rss_bytes, reset_peak_rss, rss_bytes, wait_until_idle
from .overhead import warm_up
from .workloads import Workload


@dataclass
class MemoryMeasurement:
    """Scheduler RSS around one large run."""

    config: str
    round: int
    tasks: int
    wall: float
    baseline_rss: int
    peak_rss: int
    after_rss: int

    @property
    def growth(self) -> int:
        return self.peak_rss - self.baseline_rss

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "growth": self.growth}


def run_memory(configurations: Sequence[Configuration], workload: Workload, repeats: int,
               workdir: Path, idle_window: float,
               progress: Callable[[str], None] = print) -> list[MemoryMeasurement]:
    import time

    measurements = []
    for round_number in range(repeats):
        order = list(configurations) if round_number % 2 == 0 else list(reversed(configurations))
        for configuration in order:
            where = workdir / f"memory-{configuration.name}-{round_number}"
            with running("processes", configuration, where) as harness:
                warm_up(harness.client)
                run = workload.prepare(harness.client)
                pid = harness.scheduler_pid
                wait_until_idle(harness.pids, idle_window)
                baseline = rss_bytes(pid)
                reset_peak_rss(pid)
                started = time.perf_counter()
                run()
                wall = time.perf_counter() - started
                harness.wait_until_forgotten()
                harness.wait_until_exported()
                wait_until_idle(harness.pids, idle_window)
                measurement = MemoryMeasurement(configuration.name, round_number, workload.tasks,
                                                wall, baseline, peak_rss_bytes(pid),
                                                rss_bytes(pid))
            measurements.append(measurement)
            progress(f"memory round {round_number + 1}/{repeats} {configuration.name:5} "
                     f"{workload.tasks:,} tasks: wall {wall:.1f} s, scheduler RSS "
                     f"{baseline / 2**20:.0f} -> peak {measurement.peak_rss / 2**20:.0f} MiB")
    return measurements
