"""The processes that wrote spans: one :class:`~.model.Resource` per process, across files."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

from ..export import otlp_json_decode
from . import readers
from .model import Resource

_ROLES: Final = {"dask-scheduler": "scheduler", "dask-worker": "worker", "dask-client": "client"}
"""Role of a process by its ``service.name``, when it does not state ``dask.process.role``."""


def resource_key(attributes: dict[str, Any]) -> str:
    """``service.instance.id`` when the resource has one, else a digest of its attributes."""
    instance = attributes.get("service.instance.id")
    if instance:
        return str(instance)
    text = json.dumps(attributes, sort_keys=True, default=str)
    return "resource-" + hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


class ResourceCatalog:
    """Resources by key; the same attribute list is decoded once per request."""

    def __init__(self, resources: dict[str, Resource]) -> None:
        self.resources = resources

    def resolve(self, items: list[otlp_json_decode.KeyValue]) -> Resource:
        """The resource of an OTLP resource's attribute list, added if it is new."""
        attributes = readers.decode_attributes(items)
        key = resource_key(attributes)
        resource = self.resources.get(key)
        if resource is None:
            role = str(attributes.get("dask.process.role") or _ROLES.get(
                str(attributes.get("service.name")), ""))
            resource = Resource(key, attributes, role)
            self.resources[key] = resource
        return resource
