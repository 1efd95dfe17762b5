"""The record journal of a process: what a hook recorded survives the process.

Every record the plugins hand to the :class:`~otel_dask_prov.export.span_pipeline.SpanPipeline`
is first copied into this process's journal, a memory-mapped file (about 2-3 µs
for a task attempt), so it outlives a SIGKILL, the OOM killer or a nanny's
restart as soon as the hook that made it returns: the pages of a shared file
mapping belong to the kernel's page cache, which keeps them when the process
dies. The pipeline then exports from memory as before and *commits* the
journal position of every batch it delivered (or spilled). What a dead process
journaled but did not commit is delivered by the next process that starts with
the same journal directory on the same host, or by ``otel-prov replay``.

A journal is a directory ``<journal-dir>/<service>-<host>-<pid>-<time>/``:

``lock``
    held with ``flock`` by the owning process for its whole life; the kernel
    releases it when the process dies, however it dies, so a journal whose lock
    can be taken belongs to a dead process and can be recovered, once.
``meta``
    the owner's OpenTelemetry resource attributes and host name.
``NNNNNN.seg``
    frames of ``4-byte length + marshal((class name, field values, provisional))``,
    then zeros; segments have their blocks reserved when made (the first 1 MiB,
    each next one twice the last, up to :data:`SEGMENT_BYTES` or a quarter of
    ``journal_max_bytes``), a new one starts when one is full, and segments
    wholly committed are deleted.
``commit``
    the position (segment, offset) up to which everything was delivered.

Records are written with :mod:`marshal` (plain values: the record classes keep
only strings, numbers, tuples, lists and dicts) rather than :mod:`pickle`,
which costs twice as much; a record with another value is kept in memory only
and counted. The journal is bounded by ``journal_max_bytes``: past it, new
records are kept in memory only (exported as usual, but not durable) and counted
in :attr:`Journal.unjournaled`, with one warning; a directory that cannot be
written (read-only, or a disk too full for the next segment) is handled the
same way. Journaling never blocks
and never raises into Dask.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import marshal
import mmap
import operator
import os
import shutil
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import JournalError

logger = logging.getLogger("otel_dask_prov")

SEGMENT_BYTES = 16 << 20
"""Largest size of one segment file (its blocks are reserved when it is made)."""
FIRST_SEGMENT_BYTES = 1 << 20
"""Size of the first segment; each next one doubles, up to :data:`SEGMENT_BYTES`, so a
process that records little reserves little disk (a cluster of many workers on a
shared file system)."""
_POSITION_BITS = 40
"""A position is ``segment << 40 | offset``: one integer, cheap to keep beside each record."""
MARSHAL_VERSION = 2
"""Without the object references of versions 3 and 4: frames 15 % larger, written 25 % faster."""
_LENGTH = struct.Struct("<I")
_COMMIT = struct.Struct("<Q")
_MODULE_PREFIX = "otel_dask_prov."
"""Only classes of this package are rebuilt from a journal."""

_getters: dict[type, tuple[str, Callable[[Any], tuple[Any, ...]]] | None] = {}


def _getter(cls: type) -> tuple[str, Callable[[Any], tuple[Any, ...]]] | None:
    """The name and field reader of a journaled record class (``JOURNAL_FIELDS``), else ``None``."""
    known = _getters.get(cls, False)
    if known is not False:
        return known  # type: ignore[return-value]
    fields = getattr(cls, "JOURNAL_FIELDS", None)
    found = None
    if fields:
        found = (f"{cls.__module__}:{cls.__qualname__}", operator.attrgetter(*fields))
    _getters[cls] = found
    return found


def encode_record(record: Any, provisional: bool = False) -> bytes | None:
    """The journal frame of *record*, or ``None`` for a record that is not journaled.

    Raises ``ValueError`` for a record holding a value :mod:`marshal` cannot write.
    """
    found = _getter(type(record))
    if found is None:
        return None
    name, fields = found
    payload = marshal.dumps((name, fields(record), provisional), MARSHAL_VERSION)
    return _LENGTH.pack(len(payload)) + payload


def decode_record(payload: bytes, where: str) -> tuple[Any, bool]:
    """The record of one frame's payload and whether it was provisional."""
    name, values, provisional = marshal.loads(payload)  # noqa: S302 - our journal, by marshal
    module_name, _, class_name = name.partition(":")
    if not module_name.startswith(_MODULE_PREFIX):
        raise JournalError(where, None, f"a record of class {name!r}, not of otel_dask_prov")
    cls = getattr(importlib.import_module(module_name), class_name)
    record = cls.__new__(cls)
    for field, value in zip(cls.JOURNAL_FIELDS, values, strict=True):
        setattr(record, field, value)
    return record, provisional


