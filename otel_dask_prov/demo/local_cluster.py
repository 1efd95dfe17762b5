"""A scheduler and workers as real ``dask scheduler`` / ``dask worker`` processes.

Used by ``otel-prov demo`` and by the test suite: each process is started with
``--preload otel_dask_prov`` (unless told otherwise) and writes its log to a file.

>>> with DaskProcesses(Path("run"), n_workers=2) as cluster:     # doctest: +SKIP
...     with cluster.client() as client:
...         assert client.submit(sum, [1, 2]).result() == 3
...     cluster.stop()                       # graceful: every span is flushed
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from distributed import Client


def dask_command() -> list[str]:
    """The ``dask`` CLI of the interpreter running the tests."""
    candidate = Path(sys.executable).with_name("dask")
    return [str(candidate)] if candidate.exists() else ["dask"]


class DaskProcesses:
    """A scheduler and workers as separate processes, each with ``--preload otel_dask_prov``.

    Every process writes its log to ``<workdir>/logs/<name>.log``; by default spans
    go to ``<workdir>/traces`` (the local-file default), unless *env* sets an endpoint.
    The processes ask clients for their calling code (``nframes=1``) so that
    computation spans can show it.
    """

    def __init__(
        self,
        workdir: Path,
        n_workers: int = 2,
        nthreads: int = 1,
        env: Mapping[str, str] | None = None,
        preload: bool = True,
        preload_args: Sequence[str] = (),
        nanny: bool = False,
        scheduler_command: Sequence[str] | None = None,
        worker_command: Sequence[str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.trace_dir = self.workdir / "traces"
        self.log_dir = self.workdir / "logs"
        self.scheduler_file = self.workdir / "scheduler.json"
        self.n_workers = n_workers
        self.nthreads = nthreads
        self.preload = preload
        self.preload_args = list(preload_args)
        self.nanny = nanny
        self.scheduler_command = list(scheduler_command or [*dask_command(), "scheduler"])
        self.worker_command = list(worker_command or [*dask_command(), "worker"])
        self.env = {
            **os.environ,
            "OTEL_DASK_PROV_OUTPUT_DIR": str(self.trace_dir),
            "DASK_DISTRIBUTED__DIAGNOSTICS__COMPUTATIONS__NFRAMES": "1",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []

    # -- starting -------------------------------------------------------
    def __enter__(self) -> DaskProcesses:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _preload(self) -> list[str]:
        return ["--preload", "otel_dask_prov", *self.preload_args] if self.preload else []

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - the process keeps it
        return subprocess.Popen(
            args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
            start_new_session=True,
        )

    def start(self, timeout: float = 60) -> None:
        self.start_scheduler(timeout)
        for index in range(self.n_workers):
            self.add_worker(index)
        if self.n_workers:
            with self.client() as client:
                client.wait_for_workers(self.n_workers, timeout=timeout)

    def start_scheduler(self, timeout: float = 60, name: str = "scheduler") -> None:
        """Start the scheduler (again, after :meth:`kill_scheduler`); its log is *name*.log."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.scheduler_file.unlink(missing_ok=True)
        self.scheduler = self._spawn(name, [
            *self.scheduler_command, "--host", "127.0.0.1", "--port", "0",
            "--dashboard-address", ":0", "--scheduler-file", str(self.scheduler_file),
            *self._preload(),
        ])
        self._wait_for_scheduler_file(timeout)

    def add_worker(self, index: int | None = None) -> subprocess.Popen[bytes]:
        index = len(self.workers) if index is None else index
        nanny = ["--nanny"] if self.nanny else ["--no-nanny"]
        worker = self._spawn(f"worker-{index}", [
            *self.worker_command, "--scheduler-file", str(self.scheduler_file),
            "--nthreads", str(self.nthreads), "--host", "127.0.0.1", "--no-dashboard",
            "--name", f"worker-{index}", *nanny, *self._preload(),
        ])
        self.workers.append(worker)
        return worker

    def _wait_for_scheduler_file(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.scheduler is not None
            if self.scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited early:\n{self.log('scheduler')}")
            if self.scheduler_file.exists():
                try:
                    json.loads(self.scheduler_file.read_text())
                    return
                except ValueError:
                    pass
            time.sleep(0.1)
        raise TimeoutError(f"dask scheduler did not start:\n{self.log('scheduler')}")

    @property
    def address(self) -> str:
        return str(json.loads(self.scheduler_file.read_text())["address"])

    def client(self) -> Client:
        return Client(self.address, timeout=30)

    # -- stopping -------------------------------------------------------
    def kill_worker(self, index: int) -> None:
        """SIGKILL one worker: nothing of it is flushed, as with a crashed node."""
        worker = self.workers[index]
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)

    def kill_scheduler(self) -> None:
        """SIGKILL the scheduler: nothing of it is flushed, as with a crashed node."""
        assert self.scheduler is not None
        os.killpg(self.scheduler.pid, signal.SIGKILL)
        self.scheduler.wait(10)

    def stop(self, timeout: float = 60) -> None:
        """Stop workers, then the scheduler, gracefully (SIGTERM), so spans are flushed."""
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            self._wait_or_kill(process, timeout)
        if self.scheduler is not None and self.scheduler.poll() is None:
            self.scheduler.send_signal(signal.SIGTERM)
            self._wait_or_kill(self.scheduler, timeout)

    @staticmethod
    def _wait_or_kill(process: subprocess.Popen[bytes], timeout: float) -> None:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        """Every process's log, for assertions and failure messages."""
        return "\n".join(
            f"--- {path.stem}\n{path.read_text(errors='replace')}"
            for path in sorted(self.log_dir.glob("*.log"))
        )
