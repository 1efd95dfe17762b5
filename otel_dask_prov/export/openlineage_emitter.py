"""Live OpenLineage run events from the scheduler (the ``openlineage-url`` setting).

The scheduler plugin calls :meth:`OpenLineageEmitter.started` when a
computation is submitted and :meth:`OpenLineageEmitter.ended` when it ends: each
appends a reference to the plugin's own record to a deque (tens of nanoseconds,
nothing is copied or built on Dask's event loop). A background thread builds the
events (:mod:`~otel_dask_prov.export.openlineage_format`, the same functions as
``otel-prov convert -f openlineage``) and posts them with the ``openlineage-python``
client's HTTP transport, one event per request, in order.

When the receiver is down (refused, timing out, answering 5xx, 408 or 429), the
event and every later one go to ``<spill-dir>/openlineage-<host>-<pid>-<time>.lineage``
(one event a line, bounded by ``spill-max-bytes``, written with the same line
file as the OTLP spill; JSON, but not named ``*.jsonl``, which ``otel-prov
convert`` and ``otel-prov replay`` read as traces), and the thread probes again
with the OTLP pipeline's back-off (2 s doubling to 60 s). Once the receiver
answers, the spilled events are sent first, oldest first, then the new ones:
each arrives once, in order. What is still spilled when the scheduler stops
stays in the file; the next scheduler started on the same host with the same
spill directory sends it (files of dead processes only). An event the receiver
refuses as malformed (another 4xx) is dropped and counted, with one warning, so
it cannot block the ones after it. ``otel-prov replay SPILL_DIR --openlineage-url
URL`` sends such files by hand (:func:`replay_file`).
"""

from __future__ import annotations

import collections
import logging
import os
import re
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from ..errors import ExportError, MissingPackageError
from ..settings import Settings
from . import openlineage_format as ol
from .jsonl_files import _LineFile, process_file_name

logger = logging.getLogger("otel_dask_prov")

POLL_SECONDS: Final = 0.25
"""How often the thread looks for queued events (the hooks never wake it: that costs a lock)."""
RETRY_AFTER: Final = 2.0
RETRY_AFTER_MAX: Final = 60.0
DEFAULT_ENDPOINT: Final = "api/v1/lineage"
MISSING: Final = ('otel-dask-prov: openlineage-url is set but openlineage-python is not '
                  'installed (pip install "otel-dask-prov[openlineage]"); no OpenLineage '
                  'events are sent, tracing goes on')
_SPILL_PREFIX: Final = "openlineage"
_SPILL_SUFFIX: Final = ".lineage"
_SPILL_NAME: Final = re.compile(r"openlineage-(?P<host>.+)-(?P<pid>\d+)-\d{8}T\d{6}\.lineage")
_RETRIED_STATUS: Final = frozenset({408, 429})
_START, _END = 0, 1


class Transport(Protocol):
    def emit(self, event: Any) -> Any: ...


@dataclass
class EmitterStats:
    """Counters of one emitter, for logs and tests."""

    queued: int = 0
    sent: int = 0
    spilled: int = 0
    """Events written to the spill file (each is sent later, and counted in ``sent`` then)."""
    rejected: int = 0
    """Events the receiver refused as malformed (dropped)."""
    dropped: int = 0
    """Events past ``spill-max-bytes`` or that could not be written (lost)."""
    build_errors: int = 0


def split_url(url: str) -> tuple[str, str]:
    """``(base URL, endpoint)`` for the client's transport: the URL's path, else
    ``api/v1/lineage`` (Marquez's and the OpenLineage proxy's).

    >>> split_url("http://localhost:5000")
    ('http://localhost:5000', 'api/v1/lineage')
    >>> split_url("http://host:8080/lineage/events")
    ('http://host:8080', 'lineage/events')
    """
    parts = urllib.parse.urlsplit(url)
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    path = parts.path.strip("/")
    if parts.query:
        path += "?" + parts.query
    return base, path or DEFAULT_ENDPOINT


def http_transport(settings: Settings) -> Transport | None:
    """The ``openlineage-python`` HTTP transport for ``openlineage-url``; ``None``, with one
    warning, when the client is not installed."""
    try:
        from openlineage.client.transport.http import HttpConfig, HttpTransport
    except ImportError:
        logger.warning(MISSING)
        return None
    assert settings.openlineage_url is not None
    base, endpoint = split_url(settings.openlineage_url)
    # No retries inside the transport: they would hold the thread for seconds per
    # event while the receiver is down; the emitter spills and probes instead.
    config = HttpConfig(url=base, endpoint=endpoint, timeout=settings.timeout,
                        retry={"total": 0, "connect": 0, "read": 0})
    return HttpTransport(config)


def start_emitter(settings: Settings) -> OpenLineageEmitter | None:
    """A started emitter for the scheduler, or ``None`` without ``openlineage-url`` or
    without the client (then one warning)."""
    if settings.openlineage_url is None:
        return None
    transport = http_transport(settings)
    if transport is None:
        return None
    emitter = OpenLineageEmitter(settings, transport)
    emitter.start()
    return emitter


