"""The real OpenTelemetry Collector and Jaeger (with its web UI) for ``otel-prov demo --jaeger``.

Everything comes from the source checkout: the binaries and the UI are built
(once, cached outside the repository) by ``scripts/build-otelcol``,
``scripts/build-jaeger`` and ``scripts/build-jaeger-ui``, and run with
``collector-config/local.yaml`` and ``collector-config/jaeger.yaml``::

    dask processes --OTLP/gRPC--> collector (local.yaml) --> <workdir>/collector/traces.jsonl
                                                  └--OTLP/gRPC--> Jaeger (jaeger.yaml) --> UI

Both run as subprocesses in sessions of their own, so that a Ctrl-C in the
terminal reaches only the demo, which then stops the collector first (it
flushes into Jaeger) and Jaeger last.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OtelDaskProvError

SOURCE_ROOT = Path(__file__).resolve().parents[2]
"""The source checkout holding ``scripts/`` and ``collector-config/`` (when there is one)."""

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
LOOPBACK_ENV = {"no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
"""The services are on loopback: no proxy of the environment may stand in between."""


def source_file(relative: str) -> Path:
    """A file of the source checkout, or an error saying that ``--jaeger`` needs one."""
    path = SOURCE_ROOT / relative
    if not path.exists():
        raise OtelDaskProvError(
            f"--jaeger needs the project's source checkout ({relative} is not under {SOURCE_ROOT}); "
            "run it from a clone with scripts/demo --jaeger"
        )
    return path


def build(script: str) -> tuple[Path, float]:
    """Run ``scripts/<script>`` (cached builds; progress on our stderr): what it printed last, and seconds."""
    started = time.monotonic()
    script_path = source_file(f"scripts/{script}")
    done = subprocess.run([str(script_path)], stdout=subprocess.PIPE, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise OtelDaskProvError(f"scripts/{script} failed (exit {done.returncode}); its messages are above")
    return Path(lines[-1]), time.monotonic() - started


def free_port(preferred: int = 0) -> int:
    """*preferred* if it is free on 127.0.0.1 (0: none), else any free port."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OtelDaskProvError("no free TCP port on 127.0.0.1")


