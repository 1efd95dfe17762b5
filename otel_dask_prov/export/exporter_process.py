"""The exporter process: builds, encodes and exports a Dask process's spans beside it.

A :class:`~otel_dask_prov.export.span_pipeline.SpanPipeline` with the
``export-process`` setting on (the default) starts one exporter process, a
plain Python interpreter running this module, and from then on only journals
its records (:mod:`otel_dask_prov.export.journal`): the exporter process follows
the journal, turns the records into spans, encodes and exports them, and
commits what it delivered. Building and encoding spans then never holds the GIL
that Dask's event loop needs, however long the computation stays busy, and
the records need no memory in the Dask process.

The two processes share the journal's ``flock`` (the child inherits the open
lock), so no other process recovers the journal while either lives. The Dask
process writes the export settings as one JSON line on the child's standard
input and keeps that pipe open; its end, whether the Dask process closed it or
died, tells the exporter process to deliver the rest, finish the computations
still open, remove the journal and exit.

Some records are not spans but notes for later: a record class with an
``AFTER_EXIT`` attribute is gathered (by that attribute's value) instead of
exported, and once the Dask process is gone the exporter process calls the
class's ``after_exit(records, context)``. The worker's Darshan pick-up works
this way (:mod:`otel_dask_prov.capture.probes.darshan_pickup`): the Darshan
runtime writes its log only when the worker process exits.

Helper processes (this one, and what ``after_exit`` starts) run with
:func:`helper_environment`: without an I/O tracer such as Darshan preloaded into
them, which would otherwise trace them and write logs of their own; and through
:func:`helper_command`, ignoring the SIGTERM that ends a batch job's processes.
"""

from __future__ import annotations

import json
import logging
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from ..settings import Settings, resolve_settings

logger = logging.getLogger("otel_dask_prov")

EXPORT_SETTINGS = (
    "endpoint", "protocol", "headers", "certificate", "insecure", "compression", "timeout",
    "otlp_exporter", "output_dir", "spill_dir", "spill_max_bytes", "export_interval",
    "max_export_batch_size", "trace_file_format",
)
"""The settings the exporter process needs, passed on explicitly (the Dask config of
the Dask process, set in code, is not visible to a new interpreter)."""


def export_settings(settings: Settings) -> dict[str, Any]:
    """The :data:`EXPORT_SETTINGS` of *settings* as JSON values."""
    values: dict[str, Any] = {}
    for name in EXPORT_SETTINGS:
        value = getattr(settings, name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        values[name] = value
    return values


PRELOADED_TRACERS = ("libdarshan",)
"""Libraries left out of ``LD_PRELOAD`` for helper processes."""


def helper_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """*environ* (the process's own by default) without :data:`PRELOADED_TRACERS` in
    ``LD_PRELOAD``."""
    environment = dict(os.environ if environ is None else environ)
    preload = environment.get("LD_PRELOAD")
    if preload:
        kept = [entry for entry in preload.replace(":", " ").split()
                if not any(tracer in Path(entry).name for tracer in PRELOADED_TRACERS)]
        if kept:
            environment["LD_PRELOAD"] = " ".join(kept)
        else:
            del environment["LD_PRELOAD"]
    return environment


def helper_command(module: str, *args: str) -> list[str]:
    """The command running *module* as a helper process that ignores ``SIGTERM`` from its
    first instant (before its imports, which take a while).

    A batch system ends a job with SIGTERM to every process of it (Slurm: SIGKILL
    after ``KillWait``, 30 s by default): the Dask process exits then, and a helper
    must outlive it to deliver the rest and run the follow-ups. Helpers end by
    themselves once their Dask process is gone; SIGKILL still ends them.
    """
    bootstrap = ("import runpy, signal, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                 "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)")
    return [sys.executable, "-c", bootstrap, module, *args]


def start_exporter_process(journal_directory: Path, lock_fd: int,
                           settings: Settings) -> subprocess.Popen[bytes]:
    """Start the exporter process of the journal in *journal_directory*; raises ``OSError``.

    *lock_fd* is the journal's locked descriptor, shared with the child.
    """
    process = subprocess.Popen(
        helper_command(__name__, str(journal_directory), str(lock_fd)),
        stdin=subprocess.PIPE, pass_fds=(lock_fd,), start_new_session=True,
        env=helper_environment(),
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(export_settings(settings)).encode() + b"\n")
    process.stdin.flush()
    return process


def _owner_gone(control: IO[bytes], timeout: float, parent: int) -> bool:
    """Wait up to *timeout* seconds; whether the Dask process closed the pipe or died."""
    readable, _, _ = select.select([control], [], [], timeout)
    if readable and not os.read(control.fileno(), 4096):
        return True
    return os.getppid() != parent  # died, with the pipe held open by a forked child


def follow(journal_directory: Path, settings: Settings, control: IO[bytes]) -> int:
    """Export the journal as it grows until the Dask process is gone; return the records."""
    from opentelemetry.sdk.resources import Resource

    from .journal import JournalReader
    from .span_pipeline import JournalDelivery, SpanPipeline

    reader = JournalReader(journal_directory)
    pipeline = SpanPipeline(settings, Resource(reader.resource), journal=False)
    delivery = JournalDelivery(pipeline, reader)
    parent = os.getppid()
    gathered: dict[str, list[Any]] = {}
    gone = False
    while not gone:
        gone = _owner_gone(control, settings.export_interval, parent)
        delivery.take(_gather(reader.read(final=gone), gathered))
        pipeline.drain()
    delivery.finish_open()
    stats = pipeline.shutdown()
    reader.close()
    _after_exit(gathered, settings, reader.resource)
    if reader.torn_frames:
        logger.warning("otel-dask-prov: %s ended with %d torn record(s) (the process died "
                       "while writing them)", journal_directory, reader.torn_frames)
    shutil.rmtree(journal_directory, ignore_errors=True)
    return stats.records


MAX_GATHERED = 200_000
"""Records gathered per ``AFTER_EXIT`` group; later ones are dropped."""


def _gather(entries: list[tuple[int, Any, bool]],
            gathered: dict[str, list[Any]]) -> list[tuple[int, Any, bool]]:
    """The *entries* to export; those of an ``AFTER_EXIT`` class go to *gathered*."""
    exported = []
    for entry in entries:
        group = getattr(type(entry[1]), "AFTER_EXIT", None)
        if group is None:
            exported.append(entry)
            continue
        records = gathered.setdefault(group, [])
        if len(records) < MAX_GATHERED:
            records.append(entry[1])
    return exported


def _after_exit(gathered: Mapping[str, list[Any]], settings: Settings,
                resource: Mapping[str, Any]) -> None:
    """Hand each group of gathered records to its class's ``after_exit``."""
    context = {"settings": export_settings(settings), "resource": dict(resource)}
    for group, records in gathered.items():
        try:
            type(records[0]).after_exit(records, context)
        except Exception as error:  # noqa: BLE001 - one group must not stop the others
            logger.warning("otel-dask-prov: the %s follow-up of a process failed: %r",
                           group, error)


def main(argv: list[str]) -> int:
    logging.basicConfig(format="%(message)s", level=logging.WARNING)
    journal_directory, _lock_fd = Path(argv[0]), int(argv[1])  # the lock is held by being open
    line = sys.stdin.buffer.readline()
    try:
        settings = resolve_settings(_check_filesystem=False, **json.loads(line))
    except (ValueError, TypeError) as error:
        logger.warning("otel-dask-prov: the exporter process got no usable settings (%s); "
                       "the journal %s is left for recovery", error, journal_directory)
        return 2
    follow(journal_directory, settings, sys.stdin.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