def position_segment(position: int) -> int:
    """The segment number of a journal position."""
    return position >> _POSITION_BITS


class Journal:
    """The append-only journal of this process (see the module doc).

    :meth:`append` is called on the hot path (any thread); :meth:`commit` by the
    export thread after it delivered everything up to a position.

    Segments are memory-mapped files whose blocks are reserved when the segment
    is created (``posix_fallocate``): appending is a copy into shared memory,
    without a system call, so the hook never gives up the GIL to the export
    thread in the middle of Dask's event loop (an ``os.write`` per record did, and
    cost 16 µs per record in a busy in-process cluster instead of 3), and a full
    disk is found when a segment is created, never as a ``SIGBUS`` on a page of
    it.
    """

    def __init__(self, directory: Path, resource_attributes: dict[str, Any], max_bytes: int,
                 name: str) -> None:
        self.directory = directory / name
        self.max_bytes = max_bytes
        self.unjournaled = 0
        """Records kept in memory only: past ``max_bytes``, unwritable, or not marshallable."""
        self.journaled = 0
        self.last_position = 0
        """Position of the last record appended (provisional ones aside)."""
        self._lock = threading.Lock()
        self._largest_segment = max(4096, min(SEGMENT_BYTES, max_bytes // 4))
        self._segment_bytes = 0  # the size of the current segment
        self._segment = 0
        self._offset = 0
        self._map: mmap.mmap | None = None
        self._provisional: dict[Any, bytes] = {}
        self._segments: dict[int, int] = {}  # size of each segment on disk, by number
        self._warned: set[str] = set()
        self._lock_fd = -1
        self._commit_fd = -1
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            meta = {"host": socket.gethostname(), "pid": os.getpid(),
                    "resource": dict(resource_attributes)}
            (self.directory / "meta").write_bytes(marshal.dumps(_plain(meta)))
            self._commit_fd = os.open(self.directory / "commit", os.O_RDWR | os.O_CREAT, 0o644)
            self._open_segment(1)
        except OSError as error:
            self._close_files()
            self._warn("open", "cannot write the journal in %s (%s); records are kept in memory "
                       "only and are lost if this process is killed", self.directory, error)

    @property
    def usable(self) -> bool:
        return self._map is not None

    @property
    def lock_fd(self) -> int:
        """The locked descriptor; a child process given it keeps the journal locked too."""
        return self._lock_fd

    def committed(self) -> int:
        """The position up to which the journal's records were delivered (by anyone)."""
        if self._commit_fd < 0:
            return 0
        try:
            data = os.pread(self._commit_fd, _COMMIT.size, 0)
        except OSError:
            return 0
        return _COMMIT.unpack(data)[0] if len(data) == _COMMIT.size else 0

    def _open_segment(self, number: int) -> None:
        """Start segment *number*, beginning with the provisional records still open.

        Raises ``OSError`` when the segment cannot be made (disk full, read-only).
        """
        path = self.directory / f"{number:06d}.seg"
        size = _segment_size(number, self._largest_segment)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.posix_fallocate(fd, 0, size)
            new_map = mmap.mmap(fd, size)
        except OSError:
            path.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        if self._map is not None:
            self._map.close()
        self._map = new_map
        self._segment = number
        self._segment_bytes = size
        self._segments[number] = size
        self._offset = 0
        for frame in self._provisional.values():
            if self._offset + len(frame) <= self._segment_bytes:
                new_map[self._offset:self._offset + len(frame)] = frame
                self._offset += len(frame)

    # -- hot path -------------------------------------------------------
    def append(self, record: Any, provisional: bool = False) -> int:
        """Write *record*; return its end position, or 0 if it is kept in memory only.

        A *provisional* record (an open computation) is delivered by a recovery
        only if no record with the same ``span_id`` was appended after it, and it
        is written again at the start of every new segment until then.
        """
        if self._map is None:
            self.unjournaled += 1
            return 0
        try:
            frame = encode_record(record, provisional)
        except (ValueError, TypeError) as error:
            self.unjournaled += 1
            self._warn("marshal", "a %s record holds a value the journal cannot write (%s); "
                       "it is kept in memory only", type(record).__name__, error)
            return 0
        if frame is None:
            return 0
        size = len(frame)
        with self._lock:
            if provisional:
                self._provisional[record.span_id] = frame
            elif self._provisional:
                self._provisional.pop(getattr(record, "span_id", None), None)
            if self._offset + size > self._segment_bytes and not self._next_segment(size):
                self.unjournaled += 1
                return 0
            end = self._offset + size
            self._map[self._offset:end] = frame
            self._offset = end
            self.journaled += 1
            position = (self._segment << _POSITION_BITS) | end
            if not provisional:
                self.last_position = position
            return position

    def _next_segment(self, size: int) -> bool:
        """Start a new segment for a frame of *size* bytes; whether it could be."""
        next_size = _segment_size(self._segment + 1, self._largest_segment)
        if size > next_size // 2:
            self._warn("large", "a record of %d bytes is too large for the journal's segments "
                       "of %d bytes; such records are kept in memory only", size, next_size)
            return False
        done = position_segment(self.committed())  # segments below it are deleted
        self._segments = {number: bytes_ for number, bytes_ in self._segments.items()
                          if number >= done}
        if sum(self._segments.values()) + next_size > self.max_bytes:
            self._warn("full", "the journal %s reached journal-max-bytes (%d bytes); new "
                       "records are kept in memory only until the export catches up",
                       self.directory, self.max_bytes)
            return False
        try:
            self._open_segment(self._segment + 1)
        except OSError as error:
            self._warn("write", "cannot write the journal %s (%s); records are kept in "
                       "memory only until it can", self.directory, error)
            return False
        return True

    # -- export thread --------------------------------------------------
    def commit(self, position: int) -> None:
        """Everything up to *position* was delivered: note it and delete finished segments."""
        if self._commit_fd < 0 or position <= 0:
            return
        try:
            os.pwrite(self._commit_fd, _COMMIT.pack(position), 0)
        except OSError as error:
            self._warn("commit", "cannot write the journal's commit mark in %s (%s)",
                       self.directory, error)
            return
        segment = position_segment(position)
        with self._lock:
            finished = [number for number in self._segments if number < segment]
            for number in finished:
                del self._segments[number]
        for number in finished:
            with contextlib.suppress(OSError):
                (self.directory / f"{number:06d}.seg").unlink()

    def close(self, delivered_everything: bool) -> None:
        """Close the journal; remove it when everything it holds was delivered."""
        with self._lock:
            self._close_files()
        if delivered_everything and self.unjournaled == 0:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _close_files(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        for fd in (self._commit_fd, self._lock_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._commit_fd = self._lock_fd = -1

    def _warn(self, what: str, message: str, *args: object) -> None:
        if what not in self._warned:
            self._warned.add(what)
            logger.warning("otel-dask-prov: " + message, *args)


def _segment_size(number: int, largest: int) -> int:
    """The size of segment *number* (from 1): doubling from :data:`FIRST_SEGMENT_BYTES`."""
    return min(largest, FIRST_SEGMENT_BYTES << min(number - 1, 16))


def _plain(value: Any) -> Any:
    """*value* with every value marshal cannot write made text (resource attributes)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or type(value) in (str, int, float, bool):
        return value
    return str(value)


class JournalReader:
    """Reads a journal's records, from the start or from where it stopped last time.

    The exporter process (:mod:`otel_dask_prov.export.exporter_process`) reads
    the journal of its live Dask process with it as records are written; a
    recovery reads a dead process's journal to the end (:class:`DeadJournal`).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            meta = marshal.loads((directory / "meta").read_bytes())  # noqa: S302 - our journal
        except (OSError, ValueError, EOFError, TypeError) as error:
            raise JournalError(str(directory), None,
                               f"not a journal (no readable meta file: {error})") from None
        self.host: str = meta.get("host", "")
        self.resource: dict[str, Any] = meta.get("resource", {})
        self.committed = 0
        """The position up to which everything was delivered."""
        self.torn_frames = 0
        with contextlib.suppress(OSError):
            data = (directory / "commit").read_bytes()
            if len(data) >= _COMMIT.size:
                (self.committed,) = _COMMIT.unpack_from(data)
        self._segment = 0
        self._offset = 0
        self._map: mmap.mmap | None = None

    def segments(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob("*.seg"):
            with contextlib.suppress(ValueError):
                found.append((int(path.stem), path))
        return sorted(found)

    def read(self, final: bool = True) -> list[tuple[int, Any, bool]]:
        """The records written since the last call: ``(end position, record, provisional)``.

        Positions grow; records at or below :attr:`committed` are included
        (their provisional records matter), the caller skips them. *final*
        means the writer is gone: a frame that does not decode is then torn
        (the process died while copying it), counted in :attr:`torn_frames`;
        while the writer lives it is one being copied, read next time.
        """
        entries: list[tuple[int, Any, bool]] = []
        segments = [(number, path) for number, path in self.segments() if number >= self._segment]
        for index, (number, path) in enumerate(segments):
            last = index == len(segments) - 1
            if number != self._segment or self._map is None:
                self._open(number, path)
            mapped = self._map
            if mapped is None:
                continue
            offset = self._offset
            while offset + _LENGTH.size <= len(mapped):
                (size,) = _LENGTH.unpack_from(mapped, offset)
                if size == 0:  # the reserved, not yet written rest of the segment
                    break
                end = offset + _LENGTH.size + size
                try:
                    if end > len(mapped):
                        raise ValueError("the frame runs past the end of the segment")
                    record, provisional = decode_record(mapped[offset + _LENGTH.size:end],
                                                        str(path))
                except (ValueError, EOFError, TypeError, AttributeError, ImportError):
                    if final or not last:
                        self.torn_frames += 1
                    break
                offset = end
                entries.append(((number << _POSITION_BITS) | offset, record, provisional))
            self._offset = offset
        return entries

    def _open(self, number: int, path: Path) -> None:
        self.close()
        self._segment, self._offset = number, 0
        try:
            with open(path, "rb") as file:
                self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # deleted meanwhile, or empty
            self._map = None

    def commit(self, position: int) -> None:
        """Everything up to *position* was delivered: note it and delete finished segments."""
        if position <= self.committed:
            return
        with open(self.directory / "commit", "r+b" if (self.directory / "commit").exists()
                  else "wb") as file:
            file.write(_COMMIT.pack(position))
        self.committed = position
        for number, path in self.segments():
            if number < position_segment(position):
                path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None


class DeadJournal(JournalReader):
    """The journal of a process that has died, locked for recovery by this process.

    Use :func:`dead_journals` to find them; :meth:`remove` deletes the journal
    once everything is delivered, and :meth:`release` leaves it for later.
    """

    def __init__(self, directory: Path, lock_fd: int) -> None:
        super().__init__(directory)
        self._lock_fd = lock_fd

    def records(self) -> list[tuple[int, Any, bool]]:
        """Every record still in the journal, committed or not (see :meth:`read`)."""
        return self.read(final=True)

    def remove(self) -> None:
        """Delete the recovered journal and release it."""
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)
        self.release()

    def release(self) -> None:
        self.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1


def dead_journals(journal_dir: Path, *, any_host: bool = False,
                  skip: Path | None = None) -> Iterator[DeadJournal]:
    """The journals in *journal_dir* whose process has died, each locked while it is used.

    Only journals written on this host are taken unless *any_host* (``otel-prov
    replay``): ``flock`` between hosts is not reliable on every shared file
    system, and a live process's journal must never be taken. *skip* is this
    process's own journal.
    """
    if not journal_dir.is_dir():
        return
    host = socket.gethostname()
    for directory in sorted(journal_dir.iterdir()):
        if directory == skip or not (directory / "lock").is_file():
            continue
        try:
            lock_fd = os.open(directory / "lock", os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # alive (or being recovered by another process)
            os.close(lock_fd)
            continue
        if not (directory / "lock").exists():  # recovered and removed meanwhile
            os.close(lock_fd)
            continue
        try:
            journal = DeadJournal(directory, lock_fd)
        except JournalError as error:
            os.close(lock_fd)
            logger.warning("otel-dask-prov: %s", error)
            continue
        if not any_host and journal.host != host:
            journal.release()
            continue
        yield journal
