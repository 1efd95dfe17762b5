"""Where spans go: the journal, the exporter process, and the pipeline that exports.

The plugins never build OpenTelemetry spans on Dask's event loop. They hand
cheap *records* (anything with a ``to_span_data()`` method) to a
:class:`SpanPipeline`, which first copies each into the process's
:class:`~otel_dask_prov.export.journal.Journal` (so a killed process loses
nothing). By default an exporter process
(:mod:`~otel_dask_prov.export.exporter_process`) follows the journal and turns
the records into spans and exports them there, every ``export_interval``
seconds, in batches: nothing of that runs in the Dask process. Without it
(``export-process`` off, or a record the journal could not take) the
pipeline's own background thread does the same; as building and encoding
spans holds the GIL that Dask's event loop needs, while records keep arriving
(the process is busy) that thread waits, up to ``max_export_delay`` seconds or
:data:`BUSY_BACKLOG` records, and exports in the first quiet interval instead.
Either way, delivered batches are committed in the journal, and:

* with an endpoint: OTLP over gRPC, HTTP/protobuf or HTTP/JSON, the requests
  written by our own encoders (:mod:`~otel_dask_prov.export.exporters`); a batch
  that cannot be delivered (collector down, refusing,
  timing out) goes to a bounded :class:`~otel_dask_prov.export.jsonl_files.SpillFile`
  instead of being lost, and while the collector stays away later batches go
  straight there (re-probing with exponential back-off), so an outage costs the
  computation nothing and the exporter at most one timeout per probe;
* without one: OTLP JSON lines to a file of this process in ``output_dir``.

Nothing here raises into Dask: failures are logged once at WARNING and counted
in :class:`PipelineStats`.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from opentelemetry.sdk.resources import Resource

from .. import attributes as attr
from ..settings import BUSY_BACKLOG, Settings
from .exporter_process import start_exporter_process
from .exporters import SpanDataExporter, create_exporter
from .journal import DeadJournal, Journal, JournalReader, dead_journals
from .jsonl_files import JsonLinesExporter, SpillFile, process_file_name
from .line_encoding import LineEncoding
from .log_data import LogData
from .otlp_json import resource_prefix
from .otlp_logs import logs_prefix
from .span_data import SpanData

logger = logging.getLogger("otel_dask_prov")
EXPORTER_RESTARTS = 3
"""How often a pipeline starts its exporter process again after it died."""
_JOURNALS = itertools.count(1)
"""Numbers the journals of this process (in-process clusters run several pipelines)."""


T = TypeVar("T")


class SpanRecord(Protocol):
    """Something the hot path recorded that becomes spans later, off the event loop."""

    def to_span_data(self) -> Iterable[SpanData]: ...


@dataclass
class PipelineStats:
    """Counters of one pipeline, for logs, tests and ``otel-prov`` summaries."""

    records: int = 0
    exported: int = 0
    spilled: int = 0
    dropped: int = 0
    failed_exports: int = 0
    build_errors: int = 0
    unjournaled: int = 0
    """Records kept in memory only (journal full or unwritable): lost if the process is killed."""
    recovered: int = 0
    """Records of dead processes' journals delivered by this pipeline."""
    logs_exported: int = 0
    """Log records of tasks delivered (``record_logs``)."""


