"""Capture: record what Dask does, on the hot path, as cheaply as possible.

The scheduler plugin (:mod:`.scheduler_plugin`) and the worker plugin
(:mod:`.worker_plugin`) turn Dask's hooks into small records
(:mod:`.records`): one per computation, task attempt and execution. Span ids
are derived on both sides from what Dask already sends (:mod:`.span_ids`), so a
worker's span nests under the scheduler's without an extra message. The
process is described once (:mod:`.resource`); the executing thread is observed
by :mod:`.task_thread`, and the optional provenance (code, deployment, I/O,
arguments, files, profiles, Darshan counters) by the probes in :mod:`.probes`.
:mod:`.instrumentor` makes ``opentelemetry-instrument dask ...`` load the plugins.

Records are handed to :mod:`otel_dask_prov.export`, which builds, encodes and
ships the spans off the event loop.
"""
