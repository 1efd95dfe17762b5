"""The Kubernetes manifests of ``deploy/kubernetes/`` would be accepted and would work together.

No cluster is needed: every built-in resource is validated against the
Kubernetes OpenAPI schemas (``kubernetes-validate``, strict: unknown fields are
errors); the ``DaskCluster`` against the CRD shipped in the ``dask-kubernetes``
wheel and the ``OpenTelemetryCollector`` against the CRD of the OpenTelemetry
Operator's Go module, with every field the API server would silently *prune*
reported as an error. Then the pieces are checked against each other: every
ConfigMap, Secret, volume claim, Service and port that a pod refers to exists,
the ConfigMaps hold exactly the files of ``collector-config/``, the Dask
processes export to the port their sidecar listens on, and the images match the
package and collector versions.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from otel_dask_prov import attributes as attr
from otel_dask_prov.version import __version__
from tests.support.cluster import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy" / "kubernetes"
COLLECTOR_CONFIG = REPO_ROOT / "collector-config"

KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
"""Oldest Kubernetes with native sidecars (what the OpenTelemetry Operator variant
relies on), and the newest schema ``kubernetes-validate`` ships."""

DASK_KUBERNETES_VERSION = "2026.3.0"
DASK_KUBERNETES_CRD = "dask_kubernetes/operator/deployment/helm/dask-kubernetes-operator/crds/daskcluster.yaml"
OTEL_OPERATOR_MODULE = "github.com/open-telemetry/opentelemetry-operator"
OTEL_OPERATOR_VERSION = "v0.143.0"
OTEL_OPERATOR_CRD = "config/crd/bases/opentelemetry.io_opentelemetrycollectors.yaml"

CACHE = Path(os.environ.get("OTEL_DASK_PROV_CACHE", Path.home() / ".cache" / "otel-dask-prov"))

USER_CREATED = {
    ("Secret", "otel-dask-prov-gateway-tls"),
    ("Secret", "otel-dask-prov-token"),
    ("ConfigMap", "otel-dask-prov-gateway-ca"),
}
"""Objects the README has the operator create (secrets never live in the repository)."""

VARIANTS = {
    "dask-operator": ("gateway", "dask-operator", "tools"),
    "otel-operator": ("gateway", "otel-operator", "tools"),
    "helm": ("gateway", "otel-operator/collector.yaml", "helm", "tools"),
}
"""What is applied together in each deployment variant (paths in deploy/kubernetes)."""

OPERATOR_SIDECAR = "otc-container"
"""Name of the container the OpenTelemetry Operator injects."""

HELM_CHART_COMMANDS = {"scheduler": ["dask-scheduler"], "worker": ["dask-worker"]}
"""The commands the Dask Helm chart (2024.1.1) puts before ``extraArgs``."""
HELM_CHART_KEYS = {
    "scheduler": {"image", "extraArgs", "env", "resources"},
    "worker": {"image", "replicas", "extraArgs", "env", "resources", "annotations", "mounts"},
}
"""The chart values these files may set (the chart has no extra containers)."""
DASK_SCHEDULER_COMMAND_REMOVED = (2026, 6, 0)
"""First distributed release without the ``dask-scheduler`` command the chart runs."""

LISTENER_VARIABLES = (
    "OTEL_DASK_PROV_COLLECTOR_HOST", "OTEL_DASK_PROV_OTLP_GRPC_PORT", "OTEL_DASK_PROV_OTLP_HTTP_PORT",
    "OTEL_DASK_PROV_HEALTH_PORT", "OTEL_DASK_PROV_METRICS_PORT",
)
ENV_REFERENCE = re.compile(r"\$\{env:(?P<name>[A-Z0-9_]+)(?::-(?P<default>[^}]*))?\}")
DEPENDENT_VARIABLE = re.compile(r"\$\((?P<name>[A-Za-z_][A-Za-z0-9_]*)\)")


# ---------------------------------------------------------------------------
# Reading the manifests
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Manifest:
    """One YAML document of one file."""

    path: Path
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.doc.get("metadata", {}).get("name", ""))

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(DEPLOY)}:{self.kind}/{self.name}"


@dataclass
class PodTemplate:
    """A pod as it will run: its spec, the labels it carries, where it came from."""

    origin: str
    spec: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    def containers(self) -> list[dict[str, Any]]:
        return list(self.spec.get("containers", [])) + list(self.spec.get("initContainers", []))


def manifests(*paths: str) -> list[Manifest]:
    """Every Kubernetes resource in *paths* (files or directories; all of deploy/kubernetes by default)."""
    roots = [DEPLOY / p for p in paths] if paths else [DEPLOY]
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.yaml")) if root.is_dir() else [root]:
            if path.parent.name == "helm":
                continue  # chart values, not resources
            found.extend(Manifest(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return found


def helm_values() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text()))


def helm_pods() -> list[PodTemplate]:
    """The scheduler and worker pods the chart renders from our values (the parts we set)."""
    values = helm_values()
    pods = []
    for role, command in HELM_CHART_COMMANDS.items():
        section = values[role]
        image = f"{section['image']['repository']}:{section['image']['tag']}"
        container = {"name": role, "image": image, "args": [*command, *section.get("extraArgs", [])],
                     "env": section.get("env", [])}
        pods.append(PodTemplate(f"helm/values.yaml:{role}", {"containers": [container]},
                                annotations=section.get("annotations", {})))
    return pods


def pod_templates(items: list[Manifest]) -> list[PodTemplate]:
    """Every pod the resources will create (DaskCluster pods as the operator creates them)."""
    pods = []
    for item in items:
        doc = item.doc
        if item.kind == "Deployment":
            template = doc["spec"]["template"]
            pods.append(PodTemplate(item.id, template["spec"], template["metadata"].get("labels", {}),
                                    template["metadata"].get("annotations", {})))
        elif item.kind == "Pod":
            pods.append(PodTemplate(item.id, doc["spec"], doc["metadata"].get("labels", {}),
                                    doc["metadata"].get("annotations", {})))
        elif item.kind == "DaskCluster":
            for role in ("scheduler", "worker"):
                section = doc["spec"][role]
                labels = {"dask.org/cluster-name": item.name, "dask.org/component": role}
                pods.append(PodTemplate(f"{item.id}:{role}", section["spec"], labels,
                                        section.get("metadata", {}).get("annotations", {})))
    return pods


def injected_collector(pod: PodTemplate, items: list[Manifest]) -> dict[str, Any] | None:
    """The spec of the OpenTelemetryCollector whose sidecar the operator injects into *pod*."""
    by_name = {item.name: item.doc["spec"] for item in items if item.kind == "OpenTelemetryCollector"}
    wanted = pod.annotations.get("sidecar.opentelemetry.io/inject")
    if wanted is None and pod.origin.startswith("helm/") and len(by_name) == 1:
        wanted = next(iter(by_name))  # the Helm variant annotates the namespace
    return by_name.get(wanted or "")


def sidecar_pods(items: list[Manifest], pods: list[PodTemplate]) -> list[PodTemplate]:
    """*pods* with the OpenTelemetry Operator's sidecar added where they ask for it."""
    injected = []
    for pod in pods:
        collector = injected_collector(pod, items)
        if collector is not None:
            spec = copy.deepcopy(pod.spec)
            spec["containers"] = [*spec["containers"], {
                "name": OPERATOR_SIDECAR, "image": collector["image"], "env": collector.get("env", []),
                "volumeMounts": collector.get("volumeMounts", []),
            }]
            spec["volumes"] = [*spec.get("volumes", []), *collector.get("volumes", [])]
            pod = PodTemplate(pod.origin, spec, pod.labels, pod.annotations)
        injected.append(pod)
    return injected


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def is_dask(container: dict[str, Any]) -> bool:
    """A Dask scheduler or worker (not another program run from the Dask image)."""
    args = [str(arg) for arg in container.get("args", [])]
    return bool(args) and args[0] in ("dask", "dask-scheduler", "dask-worker")


