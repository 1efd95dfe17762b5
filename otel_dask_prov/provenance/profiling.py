"""Per-task Yappi profiles (opt-in: ``yappi``, ``yappi_clock``, ``yappi_top``).

The executing thread starts Yappi for itself only (``profile_threads=False``)
just before the task function and stops it just after, then keeps the
``yappi_top`` functions with the largest total time, skipping the frames of
Dask and of this package that merely wrap the call. The execution span gets
them as JSON in ``dask.profile.yappi``::

    [{"name": "slow_sum", "file": "/src/analysis.py", "line": 12,
      "calls": 1, "total_s": 0.51, "self_s": 0.02}, ...]

and the clock in ``dask.profile.yappi.clock`` (``cpu``: the thread's CPU time;
``wall``).

Yappi is one profiler per process. So that a profile never mixes the work of
two tasks, one task at a time is profiled in a worker process: a task that
starts while another is being profiled runs unprofiled, with
``dask.profile.skipped`` saying why. Run workers with ``--nthreads 1`` (and more
processes) to profile every task. Threads a task starts are not profiled.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from .. import attributes as attr

_WRAPPER_FILES = ("distributed/worker.py", "distributed/metrics.py", "dask/_task_spec.py",
                  "/contextlib.py")
"""Files of the frames between the executing thread's entry point and the task function
(besides this package's own)."""


def _is_wrapper(module: str) -> bool:
    module = module.replace("\\", "/")
    return module.endswith(_WRAPPER_FILES) or "/otel_dask_prov/" in module

BUSY = "another task of this worker process was being profiled"
FOREIGN = "Yappi was already running in this process (started by someone else)"


class YappiProfiler:
    """Profiles one task at a time on its executing thread."""

    def __init__(self, clock: str, top: int) -> None:
        import yappi  # ImportError: the caller says how to install it

        self._yappi = yappi
        self.clock = clock
        self.top = top
        self._lock = threading.Lock()

    def start(self) -> str | None:
        """Start profiling the calling thread; a reason when it cannot."""
        if not self._lock.acquire(blocking=False):
            return BUSY
        yappi = self._yappi
        if yappi.is_running():
            self._lock.release()
            return FOREIGN
        yappi.clear_stats()
        if yappi.get_clock_type() != self.clock:
            yappi.set_clock_type(self.clock)
        yappi.start(builtins=False, profile_threads=False)
        return None

    def stop(self) -> dict[str, Any]:
        """Stop, and the span attributes of the profile taken since :meth:`start`."""
        yappi = self._yappi
        try:
            yappi.stop()
            stats = yappi.get_func_stats()
            stats.sort("ttot", "desc")
            top: list[dict[str, Any]] = []
            for stat in stats:
                if _is_wrapper(stat.module):
                    continue
                top.append({"name": stat.name, "file": stat.module, "line": stat.lineno,
                            "calls": stat.ncall, "total_s": round(stat.ttot, 9),
                            "self_s": round(stat.tsub, 9)})
                if len(top) >= self.top:
                    break
            yappi.clear_stats()
        finally:
            self._lock.release()
        return {attr.PROFILE_YAPPI: json.dumps(top), attr.PROFILE_YAPPI_CLOCK: self.clock}