class SpanPipeline:
    """Turns records into spans and exports them, on one background thread.

    :meth:`put` is what the hot path calls: it writes the record to this
    process's :class:`~otel_dask_prov.export.journal.Journal` (so it survives
    the process) and appends it to a deque. Started, the pipeline first
    delivers the journals of dead processes of this host
    (:func:`recover_journal`).

    *exporter* replaces the one the settings choose; ``journal=False`` keeps
    records in memory only.
    """

    #: Back-off after a failed export, doubled on each failure up to the maximum.
    RETRY_AFTER = 2.0
    RETRY_AFTER_MAX = 60.0

    def __init__(self, settings: Settings, resource: Resource, *,
                 exporter: SpanDataExporter | None = None, journal: bool = True) -> None:
        self.settings = settings
        self.resource = resource
        self.exporter = exporter if exporter is not None else create_exporter(settings, resource)
        self.stats = PipelineStats()
        self.journal: Journal | None = None
        if journal and settings.journal_max_bytes > 0:
            self.journal = Journal(settings.effective_journal_dir, dict(resource.attributes),
                                   settings.journal_max_bytes,
                                   process_file_name(self._service, f"-{next(_JOURNALS)}"))
        self._commit: Callable[[int], None] | None = (
            self.journal.commit if self.journal is not None else None)
        self._queue: collections.deque[tuple[SpanRecord, int]] = collections.deque()
        self._put_lock = threading.Lock()
        self._exporter_process: subprocess.Popen[bytes] | None = None
        self._exporter_restarts = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._spill: SpillFile | None = None
        self._retry_at = 0.0
        self._retry_after = self.RETRY_AFTER
        self._warned: set[str] = set()
        self._stop_lock = threading.Lock()

    # -- hot path -------------------------------------------------------
    def put(self, record: SpanRecord) -> None:
        """Journal one record and queue it for export: a few µs, cheap enough for the event loop."""
        journal = self.journal
        if journal is None:
            self._queue.append((record, 0))
        else:
            with self._put_lock:  # queue order is journal order, so commits never skip a record
                position = journal.append(record)
                if not position or self._exporter_process is None:
                    self._queue.append((record, position))
        if len(self._queue) >= self.settings.max_queue_size:
            self._wake.set()

    def put_provisional(self, record: SpanRecord) -> None:
        """Journal *record* as it is now without exporting it (an open computation).

        If this process dies before a record with the same ``span_id`` is
        :meth:`put`, the recovery delivers this one, its end moved to the latest
        end among the dead process's records.
        """
        if self.journal is not None:
            self.journal.append(record, provisional=True)

    @property
    def exporter_process_running(self) -> bool:
        """Whether an exporter process follows this pipeline's journal (it outlives this
        process and runs the journal's ``AFTER_EXIT`` follow-ups)."""
        process = self._exporter_process
        return process is not None and process.poll() is None

    @property
    def _service(self) -> str:
        return str(self.resource.attributes.get(attr.SERVICE_NAME, "dask"))

    @property
    def pending(self) -> int:
        """Records waiting to be built and exported (held back while busy, or not yet due);
        an exporter process behind the journal counts as one."""
        behind = (self._exporter_process is not None and self.journal is not None
                  and self.journal.last_position > self.journal.committed())
        return len(self._queue) + behind

    # -- lifecycle ------------------------------------------------------
    def start(self) -> None:
        """Start the export thread (it delivers dead processes' journals first) and, with
        the ``export-process`` setting, the exporter process that exports the journal."""
        self._thread = threading.Thread(
            target=self._run, name="otel-dask-prov-export", daemon=True
        )
        self._thread.start()
        journal = self.journal
        if self.settings.export_process and journal is not None and journal.usable:
            try:
                self._exporter_process = start_exporter_process(
                    journal.directory, journal.lock_fd, self.settings)
            except OSError as error:
                self._warn_once("process", "cannot start the exporter process (%s); exporting "
                                "from this process instead", error)

    def shutdown(self, timeout: float | None = None) -> PipelineStats:
        """Export everything still queued, then close the exporter. Idempotent."""
        with self._stop_lock:
            if self._stopping:
                return self.stats
            self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        else:
            self.drain()
        try:
            self.exporter.shutdown()
        except Exception as error:  # noqa: BLE001 - never raise into Dask
            self._warn_once("shutdown", "exporter shutdown failed: %s", error)
        if self.journal is not None:
            self.stats.unjournaled = self.journal.unjournaled
            finished = self._thread is None or not self._thread.is_alive()
            process = self._exporter_process
            self.journal.close(delivered_everything=(
                process is None and finished and not self._queue))
            if process is not None:
                self._finish_exporter_process(process)
            if self.journal.unjournaled:
                logger.warning("otel-dask-prov: %d records were not journaled (kept in memory "
                               "only)", self.journal.unjournaled)
        if self._spill is not None:
            self._spill.close()
            logger.warning(
                "otel-dask-prov: %d spans (and %d task log records) could not be delivered "
                "and were written to %s (%d and %d dropped past its size bound); deliver them "
                "with `otel-prov replay`",
                self._spill.spilled,
                self._spill.logs_spilled,
                self._spill.path,
                self._spill.dropped,
                self._spill.logs_dropped,
            )
        return self.stats

    def _finish_exporter_process(self, process: subprocess.Popen[bytes]) -> None:
        """Let the exporter process deliver the rest and exit; do it here if it cannot."""
        assert self.journal is not None
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()  # its cue: deliver the rest, remove the journal, exit
        try:
            process.wait(max(30.0, 3 * self.settings.timeout))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.returncode == 0:
            return
        self._warn_once("process-failed", "the exporter process ended with status %s; "
                        "delivering its journal %s from this process", process.returncode,
                        self.journal.directory)
        self._recover_own_journal()

    def _watch_exporter_process(self) -> None:
        """Start the exporter process again if it died; after :data:`EXPORTER_RESTARTS`
        deaths, export from this process, beginning with what the journal holds."""
        process = self._exporter_process
        if process is None or self._stopping or process.poll() is None:
            return
        journal = self.journal
        assert journal is not None
        if self._exporter_restarts < EXPORTER_RESTARTS:
            self._exporter_restarts += 1
            logger.warning("otel-dask-prov: the exporter process of %s ended with status %s; "
                           "starting it again", journal.directory, process.returncode)
            try:
                self._exporter_process = start_exporter_process(
                    journal.directory, journal.lock_fd, self.settings)
                return
            except OSError as error:
                logger.warning("otel-dask-prov: cannot start it again: %s", error)
        logger.warning("otel-dask-prov: exporting the journal %s from this process from now on",
                       journal.directory)
        with self._put_lock:  # no record may be journaled between the read and the switch
            reader = JournalReader(journal.directory)
            self._queue.extend((record, position)
                               for position, record, provisional in reader.read(final=False)
                               if not provisional and position > reader.committed)
            reader.close()
            self._exporter_process = None

    def _recover_own_journal(self) -> None:
        """Deliver this process's closed journal from here (its exporter process failed)."""
        assert self.journal is not None
        for dead in dead_journals(self.journal.directory.parent):
            if dead.directory == self.journal.directory:
                self.stats.recovered += recover_journal(dead, self.settings).records
            else:
                dead.release()

    # -- background thread ---------------------------------------------
    def _run(self) -> None:
        self._recover_dead_journals()
        seen = 0  # records queued at the last look
        waiting_since: float | None = None  # when records were first seen waiting
        while not self._stopping:
            self._wake.wait(self.settings.export_interval)
            self._wake.clear()
            self._watch_exporter_process()
            queued = len(self._queue)
            now = time.monotonic()
            if queued and waiting_since is None:
                waiting_since = now
            if queued and self._hold_back(queued, seen, now - (waiting_since or now)):
                seen = queued
                continue
            self.drain()
            seen = len(self._queue)
            waiting_since = None
        self.drain()

    def _hold_back(self, queued: int, seen: int, waited: float) -> bool:
        """Whether to leave *queued* records for later: more arrived since the last
        look (*seen*), and neither bound (``max_export_delay``, :data:`BUSY_BACKLOG`)
        is reached."""
        return (queued > seen and queued < BUSY_BACKLOG
                and waited < self.settings.max_export_delay)

    def _recover_dead_journals(self) -> None:
        if self.journal is None:
            return
        try:
            for dead in dead_journals(self.settings.effective_journal_dir,
                                      skip=self.journal.directory):
                stats = recover_journal(dead, self.settings)
                self.stats.recovered += stats.records
                logger.warning("otel-dask-prov: delivered %d records that the dead process of "
                               "journal %s had not exported", stats.records, dead.directory)
        except Exception as error:  # noqa: BLE001 - never raise into Dask
            self._warn_once("recover", "could not recover the journals in %s: %r",
                            self.settings.effective_journal_dir, error)

    def drain(self) -> None:
        """Build and export everything queued now, committing the journal as batches go out."""
        batch: list[SpanData] = []
        logs: list[LogData] = []
        limit = self.settings.max_export_batch_size
        position = 0  # journal position of the last record in the batch
        while self._queue:
            record, journaled = self._queue.popleft()
            position = journaled or position
            self.stats.records += 1
            try:
                batch.extend(record.to_span_data())
                if hasattr(record, "to_log_data"):
                    logs.extend(record.to_log_data())
            except Exception as error:  # noqa: BLE001 - a bad record must not stop export
                self.stats.build_errors += 1
                self._warn_once("build", "could not build spans from a record: %r", error)
            if len(batch) >= limit or len(logs) >= limit:
                self._deliver(batch, logs)
                batch, logs = [], []
                self._commit_journal(position)
        if batch or logs:
            self._deliver(batch, logs)
        self._commit_journal(position)

    def _commit_journal(self, position: int) -> None:
        """Everything up to *position* was delivered or spilled: a recovery skips it."""
        if position and self._commit is not None:
            self._commit(position)

    def _deliver(self, spans: Sequence[SpanData], logs: Sequence[LogData] = ()) -> None:
        """Export *spans* and then the log records *logs*; spill what was not taken."""
        if time.monotonic() < self._retry_at:
            self._spill_spans(spans, logs)
            return
        spans_taken = not spans or self._export(self.exporter.export_data, spans)
        logs_taken = not logs or self._export(self.exporter.export_logs, logs)
        if spans_taken:
            self.stats.exported += len(spans)
        if logs_taken:
            self.stats.logs_exported += len(logs)
        if spans_taken and logs_taken:
            self._retry_after = self.RETRY_AFTER
            self._retry_at = 0.0
            return
        self.stats.failed_exports += 1
        reason = getattr(self.exporter, "last_error", "") or "see the exporter's log"
        self._warn_once(
            "export",
            "could not deliver spans to %s (%s); spilling to %s until it is back",
            self.settings.endpoint,
            reason,
            self._spill_file().path,
        )
        self._retry_at = time.monotonic() + self._retry_after
        self._retry_after = min(self._retry_after * 2, self.RETRY_AFTER_MAX)
        self._spill_spans(() if spans_taken else spans, () if logs_taken else logs)

    def _export(self, export: Callable[[Sequence[T]], bool], items: Sequence[T]) -> bool:
        """Whether *export* took *items* (an exporter that raises did not)."""
        try:
            return export(items)
        except Exception as error:  # noqa: BLE001 - exporters may raise on bad peers
            self._warn_once("export-raise", "export raised %r", error)
            return False

    def _spill_file(self) -> SpillFile:
        if self._spill is None:
            service = str(self.resource.attributes.get(attr.SERVICE_NAME, "dask"))
            encoding = LineEncoding(self.settings.trace_file_format)
            path = self.settings.effective_spill_dir / process_file_name(
                service, f".spill{encoding.suffix}")
            self._spill = SpillFile(path, resource_prefix(self.resource.attributes),
                                    logs_prefix(self.resource.attributes),
                                    self.settings.spill_max_bytes, encoding)
        return self._spill

    def _spill_spans(self, spans: Sequence[SpanData], logs: Sequence[LogData] = ()) -> None:
        spill = self._spill_file()
        before = spill.dropped
        spill.add(spans)
        spill.add_logs(logs)
        self.stats.spilled = spill.spilled
        self.stats.dropped = spill.dropped
        if spill.dropped > before:
            self._warn_once("dropped", "spill file %s is full; dropping spans", spill.path)

    def _warn_once(self, what: str, message: str, *args: object) -> None:
        if what not in self._warned:
            self._warned.add(what)
            logger.warning("otel-dask-prov: " + message, *args)