def is_collector(container: dict[str, Any]) -> bool:
    return str(container.get("image", "")).startswith("otel/opentelemetry-collector-contrib:")


def all_pods() -> list[PodTemplate]:
    items = manifests()
    return sidecar_pods(items, pod_templates(items) + helm_pods())


def with_defaults(text: str, only: tuple[str, ...] | None = None) -> str:
    """*text* with ``${env:NAME:-default}`` replaced by its default (for *only* those names)."""
    def replace(match: re.Match[str]) -> str:
        if only is not None and match.group("name") not in only:
            return match.group(0)
        return match.group("default") or ""
    return ENV_REFERENCE.sub(replace, text)


def resolved_collector_config(config_text: str, env: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A collector config with its ``${env:...}`` resolved as in a pod with *env* (literal values)."""
    def replace(match: re.Match[str]) -> str:
        entry = env.get(match.group("name"), {})
        return str(entry["value"]) if "value" in entry else (match.group("default") or "")
    return dict(yaml.safe_load(ENV_REFERENCE.sub(replace, config_text)))


def container_ports(pod: PodTemplate) -> dict[str | int, int]:
    """Container ports of *pod* by name and by number."""
    ports: dict[str | int, int] = {}
    for container in pod.containers():
        for port in container.get("ports", []):
            ports[port["containerPort"]] = port["containerPort"]
            if "name" in port:
                ports[port["name"]] = port["containerPort"]
    return ports


# ---------------------------------------------------------------------------
# The operators' CRDs
# ---------------------------------------------------------------------------
@cache
def dask_kubernetes_crd() -> dict[str, Any]:
    """The DaskCluster CRD of the ``dask-kubernetes`` wheel (downloaded once, not installed)."""
    directory = CACHE / "crds" / f"dask-kubernetes-{DASK_KUBERNETES_VERSION}"
    wheels = sorted(directory.glob("dask_kubernetes-*.whl"))
    if not wheels:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--dest", str(directory), f"dask-kubernetes=={DASK_KUBERNETES_VERSION}"],
            capture_output=True, text=True, timeout=300, check=False,
        )
        wheels = sorted(directory.glob("dask_kubernetes-*.whl"))
        if result.returncode != 0 or not wheels:
            pytest.skip(f"cannot download the dask-kubernetes {DASK_KUBERNETES_VERSION} wheel for its CRD: "
                        f"{result.stderr.strip()[-300:]}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        return dict(yaml.safe_load(wheel.read(DASK_KUBERNETES_CRD)))


@cache
def otel_operator_crd() -> dict[str, Any]:
    """The OpenTelemetryCollector CRD of the operator's Go module (``go mod download``, cached by Go)."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("needs Go to fetch the OpenTelemetry Operator's CRD (go mod download); go is not on PATH")
    work = CACHE / "crds" / "go-work"
    work.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [go, "mod", "download", "-json", f"{OTEL_OPERATOR_MODULE}@{OTEL_OPERATOR_VERSION}"],
        cwd=work, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "GOFLAGS": "-modcacherw"},
    )
    try:
        directory = Path(json.loads(result.stdout)["Dir"])
    except (ValueError, KeyError):
        pytest.skip(f"go mod download {OTEL_OPERATOR_MODULE}@{OTEL_OPERATOR_VERSION} failed: "
                    f"{(result.stdout + result.stderr).strip()[-300:]}")
    return dict(yaml.safe_load((directory / OTEL_OPERATOR_CRD).read_text()))


