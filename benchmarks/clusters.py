"""The two clusters every overhead run is measured on, behind one interface.

* ``local``: ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``
  with :func:`otel_dask_prov.install`; the scheduler runs in the benchmark's own
  process (next to the client), the workers in their own processes.
* ``processes``: real ``dask scheduler`` / ``dask worker`` processes
  (:class:`~otel_dask_prov.demo.local_cluster.DaskProcesses`), each with
  ``--preload otel_dask_prov`` and the configuration as ``DASK_OTEL_DASK_PROV__*``
  variables.

Both give the client, the process ids of the scheduler and of the workers, and
the native ids of the tracing threads in each of them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dask.config
from distributed import Client, LocalCluster

import otel_dask_prov
from otel_dask_prov.demo.local_cluster import DaskProcesses
from otel_dask_prov.export.span_pipeline import SpanPipeline

from .collector import REPO_ROOT, Collector
from .configs import Configuration
from .measure import export_thread_ids

KINDS = ("local", "processes")
N_WORKERS = 2
THREADS_PER_WORKER = 1


def _scheduler_task_count(dask_scheduler: object) -> int:
    return len(dask_scheduler.tasks)  # type: ignore[attr-defined]


def pending_records(dask_scheduler: Any = None, dask_worker: Any = None) -> int:
    """Records the tracing plugins of this process still hold (``client.run`` target)."""
    server = dask_scheduler if dask_scheduler is not None else dask_worker
    return sum(plugin.pipeline.pending for plugin in server.plugins.values()
               if isinstance(getattr(plugin, "pipeline", None), SpanPipeline))


class Harness:
    """A running cluster of one kind in one configuration."""

    def __init__(self, kind: str, configuration: Configuration, client: Client,
                 scheduler_pid: int, worker_pids: list[int], collector: Collector | None,
                 stop: Callable[[], None]) -> None:
        self.kind = kind
        self.configuration = configuration
        self.client = client
        self.scheduler_pid = scheduler_pid
        self.worker_pids = worker_pids
        self.collector = collector
        self.stop = stop
        """Stop the cluster gracefully (every span flushed); stopping again does nothing."""

    @property
    def pids(self) -> list[int]:
        return [self.scheduler_pid, *self.worker_pids]

    def export_threads(self) -> dict[int, list[int]]:
        """Tracing thread ids by process id (empty lists when not traced)."""
        if self.kind == "local":
            threads = {self.scheduler_pid: export_thread_ids()}
        else:
            threads = {self.scheduler_pid: self.client.run_on_scheduler(export_thread_ids)}
        pids = self.client.run(os.getpid)
        for address, ids in self.client.run(export_thread_ids).items():
            threads[pids[address]] = ids
        return threads

    def wait_until_exported(self, timeout: float = 300.0) -> None:
        """Wait until no tracing pipeline holds a record (a busy process holds them back)."""
        deadline = time.monotonic() + timeout
        while (self.client.run_on_scheduler(pending_records)
               or any(self.client.run(pending_records).values())):
            if time.monotonic() > deadline:
                raise TimeoutError("the tracing pipelines still hold records after the run")
            time.sleep(0.1)

    def wait_until_forgotten(self, timeout: float = 120.0) -> None:
        """Wait until the scheduler holds no task, as after a run whose results were dropped."""
        deadline = time.monotonic() + timeout
        while self.client.run_on_scheduler(_scheduler_task_count):
            if time.monotonic() > deadline:
                raise TimeoutError("the scheduler still holds tasks after the run")
            time.sleep(0.05)


def _install_options(configuration: Configuration, workdir: Path,
                     collector: Collector | None) -> dict[str, object]:
    options: dict[str, object] = {"output_dir": str(workdir / "traces"),
                                  **configuration.settings}
    if collector is not None:
        options["endpoint"] = collector.grpc_endpoint
    return options


@contextlib.contextmanager
def _local(configuration: Configuration, workdir: Path,
           collector: Collector | None) -> Iterator[Harness]:
    with LocalCluster(n_workers=N_WORKERS, threads_per_worker=THREADS_PER_WORKER,
                      processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        if configuration.traced:
            otel_dask_prov.install(client, **_install_options(configuration, workdir, collector))
        worker_pids = list(client.run(os.getpid).values())
        def stop() -> None:
            client.close()
            cluster.close()

        yield Harness("local", configuration, client, os.getpid(), worker_pids, collector, stop)


@contextlib.contextmanager
def _processes(configuration: Configuration, workdir: Path,
               collector: Collector | None) -> Iterator[Harness]:
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {"PYTHONPATH": python_path, **configuration.environment()}
    if collector is not None:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.grpc_endpoint
    cluster = DaskProcesses(workdir, n_workers=N_WORKERS, nthreads=THREADS_PER_WORKER, env=env,
                            preload=configuration.traced)
    try:
        cluster.start()
    except Exception as error:
        cluster.stop()
        raise RuntimeError(f"dask processes did not start:\n{cluster.logs()[-3000:]}") from error
    assert cluster.scheduler is not None
    try:
        with cluster.client() as client:
            def stop() -> None:
                client.close()
                cluster.stop()

            yield Harness("processes", configuration, client, cluster.scheduler.pid,
                          [worker.pid for worker in cluster.workers], collector, stop)
    finally:
        cluster.stop()


@contextlib.contextmanager
def running(kind: str, configuration: Configuration, workdir: Path) -> Iterator[Harness]:
    """Start a cluster of *kind* in *configuration* (and its collector); clean up after.

    Trace files are deleted at the end: the overhead runs only time tracing.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    # Every configuration sends the calling code with each submission, as install() asks.
    with dask.config.set({"distributed.diagnostics.computations.nframes": 1}), \
            contextlib.ExitStack() as stack:
        collector = stack.enter_context(Collector(workdir / "collector")) \
            if configuration.otlp else None
        start = _local if kind == "local" else _processes
        try:
            yield stack.enter_context(start(configuration, workdir, collector))
        finally:
            stack.close()
            shutil.rmtree(workdir, ignore_errors=True)
