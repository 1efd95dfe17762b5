"""What the benchmarks read about Dask processes: CPU time, peak RSS, thread CPU.

Peak RSS is the kernel's high-water mark (``VmHWM`` in ``/proc/<pid>/status``),
reset before each measured run by writing ``5`` to ``/proc/<pid>/clear_refs``
(Linux), so one cluster can serve several runs and each reports its own peak.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

EXPORT_THREAD_PREFIX = "otel-dask-prov"
"""Threads of the tracing pipeline are named ``otel-dask-prov-...``."""


EXPORTER_PROCESS_MODULE = "otel_dask_prov.export.exporter_process"
"""The exporter process of each traced Dask process runs this module (a child of it)."""


def exporter_processes(pid: int) -> list[psutil.Process]:
    """The tracing exporter processes that the Dask process *pid* started."""
    found = []
    for child in psutil.Process(pid).children():
        try:
            if EXPORTER_PROCESS_MODULE in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _own_cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return float(times.user + times.system)


def exporter_cpu_seconds(pid: int) -> float:
    """CPU seconds so far of the exporter processes of *pid*."""
    return sum(_own_cpu(child) for child in exporter_processes(pid))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far: its threads and its exporter processes."""
    return _own_cpu(psutil.Process(pid)) + exporter_cpu_seconds(pid)


def thread_cpu_seconds(pid: int, thread_ids: Iterable[int]) -> float:
    """User + system CPU seconds of some threads (native ids) of a process so far."""
    wanted = set(thread_ids)
    if not wanted:
        return 0.0
    return sum(t.user_time + t.system_time for t in psutil.Process(pid).threads() if t.id in wanted)


def rss_bytes(pid: int) -> int:
    """Resident set size of a process now."""
    return int(psutil.Process(pid).memory_info().rss)


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def peak_rss_bytes(pid: int) -> int:
    """Highest resident set size of a process since it started or since :func:`reset_peak_rss`."""
    return _status_kib(pid, "VmHWM") * 1024


def reset_peak_rss(pid: int) -> None:
    """Start a new peak-RSS measurement for *pid* (the peak becomes the current RSS)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def export_thread_ids() -> list[int]:
    """Native ids of this process's tracing threads (run in a Dask process via ``client.run``)."""
    return [
        thread.native_id
        for thread in threading.enumerate()
        if thread.name.startswith(EXPORT_THREAD_PREFIX) and thread.native_id is not None
    ]


@dataclass
class ProcessSample:
    """CPU counters of one process at one moment."""

    cpu: float
    export_cpu: float


def sample(pid: int, export_threads: Iterable[int]) -> ProcessSample:
    """CPU so far of *pid* with its exporter processes, and of the tracing part (its
    tracing threads and exporter processes)."""
    exporters = exporter_cpu_seconds(pid)
    return ProcessSample(_own_cpu(psutil.Process(pid)) + exporters,
                         thread_cpu_seconds(pid, export_threads) + exporters)


def wait_until_idle(pids: Iterable[int], window: float, timeout: float = 120.0,
                    busy_fraction: float = 0.15) -> float:
    """Wait until the processes together use under *busy_fraction* of a core for *window* s.

    Tracing pipelines export in the background every ``export_interval`` seconds,
    so a run is over for the CPU only once they have drained: *window* should
    exceed that interval. Returns the seconds waited.
    """
    pids = list(pids)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = sum(cpu_seconds(pid) for pid in pids)
        time.sleep(window)
        if sum(cpu_seconds(pid) for pid in pids) - before < busy_fraction * window:
            break
    return time.monotonic() - started