def pruning_schema(node: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema from a CRD's structural schema in which a pruned field is an error.

    The API server silently drops every field a structural schema does not
    declare (unless ``x-kubernetes-preserve-unknown-fields``), so an unknown field
    is a setting that never takes effect: ``additionalProperties: false`` makes
    it visible.
    """
    out: dict[str, Any] = {}
    if node.get("x-kubernetes-int-or-string"):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    elif "type" in node:
        out["type"] = [node["type"], "null"] if node.get("nullable") else node["type"]
    for key in ("enum", "required", "minimum", "maximum", "minItems", "maxItems", "pattern"):
        if key in node:
            out[key] = node[key]
    if "properties" in node:
        out["properties"] = {name: pruning_schema(child) for name, child in node["properties"].items()}
    if "items" in node:
        out["items"] = pruning_schema(node["items"])
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = pruning_schema(node["additionalProperties"])
    elif node.get("type") == "object" and not node.get("x-kubernetes-preserve-unknown-fields") \
            and not node.get("x-kubernetes-embedded-resource"):
        out["additionalProperties"] = False
    return out


def crd_errors(crd: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    """What the API server would reject or prune in *doc*, as ``path: message`` lines."""
    group, version = doc["apiVersion"].split("/")
    assert crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == doc["kind"]
    served = {entry["name"]: entry for entry in crd["spec"]["versions"] if entry.get("served")}
    assert version in served, f"{doc['apiVersion']} is not served by the CRD"
    schema = pruning_schema(served[version]["schema"]["openAPIV3Schema"])
    schema["properties"].update({"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                 "metadata": {"type": "object"}})
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(doc)]


# ---------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------
BUILTIN = [item for item in manifests() if item.kind not in ("DaskCluster", "OpenTelemetryCollector")]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("item", BUILTIN, ids=lambda item: item.id)
def test_every_builtin_resource_is_valid_for_kubernetes(item: Manifest, version: str) -> None:
    kubernetes_validate.validate(item.doc, version, strict=True)


def test_the_directories_hold_the_documented_resources() -> None:
    kinds = {(item.kind, item.name) for item in manifests()}
    assert kinds == {
        ("ConfigMap", "otel-dask-prov-gateway"), ("ConfigMap", "otel-dask-prov-agent"),
        ("PersistentVolumeClaim", "otel-dask-prov-traces"),
        ("Deployment", "otel-dask-prov-gateway"), ("Service", "otel-dask-prov-gateway"),
        ("Deployment", "jaeger"), ("Service", "jaeger"),
        ("DaskCluster", "traced"), ("OpenTelemetryCollector", "dask-agent"),
        ("Pod", "otel-dask-prov-trace-reader"),
    }


DASK_CLUSTERS = [item for item in manifests() if item.kind == "DaskCluster"]


@pytest.mark.parametrize("item", DASK_CLUSTERS, ids=lambda item: item.id)
def test_the_daskclusters_match_the_operator_crd_with_nothing_pruned(item: Manifest) -> None:
    assert crd_errors(dask_kubernetes_crd(), item.doc) == []


def test_the_crd_check_reports_a_native_sidecar_as_pruned() -> None:
    cluster = copy.deepcopy(DASK_CLUSTERS[0].doc)
    cluster["spec"]["worker"]["spec"]["initContainers"] = [
        {"name": "otel-agent", "image": "otel/opentelemetry-collector-contrib:0.145.0", "restartPolicy": "Always"}]
    errors = crd_errors(dask_kubernetes_crd(), cluster)
    assert len(errors) == 1 and "restartPolicy" in errors[0]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("pod", [pod for pod in all_pods() if "DaskCluster" in pod.origin or pod.origin.startswith("helm/")],
                         ids=lambda pod: pod.origin)
def test_dask_pods_are_valid_pods(pod: PodTemplate, version: str) -> None:
    """DaskCluster pod specs and the chart's pods with our values, checked as the Pods they become."""
    kubernetes_validate.validate(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dask", "labels": pod.labels,
                                                         "annotations": pod.annotations},
         "spec": pod.spec}, version, strict=True)


