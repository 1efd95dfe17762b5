"""``docker-compose.yml`` is a valid Compose file wired to our real configs.

There is no Docker engine on the development machines, so the file is checked
offline: parsed and validated against the Compose specification (the
``compose-spec`` package), then checked for what the stack needs to work:
files it mounts exist, the collector runs ``collector-config/local.yaml`` and
writes its trace file onto a volume, Jaeger runs ``jaeger.yaml``, and the
scheduler and both workers preload ``otel_dask_prov`` and export to the
collector.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.collector import REPO_ROOT

compose_spec = pytest.importorskip("compose_spec", reason="needs the compose-spec package (pip install -e '.[test]')")
tomllib = pytest.importorskip("tomllib", reason="reads pyproject.toml with tomllib (Python 3.11+)")

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DASK_SERVICES = ("scheduler", "worker-1", "worker-2")
PROVIDED_BY_THE_DASK_IMAGE = {"dask", "distributed", "click", "psutil", "numpy"}
"""Runtime dependencies of otel-dask-prov that the Dask image already has."""


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # PyYAML resolves the `<<:` merge keys the way Compose does.
    return yaml.safe_load(COMPOSE_FILE.read_text())


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """``(source, target)`` of each short-syntax volume of *service*."""
    return [tuple(volume.split(":")[:2]) for volume in service.get("volumes", [])]  # type: ignore[misc]


def test_the_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    parsed = compose_spec.PyCompose.from_json(json.dumps(compose))
    parsed.validate()
    assert set(parsed.service_names()) >= {"collector", "jaeger", *DASK_SERVICES}


def test_every_mounted_local_file_exists(compose: dict[str, Any]) -> None:
    sources = [
        source
        for service in compose["services"].values()
        for source, _ in volume_mounts(service)
        if source.startswith(".")
    ]
    assert sources
    missing = [source for source in sources if not (REPO_ROOT / source).exists()]
    assert not missing


def test_named_volumes_and_dependencies_are_declared(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for source, _ in volume_mounts(service):
            if not source.startswith((".", "/")):
                assert source in compose["volumes"], f"{name} mounts undeclared volume {source}"
        assert set(service.get("depends_on", {})) <= set(services), name


def mounted_config(service: dict[str, Any]) -> Path:
    """The repository file that *service* receives as its ``--config``."""
    (argument,) = [arg for arg in service["command"] if arg.startswith("--config=")]
    target = argument.removeprefix("--config=")
    (source,) = [source for source, mount in volume_mounts(service) if mount == target]
    return (REPO_ROOT / source).resolve()


def test_the_collector_runs_local_yaml_and_writes_the_traces_on_a_volume(compose: dict[str, Any]) -> None:
    collector = compose["services"]["collector"]
    assert collector["image"].startswith("otel/opentelemetry-collector-contrib:")
    assert mounted_config(collector) == REPO_ROOT / "collector-config" / "local.yaml"
    traces_file = collector["environment"]["OTEL_DASK_PROV_TRACES_FILE"]
    volume_dirs = [target for source, target in volume_mounts(collector) if source in compose["volumes"]]
    assert any(traces_file.startswith(directory + "/") for directory in volume_dirs)
    jaeger_host, jaeger_port = collector["environment"]["OTEL_DASK_PROV_JAEGER_ENDPOINT"].split(":")
    assert jaeger_host == "jaeger"
    jaeger_env = compose["services"]["jaeger"].get("environment", {})
    assert jaeger_port == jaeger_env.get("OTEL_DASK_PROV_JAEGER_OTLP_GRPC_PORT", "14317")


def test_jaeger_runs_jaeger_yaml(compose: dict[str, Any]) -> None:
    assert mounted_config(compose["services"]["jaeger"]) == REPO_ROOT / "collector-config" / "jaeger.yaml"


@pytest.mark.parametrize("name", DASK_SERVICES)
def test_dask_processes_preload_the_plugin_and_export_to_the_collector(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    command = service["command"]
    assert command[:2] == ["dask", "scheduler" if name == "scheduler" else "worker"]
    assert command[command.index("--preload") + 1] == "otel_dask_prov"
    environment = service["environment"]
    assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4317"
    assert environment["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    assert "collector" in service["depends_on"]


def test_the_dask_image_gets_every_runtime_dependency(compose: dict[str, Any]) -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    needed = {re.split(r"[<>=!~ \[;]", requirement)[0].lower() for requirement in pyproject["project"]["dependencies"]}
    for name in DASK_SERVICES:
        installed = set(compose["services"][name]["environment"]["EXTRA_PIP_PACKAGES"].split())
        assert needed - PROVIDED_BY_THE_DASK_IMAGE <= installed, name


def test_published_ports_are_on_loopback_only(compose: dict[str, Any]) -> None:
    ports = [port for service in compose["services"].values() for port in service.get("ports", [])]
    assert ports
    assert all(str(port).startswith("127.0.0.1:") for port in ports), ports
