"""Auto-instrumentation: ``opentelemetry-instrument dask scheduler|worker``.

:class:`DaskInstrumentor` is registered under the ``opentelemetry_instrumentor``
entry point, so the ``opentelemetry-instrument`` command enables it in every
Python process it starts::

    export OTEL_TRACES_EXPORTER=none          # see below
    opentelemetry-instrument dask scheduler
    opentelemetry-instrument dask worker tcp://scheduler:8786

Instrumenting adds ``otel_dask_prov`` to the Dask config keys
``distributed.scheduler.preload`` and ``distributed.worker.preload`` of the
process, which is what ``--preload otel_dask_prov`` does on the command line.
It works for every scheduler and worker the process starts afterwards: the
``dask`` commands, worker processes started by a nanny, and a ``LocalCluster``
in a program run as ``opentelemetry-instrument python program.py``. Like
:func:`otel_dask_prov.install`, it also asks clients to send the calling code
with each computation (``distributed.diagnostics.computations.nframes``).

Settings come from the usual places (``OTEL_*`` variables, the ``otel-dask-prov``
Dask config section); ``opentelemetry-instrument --exporter_otlp_endpoint URL``
sets ``OTEL_EXPORTER_OTLP_ENDPOINT`` and so reaches our exporter too.

Two things to know:

* Dask ignores the preload config keys when a command line has ``--preload``
  of its own: add ``--preload otel_dask_prov`` to such a command yourself.
* Our plugins export through their own pipeline, not through the global
  ``TracerProvider``. If an OpenTelemetry distro is installed
  (``opentelemetry-distro``), ``opentelemetry-instrument`` also sets up that
  global provider with an OTLP exporter for other instrumentations; set
  ``OTEL_TRACES_EXPORTER=none`` when the Dask traces are all you want.

Programmatic use, e.g. in a ``sitecustomize`` of your own:

>>> from otel_dask_prov.capture.instrumentor import DaskInstrumentor
>>> DaskInstrumentor().instrument()      # doctest: +SKIP
>>> DaskInstrumentor().uninstrument()    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import dask.config
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

PRELOAD_MODULE = "otel_dask_prov"
"""The module Dask preloads: its ``dask_setup`` installs the tracing plugins."""

PRELOAD_ROLES = ("scheduler", "worker")
"""Dask config sections whose ``preload`` list gets :data:`PRELOAD_MODULE`."""

NFRAMES_KEY = "distributed.diagnostics.computations.nframes"

_INSTRUMENTS = ("distributed >= 2023.7.1",)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def add_preload(config: dict[str, Any], role: str) -> dict[str, Any]:
    """Config updates that append :data:`PRELOAD_MODULE` to ``distributed.<role>.preload``.

    *config* is the current ``distributed.<role>`` section. ``preload-argv`` is kept
    aligned with ``preload``: a flat argument list (which Dask gives to *every*
    preload) becomes one list per existing preload, and ours gets none. Returns
    ``{}`` when the module is already there.
    """
    preload = _as_list(config.get("preload"))
    if PRELOAD_MODULE in preload:
        return {}
    argv = _as_list(config.get("preload-argv"))
    updates: dict[str, Any] = {f"distributed.{role}.preload": [*preload, PRELOAD_MODULE]}
    if argv:
        per_preload = [argv] * len(preload) if isinstance(argv[0], str) else argv
        updates[f"distributed.{role}.preload-argv"] = [*per_preload, []]
    return updates


def remove_preload(config: dict[str, Any], role: str) -> dict[str, Any]:
    """Config updates that take :data:`PRELOAD_MODULE` (and its argv entry) out again."""
    preload = _as_list(config.get("preload"))
    if PRELOAD_MODULE not in preload:
        return {}
    index = preload.index(PRELOAD_MODULE)
    updates: dict[str, Any] = {
        f"distributed.{role}.preload": preload[:index] + preload[index + 1:]
    }
    argv = _as_list(config.get("preload-argv"))
    if argv and not isinstance(argv[0], str) and len(argv) == len(preload):
        updates[f"distributed.{role}.preload-argv"] = argv[:index] + argv[index + 1:]
    return updates


class DaskInstrumentor(BaseInstrumentor):
    """Trace every Dask scheduler and worker this process starts (see the module docs)."""

    _nframes_set = False

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        updates: dict[str, Any] = {}
        for role in PRELOAD_ROLES:
            updates.update(add_preload(dask.config.get(f"distributed.{role}", {}), role))
        self._nframes_set = not dask.config.get(NFRAMES_KEY, 0)
        if self._nframes_set:
            updates[NFRAMES_KEY] = 1
        dask.config.set(updates)

    def _uninstrument(self, **kwargs: Any) -> None:
        updates: dict[str, Any] = {}
        for role in PRELOAD_ROLES:
            updates.update(remove_preload(dask.config.get(f"distributed.{role}", {}), role))
        if self._nframes_set:
            updates[NFRAMES_KEY] = 0
            self._nframes_set = False
        dask.config.set(updates)