def test_the_opentelemetry_collector_matches_the_operator_crd_with_nothing_pruned() -> None:
    (item,) = [item for item in manifests() if item.kind == "OpenTelemetryCollector"]
    assert item.doc["spec"]["mode"] == "sidecar"
    assert crd_errors(otel_operator_crd(), item.doc) == []


def test_the_helm_values_set_only_what_the_chart_reads() -> None:
    values = helm_values()
    assert set(values) == set(HELM_CHART_KEYS)
    for role, keys in HELM_CHART_KEYS.items():
        assert set(values[role]) <= keys, role
        assert set(values[role]["image"]) <= {"repository", "tag", "pullPolicy"}


# ---------------------------------------------------------------------------
# References between the pieces
# ---------------------------------------------------------------------------
def variant_pods(variant: str) -> tuple[list[Manifest], list[PodTemplate]]:
    items = manifests(*(d for d in VARIANTS[variant] if d != "helm"))
    pods = pod_templates(items) + (helm_pods() if "helm" in VARIANTS[variant] else [])
    return items, sidecar_pods(items, pods)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_configmap_secret_and_claim_a_pod_uses_exists(variant: str) -> None:
    items, pods = variant_pods(variant)
    existing = {(item.kind, item.name) for item in items} | USER_CREATED
    configmap_keys = {item.name: set(item.doc.get("data", {})) for item in items if item.kind == "ConfigMap"}
    missing = []
    for pod in pods:
        volumes = {volume["name"]: volume for volume in pod.spec.get("volumes", [])}
        for volume in volumes.values():
            for kind, source, key in (("ConfigMap", "configMap", "name"), ("Secret", "secret", "secretName"),
                                      ("PersistentVolumeClaim", "persistentVolumeClaim", "claimName")):
                if source in volume and (kind, volume[source][key]) not in existing:
                    missing.append(f"{pod.origin}: volume {volume['name']} -> {kind} {volume[source][key]}")
        for container in pod.containers():
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    missing.append(f"{pod.origin}/{container['name']}: mount of undeclared volume {mount['name']}")
            for entry in container.get("env", []):
                for kind, ref in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    target = entry.get("valueFrom", {}).get(ref)
                    if target and (kind, target["name"]) not in existing:
                        missing.append(f"{pod.origin}/{container['name']}: {entry['name']} -> {kind} {target['name']}")
            for arg in container.get("args", []):
                match = re.fullmatch(r"--config=(?P<dir>.+)/(?P<file>[^/]+)", str(arg))
                if match:
                    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == match["dir"]]
                    configmap = volumes[mount["name"]]["configMap"]["name"]
                    if match["file"] not in configmap_keys.get(configmap, set()):
                        missing.append(f"{pod.origin}: {arg} is not a key of ConfigMap {configmap}")
    assert missing == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_service_selects_a_pod_that_has_its_target_ports(variant: str) -> None:
    items, pods = variant_pods(variant)
    services = [item for item in items if item.kind == "Service"]
    services += [Manifest(item.path, {"kind": "Service", "metadata": {"name": f"{item.name}-scheduler"},
                                      "spec": item.doc["spec"]["scheduler"]["service"]})
                 for item in items if item.kind == "DaskCluster"]
    assert services
    for service in services:
        selector = service.doc["spec"]["selector"]
        selected = [pod for pod in pods if selector.items() <= pod.labels.items()]
        assert len(selected) == 1, f"{service.id} selects {[pod.origin for pod in selected]}"
        ports = container_ports(selected[0])
        for port in service.doc["spec"]["ports"]:
            assert port.get("targetPort", port["port"]) in ports, f"{service.id}: {port}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_host_port_in_a_pod_environment_is_a_service_port(variant: str) -> None:
    items, pods = variant_pods(variant)
    service_ports = {(item.name, port["port"]) for item in items if item.kind == "Service"
                     for port in item.doc["spec"]["ports"]}
    checked = 0
    for pod in pods:
        for container in pod.containers():
            for name, entry in env_of(container).items():
                match = re.fullmatch(r"(?P<host>[a-z][a-z0-9-]*):(?P<port>[0-9]+)", str(entry.get("value", "")))
                if match:
                    checked += 1
                    assert (match["host"], int(match["port"])) in service_ports, f"{pod.origin}: {name}"
    assert checked


