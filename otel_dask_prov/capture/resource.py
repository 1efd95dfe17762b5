"""The OpenTelemetry resource describing one Dask process (scheduler, worker, client)."""

from __future__ import annotations

import os
import platform
import socket
import uuid
from collections.abc import Mapping

import dask
import distributed
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.version import __version__ as sdk_version

from .. import attributes as attr
from ..settings import Settings
from ..version import __version__
from .probes.deployment import process_attributes

DEFAULT_SERVICE_NAMES = {
    "scheduler": attr.SCHEDULER_SERVICE,
    "worker": attr.WORKER_SERVICE,
    "client": attr.CLIENT_SERVICE,
}


def build_resource(
    role: str, settings: Settings, extra: Mapping[str, str | int] | None = None
) -> Resource:
    """Resource attributes of this process in *role* (``scheduler``, ``worker``, ``client``).

    ``service.name`` is the ``service_name`` setting or ``dask-<role>``;
    ``resource_attributes`` (``OTEL_RESOURCE_ATTRIBUTES``) are added last and win.
    """
    attributes: dict[str, str | int] = {
        attr.SERVICE_NAME: settings.service_name or DEFAULT_SERVICE_NAMES[role],
        attr.SERVICE_INSTANCE_ID: str(uuid.uuid4()),
        attr.HOST_NAME: socket.gethostname(),
        attr.PROCESS_PID: os.getpid(),
        attr.PROCESS_RUNTIME_NAME: platform.python_implementation(),
        attr.PROCESS_RUNTIME_VERSION: platform.python_version(),
        attr.OS_TYPE: platform.system().lower(),
        attr.PROCESS_ROLE: role,
        attr.DASK_VERSION: dask.__version__,
        attr.DISTRIBUTED_VERSION: distributed.__version__,
        attr.TOOL_VERSION: __version__,
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": sdk_version,
    }
    attributes.update(process_attributes(settings))
    attributes.update(extra or {})
    attributes.update(settings.resource_attributes)
    if settings.service_name:
        attributes[attr.SERVICE_NAME] = settings.service_name
    return Resource(attributes)