class OpenLineageEmitter:
    """Sends the run events of the scheduler's computations, spilling while the receiver
    is down (see the module doc)."""

    def __init__(self, settings: Settings, transport: Transport) -> None:
        self.settings = settings
        self.transport = transport
        self.namespace = settings.openlineage_namespace
        self.stats = EmitterStats()
        self.spill_path = settings.effective_spill_dir / process_file_name(
            _SPILL_PREFIX, _SPILL_SUFFIX)
        self._spill = _LineFile(self.spill_path)
        self._spilled_bytes = 0
        self._spilled_lines = 0  # lines in the spill file now
        self._queue: collections.deque[tuple[int, Any, Any]] = collections.deque()
        self._prefixes: dict[int, list[str]] = {}
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0
        self._retry_after = RETRY_AFTER
        self._warned: set[str] = set()
        self._distributed = _distributed_version()

    # -- hot path (Dask's event loop) -------------------------------------------
    def started(self, record: Any, tasks: list[Any]) -> None:
        """A computation began: *record* is the plugin's
        :class:`~otel_dask_prov.capture.records.ComputationRecord`, *tasks* its new
        ``TaskState`` objects (read on the thread for their prefixes)."""
        self._queue.append((_START, record, tasks))

    def ended(self, record: Any, error: tuple[str, str, str | None] | None,
              cancelled: bool = False) -> None:
        """The computation of *record* ended; *error* is the first failed task's
        ``(exception type, message, traceback text)``, if one failed; *cancelled*
        whether the client released a task of it before it ended."""
        self._queue.append((_END, record, (error, cancelled)))

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="otel-dask-prov-openlineage",
                                        daemon=True)
        self._thread.start()

    def shutdown(self, timeout: float | None = None) -> EmitterStats:
        """Send (or spill) what is queued and stop the thread. Idempotent."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.settings.timeout + 5.0 if timeout is None else timeout)
        self._spill.close()
        if self._spilled_lines:
            logger.warning("otel-dask-prov: %d OpenLineage events could not be sent to %s and "
                           "wait in %s; the next scheduler started with this spill directory "
                           "sends them", self._spilled_lines, self.settings.openlineage_url,
                           self.spill_path)
        return self.stats

    @property
    def pending(self) -> int:
        """Events not sent yet: queued, or waiting in the spill file."""
        return len(self._queue) + self._spilled_lines

    # -- thread -------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._adopt_dead_spills()
        except OSError as error:
            self._warn_once("adopt", "could not read the OpenLineage spill files in %s: %s",
                            self.spill_path.parent, error)
        while not self._stopping:
            self._wake.wait(POLL_SECONDS)
            self._flush()
        self._flush()

    def _flush(self) -> None:
        lines = self._build_queued()
        if not lines and not self._spilled_lines:
            return
        if time.monotonic() < self._retry_at or not self._send_spilled():
            self._spill_lines(lines)
            return
        for index, line in enumerate(lines):
            if not self._send(line):
                self._spill_lines(lines[index:])
                return

    def _build_queued(self) -> list[str]:
        lines = []
        queue = self._queue
        while queue:
            kind, record, extra = queue.popleft()
            self.stats.queued += 1
            try:
                lines.append(ol.dumps(self._event(kind, record, extra)))
            except Exception as error:  # noqa: BLE001 - a bad record must not stop the rest
                self.stats.build_errors += 1
                self._warn_once("build", "could not build an OpenLineage event: %r", error)
        return lines

    def _event(self, kind: int, record: Any, extra: Any) -> dict[str, Any]:
        if kind == _START:
            prefixes = sorted({ts.prefix.name for ts in extra})
            self._prefixes[record.span_id] = prefixes
            return ol.start_event(self._computation(record, prefixes), self.namespace)
        known = record.span_id in self._prefixes
        computation = self._computation(
            record, self._prefixes.pop(record.span_id) if known else list(record.prefixes))
        computation.end = record.end
        error, cancelled = extra
        if record.unfinished:
            computation.outcome = "unfinished"
        elif record.erred_tasks:
            computation.outcome = "error"
            if error is not None:
                (computation.error_type, computation.error_message,
                 computation.error_stacktrace) = error
        elif cancelled:
            computation.outcome = "cancelled"
        else:
            computation.outcome = "success"
        return ol.end_event(computation, self.namespace)

    def _computation(self, record: Any, prefixes: list[str]) -> ol.Computation:
        return ol.Computation(
            trace_id=f"{record.trace_id:032x}", span_id=f"{record.span_id:016x}",
            start=record.start, prefixes=prefixes, client=record.client or None,
            shared_trace=record.parent_span_id is not None,
            distributed_version=self._distributed)

    def _send(self, line: str) -> bool:
        """Post one event; False when the receiver is away (the caller spills it)."""
        try:
            self.transport.emit(_RawEvent(line))
        except Exception as error:  # noqa: BLE001 - requests and urllib3 raise many kinds
            status = getattr(getattr(error, "response", None), "status_code", None)
            if status is not None and 400 <= status < 500 and status not in _RETRIED_STATUS:
                self.stats.rejected += 1
                self._warn_once("rejected", "the OpenLineage receiver %s refused an event "
                                "(%s); such events are dropped", self.settings.openlineage_url,
                                error)
                return True
            self._warn_once("send", "could not send OpenLineage events to %s (%s); keeping "
                            "them in %s until it is back", self.settings.openlineage_url,
                            error, self.spill_path)
            self._retry_at = time.monotonic() + self._retry_after
            self._retry_after = min(self._retry_after * 2, RETRY_AFTER_MAX)
            return False
        self.stats.sent += 1
        self._retry_after = RETRY_AFTER
        self._retry_at = 0.0
        return True

    # -- the spill file ----------------------------------------------------------------
    def _spill_lines(self, lines: list[str]) -> None:
        for line in lines:
            size = len(line.encode("utf-8")) + 1
            if self._spilled_bytes + size > self.settings.spill_max_bytes:
                self.stats.dropped += 1
                self._warn_once("full", "the OpenLineage spill file %s is full; dropping "
                                "events", self.spill_path)
                continue
            try:
                self._spill.write(line + "\n")
            except OSError as error:
                self.stats.dropped += 1
                self._warn_once("spill", "cannot write the OpenLineage spill file %s: %s",
                                self.spill_path, error)
                continue
            self._spilled_bytes += size
            self._spilled_lines += 1
            self.stats.spilled += 1

    def _send_spilled(self) -> bool:
        """Send the spill file's events, oldest first; keep those not sent. Whether all went."""
        if not self._spilled_lines:
            return True
        self._spill.close()
        lines = [line for line in self.spill_path.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
        for index, line in enumerate(lines):
            if not self._send(line):
                _rewrite(self.spill_path, lines[index:])
                self._spilled_lines = len(lines) - index
                self._spilled_bytes = sum(len(rest.encode("utf-8")) + 1
                                          for rest in lines[index:])
                return False
        self.spill_path.unlink(missing_ok=True)
        self._spilled_lines = 0
        self._spilled_bytes = 0
        return True

    def _adopt_dead_spills(self) -> None:
        """Take over the spill files that dead schedulers of this host left in the directory."""
        directory = self.spill_path.parent
        if not directory.is_dir():
            return
        host = socket.gethostname()
        for path in sorted(directory.glob(f"{_SPILL_PREFIX}-*{_SPILL_SUFFIX}")):
            match = _SPILL_NAME.fullmatch(path.name)
            if (path == self.spill_path or match is None or match["host"] != host
                    or _alive(int(match["pid"]))):
                continue
            claimed = path.with_name(f"{path.name}.{os.getpid()}.claimed")
            try:
                path.rename(claimed)  # atomic: one claimant wins
            except OSError:
                continue
            lines = [line for line in claimed.read_text(encoding="utf-8").splitlines()
                     if line.strip()]
            self._spill_lines(lines)
            self.stats.spilled -= len(lines)  # counted where they were spilled first
            claimed.unlink()

    def _warn_once(self, what: str, message: str, *args: object) -> None:
        if what not in self._warned:
            self._warned.add(what)
            logger.warning("otel-dask-prov: " + message, *args)


class _RawEvent(dict[str, Any]):
    """An event the transport posts as it is: ``Serde.to_json`` of a mapping is the
    mapping as JSON, so the line is decoded once here, not rebuilt."""

    def __init__(self, line: str) -> None:
        import json

        super().__init__(json.loads(line))


def _rewrite(path: Path, lines: list[str]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    temporary.replace(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _distributed_version() -> str | None:
    try:
        import distributed
    except ImportError:
        return None
    return str(distributed.__version__)


def spill_files(paths: list[Path]) -> list[Path]:
    """The OpenLineage spill files among *paths*: files named ``*.lineage``, and those
    in directories (searched recursively)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob(f"{_SPILL_PREFIX}-*{_SPILL_SUFFIX}")))
        elif path.suffix == _SPILL_SUFFIX and path.is_file():
            found.append(path)
    return found


def replay_file(path: Path, settings: Settings) -> int:
    """Send the events of the spill file *path* to ``openlineage-url``, in order; remove the
    file when all went and return how many. When the receiver does not take one, the
    events not sent are written back to *path* and :class:`~otel_dask_prov.errors.ExportError`
    says so."""
    transport = http_transport(settings)
    if transport is None:
        raise MissingPackageError('sending OpenLineage events needs openlineage-python; '
                                  'install it with: pip install "otel-dask-prov[openlineage]"')
    emitter = OpenLineageEmitter(settings, transport)
    emitter._warned.add("send")  # the error below says it, once
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if not emitter._send(line):
            _rewrite(path, lines[index:])
            raise ExportError(f"{path}: the OpenLineage receiver {settings.openlineage_url} did "
                              f"not take the events; sent {index}, {len(lines) - index} remain "
                              "in the file")
    path.unlink()
    return len(lines)