def agent_receiver_port(container: dict[str, Any], config_text: str) -> int:
    config = resolved_collector_config(config_text, env_of(container))
    endpoint = config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    host, port = endpoint.rsplit(":", 1)
    assert host == "127.0.0.1", "the sidecar must listen on the pod's loopback only"
    return int(port)


@pytest.mark.parametrize("variant", VARIANTS)
def test_dask_processes_preload_the_package_and_export_to_their_sidecar(variant: str) -> None:
    items, pods = variant_pods(variant)
    dask_pods = [pod for pod in pods if any(is_dask(c) for c in pod.containers())]
    assert dask_pods
    for pod in dask_pods:
        (dask_container,) = [c for c in pod.containers() if is_dask(c)]
        (sidecar,) = [c for c in pod.containers() if is_collector(c)]
        args = [str(arg) for arg in dask_container["args"]]
        assert args[args.index("--preload") + 1] == "otel_dask_prov", pod.origin
        injected = injected_collector(pod, items)
        if sidecar["name"] == OPERATOR_SIDECAR and injected is not None:
            config = yaml.safe_dump(injected["config"])
        else:
            config = (COLLECTOR_CONFIG / "agent.yaml").read_text()
        endpoint = env_of(dask_container)["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"]
        protocol = env_of(dask_container)["OTEL_EXPORTER_OTLP_PROTOCOL"]["value"]
        assert protocol == "grpc"
        assert endpoint == f"http://127.0.0.1:{agent_receiver_port(sidecar, config)}", pod.origin


