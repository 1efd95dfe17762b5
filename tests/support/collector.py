"""Run the real OpenTelemetry Collector in tests, and read what it wrote.

The collector is our own distribution, ``otelcol-dask-prov``, built (once per
machine, cached) by ``scripts/build-otelcol``.  Without Go, the upstream
``otel/opentelemetry-collector-contrib`` image is run instead through
testcontainers when a Docker engine is reachable; without either the tests
that need a collector are skipped, saying why.

Each :class:`Collector` runs one config of ``collector-config/`` on free
loopback ports chosen here and passed through the ``OTEL_DASK_PROV_*``
variables the configs read, writes its trace file and its log into a
directory of the test, and can be stopped, killed and restarted::

    def test_spans_arrive(start_collector):
        collector = start_collector("local.yaml")
        ...  # send spans to collector.grpc_endpoint
        spans = collector.wait_for_spans(lambda spans: len(spans) >= 3)
        assert {span.service for span in spans} == {"dask-scheduler", "dask-worker"}

Most tests need no collector of their own: a :class:`CollectorShare` is their
part of one collector the whole session shares, told apart by the
``service.namespace`` their processes put on their spans.  The fixtures
(``collector``, ``start_collector``, ``otelcol_runner``, ...) are in
``tests/conftest.py``.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from .traces import Span, read_spans

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / "collector-config"
SCRIPTS_DIR = REPO_ROOT / "scripts"

OTELCOL_IMAGE = "otel/opentelemetry-collector-contrib:0.145.0"
JAEGER_IMAGE = "jaegertracing/jaeger:2.15.0"

START_TIMEOUT = 30.0
"""Seconds a service gets to answer its health check."""
STOP_TIMEOUT = 15.0
"""Seconds a service gets to shut down cleanly before it is killed."""
SERVICE_NAMESPACE = "service.namespace"
"""The resource attribute that tells the tests sharing a collector apart."""


class ServiceError(RuntimeError):
    """A collector or Jaeger process did not start, or died."""


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 5.0) -> bytes:
    """GET *url* directly, ignoring any ``http_proxy`` of the environment."""
    with _DIRECT.open(url, timeout=timeout) as response:
        return bytes(response.read())


# ---------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------
def free_ports(count: int) -> list[int]:
    """*count* distinct TCP ports that are free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# ---------------------------------------------------------------------------
# Runners: how a service binary is started (local binary or container image)
# ---------------------------------------------------------------------------
class Handle(Protocol):
    """The running service, as far as the tests need it (a ``Popen`` subset)."""

    def poll(self) -> int | None: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...
    def wait(self, timeout: float | None = None) -> int: ...


class Runner(Protocol):
    """Starts the service with command-line *args* and environment *env*."""

    description: str

    def start(
        self, args: Sequence[str], env: Mapping[str, str], log_path: Path, mounts: Sequence[Path]
    ) -> Handle: ...

    def run(
        self, args: Sequence[str], env: Mapping[str, str], mounts: Sequence[Path]
    ) -> subprocess.CompletedProcess[str]: ...


