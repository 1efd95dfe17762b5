"""The files of ``collector-config/`` are what the binaries accept.

Every collector config is checked by the collector's own ``validate``
subcommand (and Jaeger's by Jaeger's), with the variables a deployment sets;
the secured configs must refuse to run without their secrets; nothing listens
beyond the loopback interface unless told to; and the builder manifest keeps
every component on the version the build script installs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.support.collector import CONFIG_DIR, SCRIPTS_DIR, Runner
from tests.support.tls import make_tls_material

pytestmark = pytest.mark.collector

COLLECTOR_CONFIGS = ("local.yaml", "agent.yaml", "gateway.yaml")
JAEGER_CONFIG = "jaeger.yaml"
BUILDER_MANIFEST = "builder-config.yaml"

ENV_REFERENCE = re.compile(r"\$\{env:(?P<name>[A-Z0-9_]+)(?::-(?P<default>[^}]*))?\}")


def deployment_env(tmp_path: Path) -> dict[str, str]:
    """The variables an operator sets for the secured configs (real files)."""
    tls = make_tls_material(tmp_path / "tls")
    return {
        "OTEL_DASK_PROV_BEARER_TOKEN": "a-token",
        "OTEL_DASK_PROV_TLS_CERT_FILE": str(tls.server_cert),
        "OTEL_DASK_PROV_TLS_KEY_FILE": str(tls.server_key),
        "OTEL_DASK_PROV_GATEWAY_CA_FILE": str(tls.ca_cert),
    }


def with_defaults(text: str) -> str:
    """*text* with every ``${env:NAME:-default}`` replaced by its default."""
    return ENV_REFERENCE.sub(lambda match: match.group("default") or "", text)


def test_the_directory_holds_the_documented_files() -> None:
    found = {path.name for path in CONFIG_DIR.iterdir()}
    assert found == {*COLLECTOR_CONFIGS, JAEGER_CONFIG, BUILDER_MANIFEST}


@pytest.mark.parametrize("config", COLLECTOR_CONFIGS)
def test_the_collector_validates_each_config(config: str, otelcol_runner: Runner, tmp_path: Path) -> None:
    result = otelcol_runner.run(
        ["validate", f"--config={CONFIG_DIR / config}"], deployment_env(tmp_path), [tmp_path]
    )
    assert result.returncode == 0, result.stderr


def test_the_local_config_needs_no_variables(otelcol_runner: Runner, tmp_path: Path) -> None:
    result = otelcol_runner.run(["validate", f"--config={CONFIG_DIR / 'local.yaml'}"], {}, [tmp_path])
    assert result.returncode == 0, result.stderr


def test_jaeger_validates_its_config(jaeger_runner: Runner, tmp_path: Path) -> None:
    result = jaeger_runner.run(["validate", f"--config={CONFIG_DIR / JAEGER_CONFIG}"], {}, [tmp_path])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("config", "complaints"),
    [
        ("agent.yaml", ["no bearer token provided"]),
        ("gateway.yaml", ["no bearer token provided", "must include both certificate and key"]),
    ],
)
def test_the_secured_configs_refuse_to_run_without_their_secrets(
    config: str, complaints: list[str], otelcol_runner: Runner, tmp_path: Path
) -> None:
    unset = dict.fromkeys(deployment_env(tmp_path), "")
    result = otelcol_runner.run(["validate", f"--config={CONFIG_DIR / config}"], unset, [tmp_path])
    assert result.returncode != 0
    for complaint in complaints:
        assert complaint in result.stderr


@pytest.mark.parametrize("config", [*COLLECTOR_CONFIGS, JAEGER_CONFIG])
def test_by_default_every_listener_is_on_loopback(config: str) -> None:
    resolved = yaml.safe_load(with_defaults((CONFIG_DIR / config).read_text()))
    listeners: list[str] = []

    def walk(node: object, inside_receivers_or_extensions: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "endpoint" and inside_receivers_or_extensions and isinstance(value, str):
                    listeners.append(value)
                elif key == "host":
                    listeners.append(f"{value}:")
                else:
                    walk(value, inside_receivers_or_extensions)
        elif isinstance(node, list):
            for item in node:
                walk(item, inside_receivers_or_extensions)

    for section in ("receivers", "extensions"):
        walk(resolved.get(section, {}), True)
    walk(resolved.get("service", {}), False)
    assert listeners, "no listener found"
    assert all(listener.startswith("127.0.0.1:") for listener in listeners), listeners


def test_every_component_of_the_manifest_is_on_the_builder_version() -> None:
    manifest = yaml.safe_load((CONFIG_DIR / BUILDER_MANIFEST).read_text())
    builder_version = re.search(r'BUILDER_VERSION="(v[0-9.]+)"', (SCRIPTS_DIR / "build-otelcol").read_text())
    assert builder_version is not None
    modules = [
        entry["gomod"]
        for kind in ("receivers", "processors", "exporters", "extensions")
        for entry in manifest[kind]
    ]
    assert {module.split()[1] for module in modules} == {builder_version.group(1)}
    assert manifest["dist"]["name"] == "otelcol-dask-prov"
