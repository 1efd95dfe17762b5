"""Per-task Yappi profiles (opt-in: ``yappi``, ``yappi_clock``, ``yappi_top``).

The executing thread starts Yappi for itself only (``profile_threads=False``)
just before the task function and stops it just after, then keeps the
``yappi_top`` functions with the largest total time among the task function and
everything it called, builtins and C functions included (Dask's own work around
the call, such as measuring the result's size, is left out). The execution span
gets them as JSON in
``dask.profile.yappi``::

    [{"name": "slow_sum", "file": "/src/analysis.py", "line": 12,
      "calls": 1, "total_s": 0.51, "self_s": 0.02}, ...]

and the clock in ``dask.profile.yappi.clock`` (``cpu``: the thread's CPU time;
``wall``). When the task function has no Python code (a builtin or a ufunc),
every profiled function outside Dask's task runner and this package is kept.

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

from ... import attributes as attr

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
        self._root: tuple[str, int] | None = None

    def start(self, function: Any = None) -> str | None:
        """Start profiling the calling thread; a reason when it cannot.

        *function* is the task function: the profile keeps what ran under it.
        """
        if not self._lock.acquire(blocking=False):
            return BUSY
        yappi = self._yappi
        if yappi.is_running():
            self._lock.release()
            return FOREIGN
        code = getattr(getattr(function, "__func__", function), "__code__", None)
        self._root = (code.co_filename, code.co_firstlineno) if code is not None else None
        yappi.clear_stats()
        if yappi.get_clock_type() != self.clock:
            yappi.set_clock_type(self.clock)
        yappi.start(builtins=True, profile_threads=False)
        return None

    def _under_root(self, stats: Any) -> list[Any]:
        """The stats of the task function and of everything it called (or all but wrappers)."""
        if self._root is not None:
            by_index = {stat.index: stat for stat in stats}
            pending = [stat for stat in stats if (stat.module, stat.lineno) == self._root]
            kept: dict[int, Any] = {}
            while pending:
                stat = pending.pop()
                if stat.index in kept:
                    continue
                kept[stat.index] = stat
                pending.extend(by_index[child.index] for child in stat.children
                               if child.index in by_index)
            if kept:
                return list(kept.values())
        return [stat for stat in stats if not _is_wrapper(stat.module)]

    def stop(self) -> dict[str, Any]:
        """Stop, and the span attributes of the profile taken since :meth:`start`."""
        yappi = self._yappi
        try:
            yappi.stop()
            stats = self._under_root(list(yappi.get_func_stats()))
            stats.sort(key=lambda stat: stat.ttot, reverse=True)
            top = [{"name": stat.name, "file": stat.module, "line": stat.lineno,
                    "calls": stat.ncall, "total_s": round(stat.ttot, 9),
                    "self_s": round(stat.tsub, 9)} for stat in stats[: self.top]]
            yappi.clear_stats()
        finally:
            self._lock.release()
        return {attr.PROFILE_YAPPI: json.dumps(top), attr.PROFILE_YAPPI_CLOCK: self.clock}
