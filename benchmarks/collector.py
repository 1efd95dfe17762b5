"""The real OpenTelemetry Collector (``otelcol-dask-prov``) as a benchmark receiver.

``scripts/build-otelcol`` builds (once, cached) and prints the binary; the
collector runs ``benchmarks/collector.yaml`` on free loopback ports and writes
what it receives to one OTLP JSON lines file, whose spans :func:`count_spans`
counts by record type.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Self

from otel_dask_prov import attributes as attr
from otel_dask_prov.convert.readers import decode_attributes, file_spans
from otel_dask_prov.demo.jaeger_services import terminate

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG = Path(__file__).with_name("collector.yaml")


class CollectorUnavailableError(RuntimeError):
    """The collector could not be built or did not start."""


def collector_binary() -> Path:
    """Path of ``otelcol-dask-prov``, built by ``scripts/build-otelcol`` if needed."""
    try:
        built = subprocess.run([str(REPO_ROOT / "scripts" / "build-otelcol")],
                               capture_output=True, text=True, check=False)
    except OSError as error:
        raise CollectorUnavailableError(f"cannot run scripts/build-otelcol: {error}") from None
    if built.returncode != 0:
        raise CollectorUnavailableError(f"scripts/build-otelcol failed: {built.stderr.strip()[-500:]}")
    return Path(built.stdout.strip().splitlines()[-1])


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Collector:
    """One collector process writing to ``<workdir>/traces.jsonl``; a context manager."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.traces_file = workdir / "traces.jsonl"
        self.log_file = workdir / "collector.log"
        self.grpc_port, self.http_port, self.health_port = _free_ports(3)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30.0) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "OTEL_DASK_PROV_OTLP_GRPC_PORT": str(self.grpc_port),
            "OTEL_DASK_PROV_OTLP_HTTP_PORT": str(self.http_port),
            "OTEL_DASK_PROV_HEALTH_PORT": str(self.health_port),
            "OTEL_DASK_PROV_TRACES_FILE": str(self.traces_file),
        }
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                [str(collector_binary()), f"--config={CONFIG}"],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CollectorUnavailableError(f"collector exited: {self.log_file.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/", timeout=1):
                    return self
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        self.stop()
        raise CollectorUnavailableError(f"collector not healthy after {timeout:.0f} s")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (the file exporter flushes), SIGKILL after *timeout*."""
        if self.process is not None:
            terminate(self.process, timeout)
        self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def count_spans(paths: list[Path]) -> Counter[str]:
    """Spans in OTLP JSON lines files, counted by ``dask.record.type`` (and ``"total"``),
    read with the converter's reader."""
    counts: Counter[str] = Counter()
    for _, span in file_spans(paths):
        counts["total"] += 1
        counts[str(decode_attributes(span.attributes).get(attr.RECORD_TYPE, "?"))] += 1
    return counts
