"""Deployment provenance: where a process ran, with what software (``record_environment``).

:func:`process_attributes` gives the resource attributes every Dask process
(scheduler, worker) carries on all its spans:

* the operating system (``os.description``, ``os.version``), ``host.arch``,
  the Python executable and its full version string;
* the versions of key packages, ``dask.deployment.package.<name>`` (numpy,
  pandas, xarray... when installed; dask and distributed have their own
  attributes);
* ``dask.deployment.packages.digest``: ``sha256:`` of the sorted
  ``name==version`` lines of every installed distribution, so two processes
  can be checked for the same environment at a glance, and
  ``dask.deployment.packages`` with the list itself when ``record_packages`` is on;
* Kubernetes ``k8s.pod.name``, ``k8s.namespace.name``, ``k8s.node.name`` from the
  downward-API variables a pod spec sets (:data:`KUBERNETES_VARIABLES`);
* allowlisted environment variables, ``dask.deployment.env.<NAME>``
  (``environment_allowlist``, empty by default; names matching ``redact`` never);
* the Dask configuration that differs from Dask's defaults, as JSON in
  ``dask.deployment.config`` (``record_dask_config``; keys matching ``redact``
  masked).

The installed packages are found from the ``*.dist-info`` / ``*.egg-info``
directory names on ``sys.path``, much faster than reading every package's
metadata (``docs/performance.md``).
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import os
import platform
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import dask.config

from ... import attributes as attr
from ...settings import Settings
from .redaction import REDACTED, Redactor

KEY_PACKAGES = ("numpy", "pandas", "xarray", "scipy", "pyarrow", "zarr", "h5py", "netcdf4",
                "cloudpickle", "fsspec", "bokeh")
KUBERNETES_VARIABLES: Mapping[str, tuple[str, ...]] = {
    attr.K8S_POD_NAME: ("K8S_POD_NAME", "POD_NAME", "MY_POD_NAME",
                        "OTEL_RESOURCE_ATTRIBUTES_POD_NAME"),
    attr.K8S_NAMESPACE_NAME: ("K8S_NAMESPACE_NAME", "K8S_NAMESPACE", "POD_NAMESPACE",
                              "MY_POD_NAMESPACE"),
    attr.K8S_NODE_NAME: ("K8S_NODE_NAME", "NODE_NAME", "MY_NODE_NAME",
                         "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME"),
}
"""Resource attribute -> environment variables a pod spec sets from the downward API
(``valueFrom: fieldRef: metadata.name`` ...), first found wins."""
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
MAX_ENVIRONMENT_VALUE = 4096
CONFIG_ALWAYS_MASKED = ("header",)
"""Config keys masked whatever ``redact`` says: exporter headers carry credentials."""
_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
                  "ppc64le": "ppc64", "s390x": "s390x", "i686": "x86", "i386": "x86"}


def installed_packages(paths: Iterable[str] | None = None) -> dict[str, str]:
    """``{normalized name: version}`` of the distributions importable from *paths*."""
    packages: dict[str, str] = {}
    for entry in sys.path if paths is None else paths:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                stem = name[: -len(".dist-info")]
            elif name.endswith(".egg-info"):
                stem = name[: -len(".egg-info")]
            else:
                continue
            project, _, rest = stem.partition("-")
            version = rest.split("-")[0]
            if project and version:
                packages.setdefault(project.lower().replace("_", "-").replace(".", "-"), version)
    return packages


def packages_digest(packages: Mapping[str, str]) -> str:
    """``sha256:<hex>`` of the sorted ``name==version`` lines."""
    text = "\n".join(f"{name}=={version}" for name, version in sorted(packages.items()))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def software_attributes(settings: Settings) -> dict[str, Any]:
    """OS, architecture, Python and package attributes of this process."""
    packages = installed_packages()
    attributes: dict[str, Any] = {
        attr.OS_DESCRIPTION: platform.platform(),
        attr.OS_VERSION: platform.release(),
        attr.HOST_ARCH: _ARCHITECTURES.get(platform.machine().lower(), platform.machine()),
        attr.PROCESS_EXECUTABLE_PATH: sys.executable,
        attr.PROCESS_RUNTIME_DESCRIPTION: sys.version,
        attr.PACKAGES_DIGEST: packages_digest(packages),
        attr.PACKAGES_COUNT: len(packages),
    }
    for name in KEY_PACKAGES:
        if name in packages:
            attributes[attr.PACKAGE_VERSION_PREFIX + name] = packages[name]
    if settings.record_packages:
        attributes[attr.PACKAGES] = [f"{name}=={version}"
                                     for name, version in sorted(packages.items())]
    return attributes


def kubernetes_attributes(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Pod, namespace and node of this process when it runs in Kubernetes."""
    environ = os.environ if environ is None else environ
    attributes: dict[str, str] = {}
    for attribute, variables in KUBERNETES_VARIABLES.items():
        for variable in variables:
            if environ.get(variable):
                attributes[attribute] = environ[variable]
                break
    if "KUBERNETES_SERVICE_HOST" in environ:
        if attr.K8S_NAMESPACE_NAME not in attributes and SERVICE_ACCOUNT_NAMESPACE.is_file():
            attributes[attr.K8S_NAMESPACE_NAME] = SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
        if attr.K8S_POD_NAME not in attributes and environ.get("HOSTNAME"):
            attributes[attr.K8S_POD_NAME] = environ["HOSTNAME"]  # a pod's default hostname
    return attributes


def environment_attributes(patterns: Iterable[str], redactor: Redactor,
                           environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Allowlisted environment variables (names or shell patterns); secret names never."""
    environ = os.environ if environ is None else environ
    patterns = tuple(patterns)
    attributes: dict[str, str] = {}
    for name in sorted(environ):
        if (any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
                and not redactor.is_secret_name(name)):
            attributes[attr.ENVIRONMENT_PREFIX + name] = environ[name][:MAX_ENVIRONMENT_VALUE]
    return attributes


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def changed_dask_config(redactor: Redactor, config: Mapping[str, Any] | None = None,
                        defaults: Iterable[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """``{"dotted.key": value}`` of the Dask config values that differ from the defaults."""
    merged: dict[str, Any] = {}
    for layer in dask.config.defaults if defaults is None else defaults:
        dask.config.update(merged, copy.deepcopy(dict(layer)))
    current = copy.deepcopy(dict(dask.config.config if config is None else config))
    normalized: dict[str, Any] = {}
    dask.config.update(normalized, merged)
    dask.config.update(normalized, current)  # same spelling of "-" and "_" as the defaults
    expected = _flatten(merged)
    changed: dict[str, Any] = {}
    for name, value in _flatten(normalized).items():
        if name in expected and expected[name] == value:
            continue
        if redactor.is_secret_name(name) or any(part in name.lower()
                                                for part in CONFIG_ALWAYS_MASKED):
            value = REDACTED
        elif isinstance(value, str):
            value = redactor.mask(value)
        changed[name] = value
    return changed


def process_attributes(settings: Settings) -> dict[str, Any]:
    """Every deployment resource attribute of this process the settings ask for."""
    if not settings.record_environment:
        return {}
    redactor = Redactor(settings.redact)
    attributes = software_attributes(settings)
    attributes.update(kubernetes_attributes())
    attributes.update(environment_attributes(settings.environment_allowlist, redactor))
    if settings.record_dask_config:
        changed = changed_dask_config(redactor)
        attributes[attr.DASK_CONFIG] = json.dumps(changed, sort_keys=True, default=str)
    return attributes