@dataclass(frozen=True)
class BinaryRunner:
    """A service binary on this machine, started as a subprocess."""

    binary: Path

    @property
    def description(self) -> str:
        return str(self.binary)

    def start(
        self, args: Sequence[str], env: Mapping[str, str], log_path: Path, mounts: Sequence[Path]
    ) -> Handle:
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                [str(self.binary), *args],
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def run(
        self, args: Sequence[str], env: Mapping[str, str], mounts: Sequence[Path]
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


class _ContainerHandle:
    """A started testcontainers container seen through the :class:`Handle` API."""

    def __init__(self, container: Any, log_path: Path) -> None:
        self._container = container
        self._log_path = log_path
        self._exit_code: int | None = None

    def poll(self) -> int | None:
        if self._exit_code is None:
            wrapped = self._container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status in ("exited", "dead"):
                self._finish(int(wrapped.attrs["State"]["ExitCode"]))
        return self._exit_code

    def terminate(self) -> None:
        if self.poll() is None:
            self._container.get_wrapped_container().kill(signal="SIGTERM")

    def kill(self) -> None:
        if self.poll() is None:
            self._container.get_wrapped_container().kill(signal="SIGKILL")

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("docker container", timeout or 0)
            time.sleep(0.1)
        assert self._exit_code is not None
        return self._exit_code

    def _finish(self, exit_code: int) -> None:
        self._exit_code = exit_code
        self._log_path.write_bytes(self._container.get_wrapped_container().logs())
        self._container.get_wrapped_container().remove(force=True)


@dataclass(frozen=True)
class ContainerRunner:
    """An upstream image run through testcontainers.

    The container shares the host's network (so it binds the same
    127.0.0.1 ports as a local binary would), runs as the current user, and
    sees each directory in *mounts* at the same path as the host does, so that
    configs, certificates and trace files are where the tests expect them.
    """

    image: str

    @property
    def description(self) -> str:
        return f"image {self.image} (testcontainers)"

    def _container(self, args: Sequence[str], env: Mapping[str, str], mounts: Sequence[Path]) -> Any:
        from testcontainers.core.container import DockerContainer

        container = DockerContainer(self.image).with_command(list(args))
        container = container.with_kwargs(network_mode="host", user=f"{os.getuid()}:{os.getgid()}")
        for name, value in env.items():
            container = container.with_env(name, value)
        for directory in {CONFIG_DIR, *mounts}:
            container = container.with_volume_mapping(str(directory), str(directory), "rw")
        return container

    def start(
        self, args: Sequence[str], env: Mapping[str, str], log_path: Path, mounts: Sequence[Path]
    ) -> Handle:
        return _ContainerHandle(self._container(args, env, mounts).start(), log_path)

    def run(
        self, args: Sequence[str], env: Mapping[str, str], mounts: Sequence[Path]
    ) -> subprocess.CompletedProcess[str]:
        container = self._container(args, env, mounts).start()
        wrapped = container.get_wrapped_container()
        try:
            exit_code = int(wrapped.wait(timeout=60)["StatusCode"])
            return subprocess.CompletedProcess(
                [self.image, *args],
                exit_code,
                wrapped.logs(stdout=True, stderr=False).decode(),
                wrapped.logs(stdout=False, stderr=True).decode(),
            )
        finally:
            wrapped.remove(force=True)


def _docker_unreachable_reason() -> str | None:
    """``None`` when a Docker engine answers; otherwise why it cannot be used."""
    try:
        import docker
        import testcontainers.core.container  # noqa: F401
    except ImportError as error:
        return f"the Python package {error.name!r} is not installed (pip install -e '.[test]')"
    try:
        docker.from_env().ping()
    except Exception as error:  # noqa: BLE001 - any failure to reach the engine means "no Docker"
        return f"no Docker engine is reachable ({type(error).__name__}: {error})"
    return None


@functools.cache
def locate(script: str, image: str) -> Runner:
    """The way to run a service: build it with *script*, else use *image*, else skip.

    With Go on ``PATH`` the build script must succeed (a broken build is a
    failure, not a skip).  The result is cached for the test session; the
    script itself caches the binary across sessions.
    """
    if shutil.which("go"):
        build = subprocess.run(
            [str(SCRIPTS_DIR / script)], capture_output=True, text=True, check=False
        )
        if build.returncode != 0:
            raise ServiceError(f"scripts/{script} failed ({build.returncode}):\n{build.stderr[-3000:]}")
        return BinaryRunner(Path(build.stdout.strip().splitlines()[-1]))
    docker_problem = _docker_unreachable_reason()
    if docker_problem is None:
        return ContainerRunner(image)
    pytest.skip(
        f"needs Go to build it with scripts/{script} (go is not on PATH), "
        f"or Docker to run {image}: {docker_problem}"
    )


# ---------------------------------------------------------------------------
# A running service
# ---------------------------------------------------------------------------
class Service:
    """A collector-like process: start, wait until healthy, stop, kill, restart."""

    name: str
    health_url: str

    def __init__(
        self, runner: Runner, config: Path, workdir: Path, env: Mapping[str, str], mounts: Sequence[Path] = ()
    ) -> None:
        self.runner = runner
        self.config = config
        self.workdir = workdir
        self.env = dict(env)
        self.mounts = list(mounts) or [workdir]
        """Directories a container must see (the workdir, certificates...)."""
        self.log_path = workdir / f"{self.name}.log"
        self._handle: Handle | None = None

    @property
    def args(self) -> list[str]:
        return [f"--config={self.config}"]

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the process and return once its health check answers 200."""
        if self.running:
            raise ServiceError(f"{self.name} is already running")
        self._handle = self.runner.start(self.args, self.env, self.log_path, self.mounts)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            exit_code = self._handle.poll()
            if exit_code is not None:
                raise ServiceError(f"{self.name} exited with {exit_code} while starting:\n{self.log_tail()}")
            if self._healthy():
                return
            time.sleep(0.1)
        self.kill()
        raise ServiceError(f"{self.name} was not healthy after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop cleanly (SIGTERM, so exporters flush); kill after *timeout*."""
        if self._handle is None:
            return None
        self._handle.terminate()
        try:
            return self._handle.wait(timeout)
        except subprocess.TimeoutExpired:
            self._handle.kill()
            return self._handle.wait()
        finally:
            self._handle = None

    def kill(self) -> None:
        """Kill at once (SIGKILL): what a crash or an OOM kill looks like."""
        if self._handle is not None:
            self._handle.kill()
            self._handle.wait()
            self._handle = None


    @property
    def running(self) -> bool:
        return self._handle is not None and self._handle.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _healthy(self) -> bool:
        try:
            http_get(self.health_url, timeout=1)  # raises unless 2xx
        except (OSError, urllib.error.URLError):
            return False
        return True


class Collector(Service):
    """``otelcol-dask-prov`` (or the contrib image) running one of our configs.

    *config* is a file name in ``collector-config/`` or a path.  Ports and the
    trace file are chosen here; *env* adds or overrides ``OTEL_DASK_PROV_*``
    variables (certificates, token, Jaeger endpoint, ...).  Unless *env* names
    one, the Jaeger endpoint is a free port nobody listens on, so a test never
    sends to a Jaeger it did not start.  *mounts* are the directories holding
    the files named in *env* (default: *workdir*), for the container runner.
    *overrides* are ``--set`` options: config path (``processors.batch.timeout``)
    to value.
    """

    def __init__(
        self,
        runner: Runner,
        config: str | Path,
        workdir: Path,
        env: Mapping[str, str] | None = None,
        *,
        name: str = "collector",
        mounts: Sequence[Path] = (),
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.overrides = dict(overrides or {})
        workdir.mkdir(parents=True, exist_ok=True)
        self.grpc_port, self.http_port, self.health_port, self.metrics_port, unused = free_ports(5)
        self.traces_file = workdir / f"{name}-traces.jsonl"
        self.logs_file = workdir / f"{name}-logs.jsonl"
        """Where ``local.yaml`` and ``gateway.yaml`` write the tasks' log records."""
        self.health_url = f"http://127.0.0.1:{self.health_port}/"
        defaults = {
            "OTEL_DASK_PROV_COLLECTOR_HOST": "127.0.0.1",
            "OTEL_DASK_PROV_OTLP_GRPC_PORT": str(self.grpc_port),
            "OTEL_DASK_PROV_OTLP_HTTP_PORT": str(self.http_port),
            "OTEL_DASK_PROV_HEALTH_PORT": str(self.health_port),
            "OTEL_DASK_PROV_METRICS_PORT": str(self.metrics_port),
            "OTEL_DASK_PROV_TRACES_FILE": str(self.traces_file),
            "OTEL_DASK_PROV_LOGS_FILE": str(self.logs_file),
            "OTEL_DASK_PROV_JAEGER_ENDPOINT": f"127.0.0.1:{unused}",
        }
        super().__init__(runner, config_path(config), workdir, {**defaults, **(env or {})}, mounts)

    @property
    def args(self) -> list[str]:
        return [*super().args, *(f"--set={path}={value}" for path, value in self.overrides.items())]

    @property
    def tls(self) -> bool:
        """Whether the receivers want TLS (the config reads a server certificate)."""
        return "OTEL_DASK_PROV_TLS_CERT_FILE" in self.env

    @property
    def grpc_endpoint(self) -> str:
        """URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` with the gRPC protocol."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        """URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` with ``http/protobuf``."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.http_port}"

    def spans(self) -> list[Span]:
        """Every span in the trace file (which must be complete: stop the collector first)."""
        return read_spans([self.traces_file]) if self.traces_file.exists() else []

    def wait_for_spans(self, done: Callable[[list[Span]], bool], timeout: float = 30.0) -> list[Span]:
        """Poll the live trace file until ``done(spans)``; fail with what arrived."""
        return _poll_spans(self, self.spans, done, timeout)


class CollectorShare:
    """One test's part of the collector the session shares: the spans of its own namespace.

    The session runs one collector with ``local.yaml`` (which writes every span
    before it acknowledges it).  Each test gives its Dask processes
    :attr:`resource_env`, which puts its own ``service.namespace`` on their
    spans; :meth:`spans` and :meth:`wait_for_spans` see only the spans carrying
    it, so the tests that share the collector stay independent of each other
    and of their order::

        def test_spans_arrive(collector, tmp_path):
            env = {**otlp_env(collector.grpc_endpoint, "grpc"), **collector.resource_env}
            run_tree(DaskProcesses(tmp_path / "dask", env=env))  # stops: every span is sent
            assert_tree_trace(collector.wait_for_spans(tree_is_complete))

    The test cannot stop the collector to make it write everything, as it would
    its own; :meth:`wait_for_spans` waits for the file instead.
    """

    def __init__(self, collector: Collector, namespace: str) -> None:
        self.collector = collector
        self.namespace = namespace

    @property
    def resource_env(self) -> dict[str, str]:
        """Environment for the test's Dask processes: their spans carry its namespace."""
        return {"OTEL_RESOURCE_ATTRIBUTES": f"{SERVICE_NAMESPACE}={self.namespace}"}

    @property
    def grpc_endpoint(self) -> str:
        return self.collector.grpc_endpoint

    @property
    def http_endpoint(self) -> str:
        return self.collector.http_endpoint

    def spans(self) -> list[Span]:
        """The spans of this test's namespace in the trace file so far."""
        return [span for span in self.collector.spans()
                if span.resource.get(SERVICE_NAMESPACE) == self.namespace]

    def wait_for_spans(self, done: Callable[[list[Span]], bool], timeout: float = 30.0) -> list[Span]:
        """This test's spans, once ``done(spans)`` holds and the file holds all that was sent.

        Call it when the senders are done (the processes stopped, the replay
        finished): ``local.yaml`` writes every span before it acknowledges it,
        so the file then holds all the collector accepted, a span delivered
        twice included.
        """
        return _poll_spans(self.collector, self.spans, done, timeout)


def _poll_spans(
    collector: Collector,
    read: Callable[[], list[Span]],
    done: Callable[[list[Span]], bool],
    timeout: float,
) -> list[Span]:
    """``read()`` every quarter second until ``done(spans)``."""
    started = time.monotonic()
    spans: list[Span] = []
    while True:
        now = time.monotonic()
        try:
            spans = read()
        except ValueError:  # the exporter is writing the last line
            pass
        else:
            if done(spans):
                return spans
        if now - started > timeout:
            raise AssertionError(
                f"{collector.name}: after {timeout:.0f} s the trace file holds {len(spans)} such spans: "
                f"{sorted(span.name for span in spans)}\n{collector.log_tail()}"
            )
        time.sleep(0.25)


def config_path(config: str | Path) -> Path:
    """*config* as a path: a bare name means a file of ``collector-config/``."""
    path = Path(config)
    return path if path.is_absolute() else CONFIG_DIR / path