class JournalDelivery:
    """Feeds the records of a journal to a pipeline, each once.

    Records at or below the journal's commit mark were delivered already; a
    provisional record (an open computation) waits until a record with the same
    span id replaces it, and :meth:`finish_open` delivers those never replaced,
    ended at the latest end among the journal's records.
    """

    def __init__(self, pipeline: SpanPipeline, reader: JournalReader) -> None:
        self.pipeline = pipeline
        self.reader = reader
        self.latest = 0.0
        self.provisional: dict[object, SpanRecord] = {}
        pipeline._commit = reader.commit

    def take(self, entries: Iterable[tuple[int, SpanRecord, bool]]) -> None:
        queue = self.pipeline._queue
        committed = self.reader.committed
        for position, record, is_provisional in entries:
            self.latest = max(self.latest, getattr(record, "end", 0.0) or 0.0)
            span_id = getattr(record, "span_id", None)
            if is_provisional:
                self.provisional[span_id] = record
                continue
            if self.provisional:
                self.provisional.pop(span_id, None)
            if position > committed:
                queue.append((record, position))

    def finish_open(self) -> None:
        for record in self.provisional.values():
            record.end = max(record.end, self.latest)  # type: ignore[attr-defined]
            self.pipeline._queue.append((record, 0))
        self.provisional.clear()


def recover_journal(dead: DeadJournal, settings: Settings) -> PipelineStats:
    """Deliver what the dead process of *dead* journaled but did not export; remove it after.

    Spans go where *settings* send them, with the dead process's resource: to
    the endpoint, or without one to ``<output-dir>/<journal name>.recovered.jsonl.zst``.
    Progress is committed batch by batch, so running it again (or after being
    killed in turn) delivers nothing twice.
    """
    resource = Resource(dead.resource)
    exporter: SpanDataExporter | None = None
    if settings.endpoint is None:
        encoding = LineEncoding(settings.trace_file_format)
        exporter = JsonLinesExporter(
            settings.output_dir / f"{dead.directory.name}.recovered{encoding.suffix}",
            resource_prefix(resource.attributes), logs_prefix(resource.attributes), encoding)
    pipeline = SpanPipeline(settings, resource, exporter=exporter, journal=False)
    delivery = JournalDelivery(pipeline, dead)
    delivery.take(dead.records())
    delivery.finish_open()
    stats = pipeline.shutdown()
    if dead.torn_frames:
        logger.warning("otel-dask-prov: %s ended with %d torn record(s) (the process died "
                       "while writing them)", dead.directory, dead.torn_frames)
    dead.remove()
    return stats
