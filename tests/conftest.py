"""Fixtures for the tests that need the real OpenTelemetry Collector or Jaeger.

Both are real binaries, built once per machine by ``scripts/build-otelcol`` and
``scripts/build-jaeger`` (cached in ``~/.cache/otel-dask-prov/``); without Go the
upstream images run through testcontainers, and without Docker either the tests
are skipped, saying why (:func:`tests.support.collector.locate`).

A test asks for what it needs:

``collector``
    Its share of the one collector the session runs with ``local.yaml``
    (:class:`~tests.support.collector.CollectorShare`): the test's processes
    get ``collector.resource_env`` and the test sees only their spans.
``start_collector``
    A collector of its own, for a test that stops, kills or restarts it, or
    runs another config (TLS and a token, agent and gateway, a Jaeger to feed).
``jaeger``
    The one Jaeger of the session; a test looks its traces up by trace id.
``otelcol_runner``, ``jaeger_runner``
    How to run the binaries, for a test that runs them itself (``validate``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.support.collector import (
    JAEGER_IMAGE,
    OTELCOL_IMAGE,
    Collector,
    CollectorShare,
    Runner,
    ServiceError,
    locate,
)
from tests.support.jaeger import Jaeger


@pytest.fixture(scope="session")
def otelcol_runner() -> Runner:
    """How to run the collector in this session (built binary, else image, else skip)."""
    return locate("build-otelcol", OTELCOL_IMAGE)


@pytest.fixture(scope="session")
def jaeger_runner() -> Runner:
    """How to run Jaeger in this session (built binary, else image, else skip)."""
    return locate("build-jaeger", JAEGER_IMAGE)


@pytest.fixture(scope="session")
def session_collector(
    otelcol_runner: Runner, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Collector]:
    """The collector the session shares: ``local.yaml`` (environment ``local``)."""
    collector = Collector(otelcol_runner, "local.yaml", tmp_path_factory.mktemp("session-collector"))
    collector.start()
    yield collector
    collector.stop()


@pytest.fixture
def collector(session_collector: Collector, request: pytest.FixtureRequest) -> CollectorShare:
    """This test's share of the session's collector, under a ``service.namespace`` of its own."""
    if not session_collector.running:
        raise ServiceError(f"the session's collector has died:\n{session_collector.log_tail()}")
    namespace = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    return CollectorShare(session_collector, f"{namespace}-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def start_collector(otelcol_runner: Runner, tmp_path: Path) -> Iterator[Callable[..., Collector]]:
    """``start_collector(config, env=None, name="collector")`` -> a healthy collector of the test's own.

    Every collector started through it is stopped at the end of the test.
    """
    started: list[Collector] = []

    def start(
        config: str | Path, env: Mapping[str, str] | None = None, *, name: str = "collector"
    ) -> Collector:
        collector = Collector(otelcol_runner, config, tmp_path / name, env, name=name, mounts=[tmp_path])
        started.append(collector)
        collector.start()
        return collector

    yield start
    for collector in reversed(started):
        collector.stop()


@pytest.fixture(scope="session")
def jaeger(jaeger_runner: Runner, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jaeger]:
    """One Jaeger for the session (in-memory storage: it holds the traces of every test)."""
    service = Jaeger(jaeger_runner, tmp_path_factory.mktemp("jaeger"))
    service.start()
    yield service
    service.stop()