def test_resource_attributes_name_pod_namespace_and_node_from_the_downward_api() -> None:
    expected = {attr.K8S_POD_NAME: "metadata.name", attr.K8S_NAMESPACE_NAME: "metadata.namespace",
                attr.K8S_NODE_NAME: "spec.nodeName"}
    dask_containers = [(pod.origin, c) for pod in all_pods() for c in pod.containers() if is_dask(c)]
    assert len(dask_containers) == 6  # scheduler and worker of two DaskClusters and of the chart
    for origin, container in dask_containers:
        env = env_of(container)
        names = list(env)
        pairs = dict(item.split("=", 1) for item in env["OTEL_RESOURCE_ATTRIBUTES"]["value"].split(","))
        assert set(pairs) == set(expected), origin
        for attribute, field_path in expected.items():
            variable = DEPENDENT_VARIABLE.fullmatch(pairs[attribute])
            assert variable is not None, f"{origin}: {attribute}"
            source = env[variable["name"]]
            assert source["valueFrom"]["fieldRef"]["fieldPath"] == field_path
            # Kubernetes expands $(NAME) only for variables defined earlier in the list.
            assert names.index(variable["name"]) < names.index("OTEL_RESOURCE_ATTRIBUTES")


# ---------------------------------------------------------------------------
# Agreement with collector-config/ and with the package
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("configmap", "key"), [("otel-dask-prov-gateway", "gateway.yaml"),
                                                 ("otel-dask-prov-agent", "agent.yaml")])
def test_the_configmaps_hold_the_collector_configs_verbatim(configmap: str, key: str) -> None:
    (item,) = [item for item in manifests() if item.kind == "ConfigMap" and item.name == configmap]
    assert item.doc["data"][key] == (COLLECTOR_CONFIG / key).read_text(), (
        f"{item.path.relative_to(REPO_ROOT)} differs from collector-config/{key}: copy the file into it")


def test_the_operator_sidecar_config_is_the_agent_config_with_fixed_listeners() -> None:
    (item,) = [item for item in manifests() if item.kind == "OpenTelemetryCollector"]
    expected = yaml.safe_load(with_defaults((COLLECTOR_CONFIG / "agent.yaml").read_text(), LISTENER_VARIABLES))
    # The one deliberate difference: the operator probes the health check from outside the pod.
    expected["extensions"]["health_check"]["endpoint"] = "0.0.0.0:" + \
        expected["extensions"]["health_check"]["endpoint"].rsplit(":", 1)[1]
    assert item.doc["spec"]["config"] == expected


