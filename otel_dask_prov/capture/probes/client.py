"""The client's side of deployment provenance: who submitted, from which code version.

The client process has no tracing plugin and no resource of its own, so it
describes itself once to the scheduler: :func:`record_client` sends a Dask
event (topic :data:`~otel_dask_prov.attributes.CLIENT_EVENT_TOPIC`) with its
host, process, Python, package digest, allowlisted environment and, when its
working directory is in a git repository, the commit, branch, remote URL
(without credentials) and whether the tree had uncommitted changes. The
scheduler plugin keeps it per client (:class:`ClientRegistry`) and puts it on
the root span of every computation that client submits, as
``dask.client.<attribute>``::

    client = Client("tcp://scheduler:8786")
    otel_dask_prov.capture.probes.record_client(client)

or, with no code, by the client preload:
``DASK_DISTRIBUTED__CLIENT__PRELOAD=otel_dask_prov``. In IPython or Jupyter it
also starts telling the scheduler which notebook cell defined each function
(:mod:`~otel_dask_prov.capture.probes.notebook`).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import platform
import socket
import subprocess
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ... import attributes as attr
from ...settings import Settings, resolve_settings
from .deployment import environment_attributes, installed_packages, packages_digest
from .notebook import watch_notebook_cells, watch_notebook_cells_async
from .redaction import Redactor

GIT_TIMEOUT = 5.0
MAX_CLIENTS = 1000
"""Clients remembered by the scheduler at once (the oldest is forgotten first)."""


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(directory), *args], capture_output=True,
                              text=True, timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _without_credentials(url: str) -> str:
    """*url* without a ``user:token@`` part (``git@host:repo`` style URLs are kept)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def git_attributes(directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Commit, branch, remote URL and dirty flag of the git repository holding *directory*."""
    where = Path(directory or os.getcwd())
    revision = _git(where, "rev-parse", "HEAD")
    if not revision:
        return {}
    attributes: dict[str, Any] = {attr.VCS_REVISION: revision}
    branch = _git(where, "rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        attributes[attr.VCS_BRANCH] = branch
    remote = _git(where, "config", "--get", "remote.origin.url")
    if remote:
        attributes[attr.VCS_REPOSITORY_URL] = _without_credentials(remote)
    status = _git(where, "status", "--porcelain", "--untracked-files=no")
    if status is not None:
        attributes[attr.VCS_DIRTY] = bool(status)
    return attributes


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def client_attributes(settings: Settings) -> dict[str, Any]:
    """What the client says about itself (unprefixed attribute names)."""
    if not settings.record_environment:
        return {}
    packages = installed_packages()
    attributes: dict[str, Any] = {
        attr.HOST_NAME: socket.gethostname(),
        attr.PROCESS_PID: os.getpid(),
        attr.PROCESS_RUNTIME_NAME: platform.python_implementation(),
        attr.PROCESS_RUNTIME_VERSION: platform.python_version(),
        attr.OS_TYPE: platform.system().lower(),
        attr.PACKAGES_DIGEST: packages_digest(packages),
    }
    for name in ("dask", "distributed"):
        if name in packages:
            attributes[attr.PACKAGE_VERSION_PREFIX + name] = packages[name]
    user = _user()
    if user:
        attributes["user.name"] = user
    attributes.update(environment_attributes(settings.environment_allowlist,
                                             Redactor(settings.redact)))
    attributes.update(git_attributes())
    return attributes


def record_client(client: Any, **options: Any) -> dict[str, Any]:
    """Describe *client*'s process to the scheduler; returns what was sent.

    *options* are settings (``record_environment``, ``environment_allowlist``,
    ``redact``); unset ones come from the environment and Dask config.
    """
    settings = resolve_settings(_check_filesystem=False, **options)
    attributes = client_attributes(settings)
    if attributes:
        client.log_event(attr.CLIENT_EVENT_TOPIC, {"client": client.id, "attributes": attributes})
    if settings.record_code:
        watch_notebook_cells(client)
    return attributes


async def record_client_async(client: Any, settings: Settings) -> None:
    """:func:`record_client` from the client's event loop (the client preload).

    The description is gathered on a thread (it runs ``git`` and lists the
    installed packages), so the loop is not held up.
    """
    loop = asyncio.get_running_loop()
    attributes = await loop.run_in_executor(None, client_attributes, settings)
    if attributes:
        await client.scheduler.log_event(topic=attr.CLIENT_EVENT_TOPIC,
                                         msg={"client": client.id, "attributes": attributes})
    if settings.record_code:
        await watch_notebook_cells_async(client)


class ClientRegistry:
    """Scheduler side: the latest description of each connected client."""

    def __init__(self) -> None:
        self._clients: dict[str, dict[str, Any]] = {}

    def event(self, topic: Any, message: Any) -> None:
        """A Dask event: keep it if it is a client's description."""
        if topic != attr.CLIENT_EVENT_TOPIC or not isinstance(message, Mapping):
            return
        client, attributes = message.get("client"), message.get("attributes")
        if not isinstance(client, str) or not isinstance(attributes, Mapping):
            return
        if client not in self._clients and len(self._clients) >= MAX_CLIENTS:
            self._clients.pop(next(iter(self._clients)))
        self._clients[client] = {
            attr.CLIENT_PREFIX + str(name): value for name, value in attributes.items()
            if isinstance(value, (str, bool, int, float))
        }

    def attributes(self, client: str) -> dict[str, Any]:
        """Attributes for the root span of a computation of *client* (empty if unknown)."""
        return self._clients.get(client, {})

    def forget(self, client: str) -> None:
        self._clients.pop(client, None)
