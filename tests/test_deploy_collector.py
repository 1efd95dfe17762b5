"""The collectors of ``deploy/kubernetes/`` start with the config and environment their pods give them.

Each collector container of the manifests (the sidecars of the DaskCluster, the
gateway) and the OpenTelemetry Operator's sidecar config are checked by the
real collector's ``validate`` subcommand, in the environment the pod would have:
its literal variables, the bearer token from its Secret, and its mounted
ConfigMaps and Secrets as files (with a real CA, certificate and key for the
objects the README has the operator create). The paths under each mount are
rewritten to a temporary directory; nothing else changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.collector import Runner
from tests.support.tls import make_tls_material
from tests.test_deploy_kubernetes import (
    Manifest,
    PodTemplate,
    is_collector,
    manifests,
    pod_templates,
)

pytestmark = pytest.mark.collector

TOKEN = "token-from-the-secret"


class PodFiles:
    """The files a pod's volumes show its containers, laid out under a local directory."""

    def __init__(self, root: Path, items: list[Manifest]) -> None:
        self.root = root
        self.configmaps = {item.name: item.doc.get("data", {}) for item in items if item.kind == "ConfigMap"}
        self.tls = make_tls_material(root / "tls-material")

    def user_created(self, kind: str, name: str) -> dict[str, str]:
        """Contents of the objects the README creates (see USER_CREATED)."""
        tls = self.tls
        if (kind, name) == ("ConfigMap", "otel-dask-prov-gateway-ca"):
            return {"ca.crt": tls.ca_cert.read_text()}
        if (kind, name) == ("Secret", "otel-dask-prov-gateway-tls"):
            return {"tls.crt": tls.server_cert.read_text(), "tls.key": tls.server_key.read_text()}
        raise AssertionError(f"no files for {kind} {name}")

    def mount(self, volume: dict[str, Any], directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            name = volume["configMap"]["name"]
            files = self.configmaps.get(name) or self.user_created("ConfigMap", name)
        elif "secret" in volume:
            files = self.user_created("Secret", volume["secret"]["secretName"])
        else:
            files = {}  # emptyDir, persistentVolumeClaim: an empty directory
        for key, text in files.items():
            (directory / key).write_text(text)

    def container_view(self, volumes: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, Path]:
        """Mount path -> local directory for every volume mount of *container*."""
        by_name = {volume["name"]: volume for volume in volumes}
        view = {}
        for mount in container.get("volumeMounts", []):
            local = self.root / container["name"] / mount["name"]
            self.mount(by_name[mount["name"]], local)
            view[mount["mountPath"]] = local
        return view


def localize(value: str, view: dict[str, Path]) -> str:
    """*value* with a mounted path replaced by the local directory standing in for it."""
    for mount_path, local in sorted(view.items(), key=lambda item: -len(item[0])):
        if value == mount_path or value.startswith(mount_path + "/"):
            return str(local) + value[len(mount_path):]
        if "=" in value and value.split("=", 1)[1].startswith(mount_path + "/"):
            flag, path = value.split("=", 1)
            return f"{flag}={localize(path, view)}"
    return value


def pod_environment(container: dict[str, Any], view: dict[str, Path]) -> dict[str, str]:
    env = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = localize(str(entry["value"]), view)
        else:
            secret = entry["valueFrom"]["secretKeyRef"]
            assert (secret["name"], secret["key"]) == ("otel-dask-prov-token", "token"), entry
            env[entry["name"]] = TOKEN
    return env


COLLECTOR_CONTAINERS = [
    (pod, container)
    for pod in pod_templates(manifests())
    for container in pod.containers()
    if is_collector(container)
]


@pytest.mark.parametrize(("pod", "container"), COLLECTOR_CONTAINERS,
                         ids=[f"{pod.origin}/{c['name']}" for pod, c in COLLECTOR_CONTAINERS])
def test_each_collector_container_validates_in_its_pod_environment(
    pod: PodTemplate, container: dict[str, Any], otelcol_runner: Runner, tmp_path: Path
) -> None:
    files = PodFiles(tmp_path, manifests())
    view = files.container_view(pod.spec.get("volumes", []), container)
    args = [localize(str(arg), view) for arg in container["args"]]
    env = pod_environment(container, view)
    result = otelcol_runner.run(["validate", *args], env, [tmp_path])
    assert result.returncode == 0, result.stderr
    assert_named_files_exist(env, view)


OUTPUT_FILES = ("OTEL_DASK_PROV_TRACES_FILE", "OTEL_DASK_PROV_LOGS_FILE")


def assert_named_files_exist(env: dict[str, str], view: dict[str, Path]) -> None:
    """``validate`` does not open certificate files: check that each one named is mounted
    (the files the collector writes, traces and task logs, are not read)."""
    for name, value in env.items():
        if name.endswith("_FILE") and name not in OUTPUT_FILES:
            assert Path(value).is_file(), f"{name}={value} is not in any volume of the pod"


def test_the_operator_sidecar_config_validates_with_the_collectors_environment(
    otelcol_runner: Runner, tmp_path: Path
) -> None:
    (collector,) = [item for item in manifests() if item.kind == "OpenTelemetryCollector"]
    spec = collector.doc["spec"]
    files = PodFiles(tmp_path, manifests())
    sidecar = {"name": "otc-container", "volumeMounts": spec["volumeMounts"]}
    view = files.container_view(spec["volumes"], sidecar)
    config = tmp_path / "operator-config.yaml"
    config.write_text(yaml.safe_dump(spec["config"]))
    env = pod_environment(spec, view)
    result = otelcol_runner.run(["validate", f"--config={config}"], env, [tmp_path])
    assert result.returncode == 0, result.stderr
    assert_named_files_exist(env, view)


def test_a_sidecar_without_its_token_does_not_start(otelcol_runner: Runner, tmp_path: Path) -> None:
    """Guards the check above: the environment really is what the config reads."""
    pod, container = next((p, c) for p, c in COLLECTOR_CONTAINERS if "DaskCluster" in p.origin)
    files = PodFiles(tmp_path, manifests())
    view = files.container_view(pod.spec["volumes"], container)
    env = {**pod_environment(container, view), "OTEL_DASK_PROV_BEARER_TOKEN": ""}
    args = [localize(str(arg), view) for arg in container["args"]]
    result = otelcol_runner.run(["validate", *args], env, [tmp_path])
    assert result.returncode != 0 and "no bearer token provided" in result.stderr