def http_json(url: str, timeout: float = 5.0) -> Any:
    with _DIRECT.open(url, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class Service:
    """A collector-like binary run with one config, its log in a file, healthy once *health_url* answers."""

    name: str
    binary: Path
    config: Path
    env: Mapping[str, str]
    log_path: Path
    health_url: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 60.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), f"--config={self.config}"], env={**os.environ, **LOOPBACK_ENV, **self.env},
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise OtelDaskProvError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
            try:
                _DIRECT.open(self.health_url, timeout=1).close()
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        self.stop()
        raise OtelDaskProvError(f"{self.name} was not healthy after {timeout:.0f} s; see {self.log_path}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (exporters flush), SIGKILL after *timeout*."""
        if self.process is not None:
            terminate(self.process, timeout)
        self.process = None


def terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Stop a collector or Jaeger process: SIGTERM (its exporters flush), SIGKILL after *timeout*."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

@dataclass
class CollectorAndJaeger:
    """The demo's collector and Jaeger: start with :meth:`start`, stop with :meth:`stop`."""

    collector: Service
    jaeger: Service
    otlp_grpc_endpoint: str
    """``http://127.0.0.1:<port>`` of the collector, for ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
    ui_url: str
    traces_file: Path
    build_seconds: float

    @property
    def dask_env(self) -> dict[str, str]:
        """Environment of the Dask processes: export to the collector over gRPC."""
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp_grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", **LOOPBACK_ENV}

    def start(self) -> None:
        self.jaeger.start()
        try:
            self.collector.start()
        except BaseException:
            self.jaeger.stop()
            raise

    def stop(self) -> None:
        """The collector first (it flushes into Jaeger), then Jaeger."""
        self.collector.stop()
        self.jaeger.stop()

    def trace_url(self, trace_id: str) -> str:
        return f"{self.ui_url}/trace/{trace_id}"

    def spans_in_jaeger(self, trace_id: str) -> int:
        try:
            data = http_json(f"{self.ui_url}/api/traces/{trace_id}")["data"]
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            return 0
        return len(data[0]["spans"]) if data else 0

    def wait_for_traces(self, expected: Mapping[str, int], timeout: float = 60.0) -> dict[str, int]:
        """Poll Jaeger until each trace id holds its expected number of spans; what it holds."""
        deadline = time.monotonic() + timeout
        while True:
            found = {trace_id: self.spans_in_jaeger(trace_id) for trace_id in expected}
            if all(found[trace_id] >= count for trace_id, count in expected.items()) \
                    or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


def prepare(workdir: Path, ui_port: int = 16686) -> CollectorAndJaeger:
    """Build (cached) the collector, Jaeger and its UI; configure them on free loopback ports.

    The UI is on *ui_port* when it is free (0: any free port).
    """
    started = time.monotonic()
    otelcol, _ = build("build-otelcol")
    jaeger, _ = build("build-jaeger")
    ui_assets, _ = build("build-jaeger-ui")
    build_seconds = time.monotonic() - started
    config_dir = source_file("collector-config")
    query_port = free_port(ui_port)
    j_grpc, j_http, j_qgrpc, j_health, j_metrics = (free_port() for _ in range(5))
    c_grpc, c_http, c_health, c_metrics = (free_port() for _ in range(4))
    traces_file = workdir / "collector" / "traces.jsonl"
    jaeger_service = Service(
        "jaeger", jaeger, config_dir / "jaeger.yaml",
        {
            "OTEL_DASK_PROV_JAEGER_HOST": "127.0.0.1",
            "OTEL_DASK_PROV_JAEGER_OTLP_GRPC_PORT": str(j_grpc),
            "OTEL_DASK_PROV_JAEGER_OTLP_HTTP_PORT": str(j_http),
            "OTEL_DASK_PROV_JAEGER_QUERY_HTTP_PORT": str(query_port),
            "OTEL_DASK_PROV_JAEGER_QUERY_GRPC_PORT": str(j_qgrpc),
            "OTEL_DASK_PROV_JAEGER_HEALTH_PORT": str(j_health),
            "OTEL_DASK_PROV_JAEGER_METRICS_PORT": str(j_metrics),
            "OTEL_DASK_PROV_JAEGER_UI_ASSETS": str(ui_assets),
        },
        workdir / "logs" / "jaeger.log", f"http://127.0.0.1:{j_health}/status",
    )
    collector_service = Service(
        "collector", otelcol, config_dir / "local.yaml",
        {
            "OTEL_DASK_PROV_COLLECTOR_HOST": "127.0.0.1",
            "OTEL_DASK_PROV_OTLP_GRPC_PORT": str(c_grpc),
            "OTEL_DASK_PROV_OTLP_HTTP_PORT": str(c_http),
            "OTEL_DASK_PROV_HEALTH_PORT": str(c_health),
            "OTEL_DASK_PROV_METRICS_PORT": str(c_metrics),
            "OTEL_DASK_PROV_TRACES_FILE": str(traces_file),
            "OTEL_DASK_PROV_LOGS_FILE": str(traces_file.with_name("logs.jsonl")),
            "OTEL_DASK_PROV_JAEGER_ENDPOINT": f"127.0.0.1:{j_grpc}",
        },
        workdir / "logs" / "collector.log", f"http://127.0.0.1:{c_health}/",
    )
    return CollectorAndJaeger(
        collector_service, jaeger_service, f"http://127.0.0.1:{c_grpc}",
        f"http://127.0.0.1:{query_port}", traces_file, build_seconds,
    )


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """A SIGTERM ends the wait like a Ctrl-C does (the services are stopped cleanly either way)."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve_until_interrupted(services: CollectorAndJaeger, poll: float = 1.0) -> str:
    """Block until Ctrl-C (or SIGTERM) or until a service dies; say which."""
    with sigterm_as_interrupt():
        try:
            while True:
                for service in (services.jaeger, services.collector):
                    if not service.running:
                        return f"{service.name} stopped by itself; see {service.log_path}"
                time.sleep(poll)
        except KeyboardInterrupt:
            return "interrupted"
