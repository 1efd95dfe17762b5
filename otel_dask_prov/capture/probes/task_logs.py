"""Per-attempt logs: what a task logged while it ran, kept for its execution span.

A :class:`LogCapture` belongs to the worker's
:class:`~.recorder.TaskRecorder`. While a task function runs, its executing thread
holds an :class:`AttemptLogs` buffer (a thread-local); the process's ``logging``
record factory, wrapped once per process, copies into it the records created *on
that thread* at the ``log_level`` setting and above, so the records of a task
running on another thread of the same worker never mix in. No handler is added:
where records are written, and whether Python's last-resort handler prints a
warning that no handler takes, stays as it was. With the ``record_output``
setting, ``sys.stdout`` and ``sys.stderr`` are wrapped too: what a task writes is
still written, and each line is also kept (one record per line).

Only records that a logger creates are seen: one below its logger's level is
never made (the levels of the user's loggers are left as they are; let INFO
through with ``logging.getLogger("mypackage").setLevel("INFO")`` as well as
``log_level = "info"``). Records of other threads a task starts are not the
task's. The Dask worker's own "Compute Failed" record, made on the event loop
after the task failed, names the task's key and joins that attempt.

Bounds: ``log_max_records`` per attempt and ``log_max_process_records`` per worker
over its life (what is past them is counted, and the attempt's last record says how
many in ``dask.log.dropped``), and :data:`MAX_BODY_CHARS` per record. Texts are
masked with the ``redact`` rules: the values of secret-looking environment
variables and of the task's secret-named keyword arguments. Nothing here raises
into Dask or the logging call: a failure is counted in :attr:`LogCapture.errors`.

>>> from otel_dask_prov.settings import resolve_settings
>>> capture = LogCapture(resolve_settings(redact=("password",)))
>>> buffer = capture.start()
>>> logging.getLogger("demo").warning("could not open %s", "input.nc")
>>> logging.getLogger("demo").info("not kept: below the default level")
>>> entries, dropped = capture.stop(buffer, None)
>>> [(entry[2], entry[3], entry[5]) for entry in entries], dropped
([('WARNING', 'could not open input.nc', 'demo')], 0)
>>> capture.close()
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from ... import attributes as attr
from ...settings import Settings
from .code import resolve_call
from .redaction import MIN_SECRET_LENGTH, Redactor

logger = logging.getLogger("otel_dask_prov")

LogEntry = tuple[float, int, str, str, str, str | None, str | None, int | None, str | None,
                 str | None, str | None, str | None]
"""One kept record, plain values for the journal: ``(time in seconds, severity number,
severity text, body, source, logger, file, line, function, exception type, exception
message, exception stacktrace)``; ``source`` is one of :data:`~otel_dask_prov.attributes.LOG_SOURCES`."""

MAX_BODY_CHARS = 8192
"""Longest body (and exception stacktrace) kept; longer ones are cut, ending in ``...``."""
MAX_WORKER_RECORDS = 1024
"""Worker records waiting for their attempt to end, at most (a full table starts over)."""
_OWN_LOGGER = "otel_dask_prov"
_OUTPUT_SEVERITY = {attr.LOG_FROM_STDOUT: (9, "INFO"), attr.LOG_FROM_STDERR: (13, "WARNING")}
"""Severity of a line of output: stdout INFO, stderr WARNING."""

_thread = threading.local()
"""``_thread.logs``: the :class:`AttemptLogs` of the task the current thread runs, if any."""
worker_records: dict[Any, LogEntry] = {}
"""Task key -> the worker's "Compute Failed" record, until the attempt's record takes it."""


def severity_number(levelno: int) -> int:
    """The OpenTelemetry severity of a ``logging`` level: DEBUG 5, INFO 9, WARNING 13,
    ERROR 17, CRITICAL 21 (levels in between in proportion).

    >>> [severity_number(level) for level in (10, 20, 25, 30, 40, 50)]
    [5, 9, 11, 13, 17, 21]
    """
    return min(24, max(1, 5 + (levelno - 10) * 4 // 10))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_BODY_CHARS else text[: MAX_BODY_CHARS - 3] + "..."


def entry_of(record: logging.LogRecord, source: str) -> LogEntry:
    """The :data:`LogEntry` of a ``logging`` record (its message formatted now)."""
    exc_type = exc_message = stacktrace = None
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        exc_type = type(error).__qualname__
        exc_message = _cut(str(error))
        stacktrace = _cut("".join(traceback.format_exception(*record.exc_info)))
    return (record.created, severity_number(record.levelno), record.levelname,
            _cut(record.getMessage()), source, record.name, record.pathname, record.lineno,
            record.funcName, exc_type, exc_message, stacktrace)


_ARGUMENT_LINES = ("Task:", "args:", "kwargs:")
"""Lines of the worker's "Compute Failed" record that show the task's arguments (ERROR
``Task:`` since distributed 2024.11; WARNING ``args:``/``kwargs:`` before)."""


def _without_arguments(entry: LogEntry) -> LogEntry:
    """*entry* (a "Compute Failed" record) without its lines showing the task's arguments:
    they may hold secrets that the masking cannot find there (``record_arguments`` records
    the arguments, masked)."""
    body = "\n".join(line for line in entry[3].split("\n")
                     if not line.startswith(_ARGUMENT_LINES))
    return (*entry[:3], body, *entry[4:])


class AttemptLogs:
    """The records of one task attempt, as its executing thread emits them."""

    __slots__ = ("capture", "dropped", "entries", "partial")

    def __init__(self, capture: LogCapture) -> None:
        self.capture = capture
        self.entries: list[LogEntry] = []
        self.dropped = 0
        self.partial: dict[str, str] = {}
        """Stream -> text written after its last newline."""

    def room(self) -> bool:
        """Whether one more record may be kept (then it counts against the worker's limit);
        if not, it is counted as dropped, and need not be formatted at all."""
        if len(self.entries) < self.capture.max_records and self.capture.take_one():
            return True
        self.dropped += 1
        return False

    def write(self, source: str, text: str) -> None:
        """Keep the whole lines of *text* written to *source* (``stdout``/``stderr``)."""
        lines = (self.partial.pop(source, "") + text).split("\n")
        for line in lines[:-1]:
            self._add_line(source, line)
        if len(lines[-1]) > MAX_BODY_CHARS:  # no newline coming: a record of its own now
            self._add_line(source, lines[-1])
        elif lines[-1]:
            self.partial[source] = lines[-1]

    def _add_line(self, source: str, line: str) -> None:
        number, text = _OUTPUT_SEVERITY[source]
        if self.room():
            self.entries.append((time.time(), number, text, _cut(line.rstrip("\r")), source,
                                 None, None, None, None, None, None, None))

    def flush(self) -> None:
        """Keep the unfinished last line of each stream."""
        for source, line in self.partial.items():
            self._add_line(source, line)
        self.partial.clear()


def _is_compute_failed(record: logging.LogRecord) -> bool:
    """Whether *record* is the worker's "Compute Failed" record (its first argument: the key)."""
    return (record.name == "distributed.worker" and isinstance(record.msg, str)
            and record.msg.startswith("Compute Failed")
            and isinstance(record.args, tuple) and bool(record.args))


def _make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """The process's ``logging`` record factory while capturing: the previous factory's
    record, copied to the :class:`AttemptLogs` of the thread that creates it, if any."""
    record = _state.factory(*args, **kwargs)
    try:
        buffer: AttemptLogs | None = getattr(_thread, "logs", None)
        if buffer is not None:
            if record.levelno >= buffer.capture.level and not record.name.startswith(_OWN_LOGGER):
                _thread.logs = None  # a record logged while keeping this one is not kept
                try:
                    if buffer.room():
                        buffer.entries.append(entry_of(record, attr.LOG_FROM_LOGGING))
                finally:
                    _thread.logs = buffer
        elif record.levelno >= logging.WARNING and _is_compute_failed(record):
            if len(worker_records) >= MAX_WORKER_RECORDS:
                worker_records.clear()
            worker_records[record.args[0]] = _without_arguments(  # type: ignore[index]
                entry_of(record, attr.LOG_FROM_WORKER))
    except Exception:  # noqa: BLE001 - never break a logging call
        _state.errors += 1
    return record


class _OutputCopy:
    """A ``sys.stdout``/``sys.stderr`` stand-in: writes through, and copies what a task
    writes (on the thread running it) to its :class:`AttemptLogs`; not what a ``logging``
    handler writes (Python's last-resort handler, a ``StreamHandler`` made later): that
    record is kept as a record already."""

    def __init__(self, stream: TextIO, source: str) -> None:
        self._stream = stream
        self._source = source

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        buffer: AttemptLogs | None = getattr(_thread, "logs", None)
        if (buffer is not None and buffer.capture.output
                and not sys._getframe(1).f_globals.get("__name__", "").startswith("logging")):
            try:
                buffer.write(self._source, str(text))
            except Exception:  # noqa: BLE001 - never break a print
                _state.errors += 1
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _ProcessState:
    """What one process shares: the record factory it replaced, the stream wrappers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owners: set[int] = set()
        self.factory: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
        self.outputs: tuple[_OutputCopy, _OutputCopy] | None = None
        self.errors = 0


_state = _ProcessState()


class LogCapture:
    """Per-attempt log capture with the limits of *settings* (see the module doc)."""

    def __init__(self, settings: Settings) -> None:
        self.level = logging.getLevelName(settings.log_level.upper())
        self.max_records = settings.log_max_records
        self.max_process_records = settings.log_max_process_records
        self.output = settings.record_output
        self.redactor = Redactor(settings.redact)
        self.kept = 0
        """Records kept so far (by all the attempts of this worker)."""
        self.dropped_in_process = 0
        self._install()

    @property
    def errors(self) -> int:
        """Failures while capturing in this process (counted, never raised)."""
        return _state.errors

    def _install(self) -> None:
        with _state.lock:
            if not _state.owners:
                _state.factory = logging.getLogRecordFactory()
                logging.setLogRecordFactory(_make_record)
            _state.owners.add(id(self))
            if self.output and _state.outputs is None:
                _state.outputs = (_OutputCopy(sys.stdout, attr.LOG_FROM_STDOUT),
                                  _OutputCopy(sys.stderr, attr.LOG_FROM_STDERR))
                sys.stdout, sys.stderr = _state.outputs

    def close(self) -> None:
        """Stop capturing (the record factory and stream wrappers go) once the last capture
        of the process closes."""
        with _state.lock:
            _state.owners.discard(id(self))
            if _state.owners:
                return
            if logging.getLogRecordFactory() is _make_record:
                logging.setLogRecordFactory(_state.factory)
            worker_records.clear()
            if _state.outputs is not None:
                if sys.stdout is _state.outputs[0]:
                    sys.stdout = _state.outputs[0]._stream
                if sys.stderr is _state.outputs[1]:
                    sys.stderr = _state.outputs[1]._stream
                _state.outputs = None
        if self.dropped_in_process:
            logger.warning("otel-dask-prov: %d task log records past the process's limit of "
                           "%d (log_max_process_records) were not kept",
                           self.dropped_in_process, self.max_process_records)
        if _state.errors:
            logger.warning("otel-dask-prov: %d log records could not be kept for their task "
                           "(an error while copying them; the logging calls were not affected)",
                           _state.errors)
            _state.errors = 0

    def take_one(self) -> bool:
        """Count one more record kept in this process; ``False`` past the process's limit."""
        if self.kept < self.max_process_records:
            self.kept += 1
            return True
        self.dropped_in_process += 1
        if self.dropped_in_process == 1:
            logger.warning("otel-dask-prov: this process kept %d task log records "
                           "(log_max_process_records); further ones are only counted",
                           self.max_process_records)
        return False

    def start(self) -> AttemptLogs:
        """Collect what the current thread logs from now on, for one attempt."""
        buffer = AttemptLogs(self)
        _thread.logs = buffer
        return buffer

    def stop(self, buffer: AttemptLogs, task: Any) -> tuple[list[LogEntry], int]:
        """Stop collecting; the attempt's records, masked, and how many were dropped.

        *task* is the task that ran (its secret-named keyword arguments are masked).
        """
        _thread.logs = None
        if buffer.partial:
            buffer.flush()
        entries = buffer.entries
        if entries:
            entries = self.redact(entries, task)
        return entries, buffer.dropped

    def redact(self, entries: Iterable[LogEntry], task: Any) -> list[LogEntry]:
        """*entries* with secret values masked: those of the environment and the values of
        *task*'s keyword arguments whose names are secret-looking."""
        secrets = self._secret_arguments(task)

        def mask(text: str | None) -> str | None:
            if text is None:
                return None
            for secret in secrets:
                if secret in text:
                    text = text.replace(secret, "<redacted>")
            return self.redactor.mask(text)

        return [(when, number, level, mask(body) or "", source, name, path, line, function,
                 exc_type, mask(exc_message), mask(stacktrace))
                for (when, number, level, body, source, name, path, line, function,
                     exc_type, exc_message, stacktrace) in entries]

    def _secret_arguments(self, task: Any) -> list[str]:
        if task is None:
            return []
        try:
            _, _, kwargs = resolve_call(task)
        except Exception:  # noqa: BLE001 - an odd task: the environment rules still apply
            return []
        values = [value for name, value in kwargs.items()
                  if self.redactor.is_secret_name(str(name)) and isinstance(value, str)]
        return sorted((value for value in values if len(value) >= MIN_SECRET_LENGTH),
                      key=len, reverse=True)


def pop_worker_record(key: Any) -> LogEntry | None:
    """The worker's own record about the attempt of *key* that just ended, if it logged one."""
    return worker_records.pop(key, None) if worker_records else None

