"""Run Jaeger v2 (built by ``scripts/build-jaeger``) in tests and query its API.

:class:`Jaeger` runs ``collector-config/jaeger.yaml`` on free loopback ports;
point a collector at it with ``OTEL_DASK_PROV_JAEGER_ENDPOINT =
jaeger.otlp_grpc_address``, then ask the HTTP query API::

    def test_trace_in_jaeger(jaeger, start_collector):
        collector = start_collector(
            "local.yaml", {"OTEL_DASK_PROV_JAEGER_ENDPOINT": jaeger.otlp_grpc_address})
        ...
        trace = jaeger.wait_for_trace(
            "dask-worker",
            lambda trace: same_trace_id(trace["traceID"], trace_id) and len(trace["spans"]) > 3)

The ``jaeger`` fixture (``tests/conftest.py``) is one Jaeger for the whole
session: its storage holds the traces of every test that used it, so a test
looks its own up by trace id.  ``Jaeger(runner, workdir, ui_assets=...)``
serves the web UI built by ``scripts/build-jaeger-ui`` (:func:`ui_assets`)
at :attr:`Jaeger.query_url`.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .collector import JAEGER_IMAGE as JAEGER_IMAGE  # the image the container runner runs
from .collector import (
    SCRIPTS_DIR,
    BinaryRunner,
    Runner,
    Service,
    ServiceError,
    config_path,
    free_ports,
    http_get,
)

JaegerTrace = dict[str, Any]
"""One trace as ``/api/traces`` returns it: ``traceID``, ``spans`` (with
``references`` and ``tags``) and ``processes`` (with ``serviceName``)."""


def same_trace_id(jaeger_id: str, otlp_id: str) -> bool:
    """Whether a Jaeger trace id names the OTLP one (Jaeger drops leading zeros)."""
    return int(jaeger_id, 16) == int(otlp_id, 16)


def ui_assets(runner: Runner) -> Path | None:
    """The web UI that ``scripts/build-jaeger-ui`` builds (cached), for a Jaeger binary.

    ``None`` for the container image, which serves its own UI.  Skips the test
    when Node/npm or the UI's source archive is missing (the script says which);
    any other failure of the build is an error.
    """
    if not isinstance(runner, BinaryRunner):
        return None
    build = subprocess.run(
        [str(SCRIPTS_DIR / "build-jaeger-ui")], capture_output=True, text=True, check=False
    )
    if build.returncode in (2, 127):  # no archive, no Node: nothing to build the UI from
        pytest.skip(f"cannot build the Jaeger UI: {build.stderr.strip()}")
    if build.returncode != 0:
        raise ServiceError(f"scripts/build-jaeger-ui failed ({build.returncode}):\n{build.stderr[-3000:]}")
    return Path(build.stdout.strip().splitlines()[-1])


class Jaeger(Service):
    """Jaeger v2 with in-memory storage, its OTLP receiver, its query API and (*ui_assets*) its UI."""

    name = "jaeger"

    def __init__(self, runner: Runner, workdir: Path, ui_assets: Path | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        (self.otlp_grpc_port, self.otlp_http_port, self.query_http_port,
         self.query_grpc_port, self.health_port, self.metrics_port) = free_ports(6)
        self.health_url = f"http://127.0.0.1:{self.health_port}/status"
        env = {
            "OTEL_DASK_PROV_JAEGER_HOST": "127.0.0.1",
            "OTEL_DASK_PROV_JAEGER_OTLP_GRPC_PORT": str(self.otlp_grpc_port),
            "OTEL_DASK_PROV_JAEGER_OTLP_HTTP_PORT": str(self.otlp_http_port),
            "OTEL_DASK_PROV_JAEGER_QUERY_HTTP_PORT": str(self.query_http_port),
            "OTEL_DASK_PROV_JAEGER_QUERY_GRPC_PORT": str(self.query_grpc_port),
            "OTEL_DASK_PROV_JAEGER_HEALTH_PORT": str(self.health_port),
            "OTEL_DASK_PROV_JAEGER_METRICS_PORT": str(self.metrics_port),
        }
        if ui_assets is not None:
            env["OTEL_DASK_PROV_JAEGER_UI_ASSETS"] = str(ui_assets)
        super().__init__(runner, config_path("jaeger.yaml"), workdir, env)

    @property
    def otlp_grpc_address(self) -> str:
        """``host:port`` of the OTLP/gRPC receiver, as the collector configs want it."""
        return f"127.0.0.1:{self.otlp_grpc_port}"

    @property
    def query_url(self) -> str:
        return f"http://127.0.0.1:{self.query_http_port}"

    def get(self, path: str, **params: str) -> Any:
        """GET a query API path and return the decoded JSON."""
        url = f"{self.query_url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        return json.loads(http_get(url))

    def services(self) -> list[str]:
        """Names of the services that sent spans (``/api/services``)."""
        return list(self.get("/api/services")["data"] or [])

    def traces(self, service: str) -> list[JaegerTrace]:
        """Traces holding spans of *service* (``/api/traces?service=...``)."""
        return list(self.get("/api/traces", service=service, limit="100", lookback="1h")["data"] or [])

    def trace(self, trace_id: str) -> JaegerTrace:
        """One whole trace (``/api/traces/{id}``)."""
        return dict(self.get(f"/api/traces/{trace_id}")["data"][0])

    def wait_for_trace(
        self, service: str, done: Callable[[JaegerTrace], bool], timeout: float = 30.0
    ) -> JaegerTrace:
        """Poll until a trace of *service* satisfies ``done(trace)``; fail with what arrived."""
        deadline = time.monotonic() + timeout
        while True:
            if service in self.services():
                for found in self.traces(service):
                    if done(found):
                        return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no matching trace of {service!r} in Jaeger after {timeout:.0f} s; "
                    f"services: {self.services()}\n{self.log_tail()}"
                )
            time.sleep(0.5)
