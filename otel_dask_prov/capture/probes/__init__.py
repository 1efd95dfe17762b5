"""Provenance beyond "which task ran when": code, deployment, data, I/O, profiles.

Each part is a setting (:mod:`otel_dask_prov.settings`); ``docs/provenance.md``
lists every attribute, its default, its cost and how it maps to PROV.

=================================  =======  ===================================
part                               default  module
=================================  =======  ===================================
code (function, digest, cell)      on       :mod:`.code`
deployment (resource attributes)   on       :mod:`.deployment`, :mod:`.client`
per-task I/O of the thread         on       :mod:`.task_io`
literal arguments                  off      :mod:`.arguments`
files opened                       off      :mod:`.files`
result content hash                off      :mod:`.recorder`
Yappi profile per task             off      :mod:`.profiling`
Darshan counters and DXT segments  off      :mod:`.darshan_logs`
=================================  =======  ===================================

Secrets stay out by default: no argument values, no environment variables, no
tracebacks, no Dask config; when enabled, names and values matching ``redact``
are masked (:mod:`.redaction`).
"""

from __future__ import annotations

from .client import record_client

__all__ = ["record_client"]
