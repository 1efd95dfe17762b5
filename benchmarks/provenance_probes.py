"""Per-task cost of each provenance probe on the executing thread.

Runs :class:`otel_dask_prov.capture.probes.recorder.TaskRecorder` around a trivial
Dask ``Task`` (``inc(1)``) in this process, once per setting, and prints the
added time per task (minimum over repeats, minus the bare call), in
microseconds. Nothing here needs a cluster: the recorder is exactly what the
worker's executing thread runs, called the same way.

    python benchmarks/provenance_probes.py
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import timeit
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy
from dask._task_spec import Task

from otel_dask_prov import attributes as attr
from otel_dask_prov.capture.probes.recorder import TaskRecorder
from otel_dask_prov.settings import resolve_settings

NOTHING = dict(record_code=False, task_io=False, record_logs=False)
CASES: list[tuple[str, dict[str, Any]]] = [
    ("defaults (code + task I/O + logs)", {}),
    ("code identity only", dict(task_io=False, record_logs=False)),
    ("task I/O only", dict(record_code=False, record_logs=False)),
    ("log capture only", dict(record_code=False, task_io=False)),
    ("+ record_arguments", dict(record_arguments=True)),
    ("+ record_files", dict(record_files=True)),
    ("+ result_hash (int result)", dict(result_hash=True)),
    ("+ yappi", dict(yappi=True)),
    ("+ darshan (time window)", dict(darshan=True)),
]


def inc(x: int) -> int:
    return x + 1


warnings = logging.getLogger("benchmarks.provenance_probes")
warnings.addHandler(logging.NullHandler())  # records are made (and captured), not printed
warnings.propagate = False


def warn_inc(x: int) -> int:
    warnings.warning("value %d looks odd", x)
    return x + 1


def per_call(function: Callable[[], Any], number: int = 20_000, repeat: int = 7) -> float:
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number


def main() -> None:
    key = "inc-1"
    task = Task(key, inc, 1)
    worker = SimpleNamespace(state=SimpleNamespace(tasks={
        key: SimpleNamespace(annotations={attr.ANNOTATION: "00-" + "1" * 32 + "-" + "2" * 16 + "-01"})}))
    state = {"worker": worker}
    bare = per_call(lambda: {"op": "task-finished", "result": task({})})
    print(f"bare task call: {bare * 1e6:.2f} us")
    with tempfile.TemporaryDirectory() as directory:
        for label, options in CASES:
            settings = resolve_settings(environ={}, output_dir=directory, **options)
            recorder = TaskRecorder(settings)

            def recorded(recorder: TaskRecorder = recorder) -> None:
                started = recorder.start(task, state, key)
                message = {"op": "task-finished", "result": task({})}
                recorder.finish(started, message)

            cost = per_call(recorded, number=2_000 if "yappi" in label else 20_000)
            print(f"{label:32s} +{(cost - bare) * 1e6:7.2f} us per task")
        warn_task = Task(key, warn_inc, 1)
        bare_warning = per_call(lambda: {"op": "task-finished", "result": warn_task({})})
        logs = TaskRecorder(resolve_settings(environ={}, output_dir=directory,
                                             record_code=False, task_io=False,
                                             log_max_process_records=10**9))
        logged = per_call(lambda: logs.finish(logs.start(warn_task, state, key),
                                              {"op": "task-finished", "result": warn_task({})}))
        print(f"{'log capture, one warning logged':32s} +{(logged - bare_warning) * 1e6:7.2f} us "
              f"per task (the warning alone: {bare_warning * 1e6 - bare * 1e6:.2f} us)")
        array = numpy.random.default_rng(0).random(1_000_000)
        hasher = TaskRecorder(resolve_settings(environ={}, output_dir=directory, **NOTHING,
                                               result_hash=True))
        big = per_call(lambda: hasher.finish(hasher.start(task, state, key),
                                             {"op": "task-finished", "result": array}),
                       number=20, repeat=5)
        print(f"{'result_hash of an 8 MB array':32s} +{big * 1e6:7.0f} us per task")


if __name__ == "__main__":
    main()