def test_the_sidecars_get_the_same_settings_in_both_operator_variants() -> None:
    (collector,) = [item for item in manifests() if item.kind == "OpenTelemetryCollector"]
    (cluster,) = [item for item in manifests("dask-operator") if item.kind == "DaskCluster"]
    for role in ("scheduler", "worker"):
        (sidecar,) = [c for c in cluster.doc["spec"][role]["spec"]["containers"] if is_collector(c)]
        assert sidecar["env"] == collector.doc["spec"]["env"]
        assert sidecar["image"] == collector.doc["spec"]["image"]
        assert sidecar["resources"] == collector.doc["spec"]["resources"]


def dask_release(image: str) -> tuple[int, ...]:
    return tuple(int(part) for part in image.rsplit(":", 1)[1].split("-")[0].split("."))


def test_images_match_the_package_and_the_collector_build() -> None:
    declared = (REPO_ROOT / "pyproject.toml").read_text()
    lower = re.search(r'"distributed>=([0-9.]+)"', declared)
    builder = re.search(r"^\s*version: ([0-9.]+)", (COLLECTOR_CONFIG / "builder-config.yaml").read_text(), re.M)
    assert lower is not None and builder is not None
    pods = all_pods()
    containers = [(pod.origin, c) for pod in pods for c in pod.containers()]
    for origin, container in containers:
        image = str(container["image"])
        if is_collector(container):
            assert image == f"otel/opentelemetry-collector-contrib:{builder.group(1)}", origin
        elif image.startswith("ghcr.io/dask/dask:"):
            assert dask_release(image) >= tuple(int(p) for p in lower.group(1).split(".")), origin
            assert env_of(container)["EXTRA_PIP_PACKAGES"]["value"] == f"otel-dask-prov=={__version__}", origin
            if origin.startswith("helm/"):
                assert dask_release(image) < DASK_SCHEDULER_COMMAND_REMOVED, origin
    assert {c["image"] for _, c in containers} >= {"otel/opentelemetry-collector-contrib:" + builder.group(1)}


def test_the_readme_creates_every_object_the_manifests_expect_from_the_user() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for kind, name in USER_CREATED:
        command = {"Secret": r"create secret (tls|generic) ", "ConfigMap": "create configmap "}[kind]
        assert re.search(command + re.escape(name) + r"\b", readme), f"{kind} {name}"


def readme_openssl_commands() -> str:
    readme = (DEPLOY / "README.md").read_text()
    block = re.search(r"```bash\n(kubectl create namespace.*?)```", readme, re.S)
    assert block is not None
    lines = [line for line in block.group(1).replace("\\\n", " ").splitlines() if line.startswith(("openssl", "printf"))]
    return "\n".join(lines)


def test_the_readme_makes_a_certificate_the_sidecars_accept_for_the_gateway_service(tmp_path: Path) -> None:
    from cryptography import x509

    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    subprocess.run(["bash", "-euo", "pipefail", "-c", readme_openssl_commands()], cwd=tmp_path,
                   check=True, capture_output=True, timeout=120)
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    server = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    hosts = {env_of(c)["OTEL_DASK_PROV_GATEWAY_ENDPOINT"]["value"].rsplit(":", 1)[0]
             for pod in all_pods() for c in pod.containers() if "OTEL_DASK_PROV_GATEWAY_ENDPOINT" in env_of(c)}
    assert hosts and hosts <= set(names)


def iter_collector_pods() -> Iterator[tuple[PodTemplate, dict[str, Any]]]:
    """Every (pod, collector container) written out in the manifests, for the collector tests."""
    for pod in pod_templates(manifests()):
        for container in pod.containers():
            if is_collector(container):
                yield pod, container
