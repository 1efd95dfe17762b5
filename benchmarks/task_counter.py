"""Dask's own account of a run, to know how many spans tracing must deliver.

:class:`TaskCounter` is a scheduler plugin independent of otel-dask-prov: it
counts graph submissions, tasks that finished (``processing -> memory`` or
``-> erred``) and the ``startstops`` phases the workers reported for them.
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin


class TaskCounter(SchedulerPlugin):
    """Counts submissions, finished tasks and their reported phases."""

    name = "benchmark-task-counter"

    def __init__(self) -> None:
        self.counts = {"submissions": 0, "finished": 0, "erred": 0, "phases": 0}

    def update_graph(self, scheduler: Any, **kwargs: Any) -> None:
        self.counts["submissions"] += 1

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if start != "processing" or finish not in ("memory", "erred"):
            return
        self.counts["finished" if finish == "memory" else "erred"] += 1
        self.counts["phases"] += len(kwargs.get("startstops") or ())


def counts_on_scheduler(dask_scheduler: Any) -> dict[str, int]:
    """The counts of the registered :class:`TaskCounter` (run with ``run_on_scheduler``)."""
    return dict(dask_scheduler.plugins[TaskCounter.name].counts)
