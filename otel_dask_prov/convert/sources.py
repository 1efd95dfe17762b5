"""Input files: discovery, the first pass that indexes them, and reading units back.

The conversion reads its inputs twice. The first pass (:func:`scan`) parses
every *unit* (a line of a JSON-lines file, or a whole JSON document), checks
it, and keeps a few numbers per unit: where it is, when its last span ended,
which traces it holds. It also hashes every file (the conversion records its
inputs) and catalogs the resources (processes) that wrote spans. Nothing of the
spans themselves is kept, so the index stays small for any input size.

The second pass reads the units back (:class:`UnitReader`) in the order of their
time, across files, so that the scheduler's and the workers' spans of a
computation arrive close together and a trace can be finished as soon as its
last unit has been read.

Layouts: a file whose lines are each a JSON value (OTLP JSON lines, the normal
case, also NDJSON of SDK spans or Jaeger responses) is read line by line; any
other JSON file (a pretty-printed Jaeger download, ``ConsoleSpanExporter``
output) is one unit. Gzip-compressed files are recognized by their magic bytes;
the lines of a compressed file are kept, decompressed, in a temporary file for
the second pass.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import tempfile
import threading
import zlib
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Callable, Protocol

from ..errors import NoTraceDataError, TraceFormatError
from . import readers
from .model import ATTEMPT, COMPUTATION, Resource
from .progress import Progress

TRACE_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
"""Files a directory is searched for; files named explicitly are read whatever their name."""

SCHEDULER_SIDE = 1
"""Mask bit: a resource wrote computation or attempt spans of a trace."""
WORKER_SIDE = 2
"""Mask bit: a resource wrote execution spans (or other worker spans) of a trace."""

_GZIP_MAGIC = b"\x1f\x8b"
_WHOLE = -1
"""Offset of a unit that is a whole document."""


# --------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------
@dataclass
class InputFile:
    """One input file and what the first pass learned about it."""

    path: Path
    shown: str
    """The path as the user would recognize it (as given, or under the given directory)."""
    explicit: bool
    """Named on the command line (an unreadable one is an error, not a warning)."""
    size: int = 0
    sha256: str = ""
    compressed: bool = False
    layout: str = "lines"
    store: Path | None = None
    """Decompressed copy of the useful lines of a compressed JSON-lines file."""


def discover(paths: list[str | os.PathLike[str]]) -> list[InputFile]:
    """The files to read: files as given, directories searched recursively, sorted."""
    found: list[InputFile] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(
                (child for child in path.rglob("*")
                 if child.is_file() and child.name.lower().endswith(TRACE_SUFFIXES)),
                key=lambda child: child.relative_to(path).as_posix(),
            )
            candidates = [(child, str(child), False) for child in files]
        elif path.exists():
            candidates = [(path, str(given), True)]
        else:
            raise TraceFormatError(str(given), None, "no such file or directory")
        for file, shown, explicit in candidates:
            resolved = file.resolve()
            if resolved not in seen:
                seen.add(resolved)
                found.append(InputFile(file, shown, explicit))
    return found


# --------------------------------------------------------------------------
# The index built by the first pass
# --------------------------------------------------------------------------
@dataclass
class TraceEntry:
    """What the first pass knows about one trace."""

    trace_id: str
    files: set[int] = field(default_factory=set)
    resources: dict[str, int] = field(default_factory=dict)
    """Resource key -> :data:`SCHEDULER_SIDE` / :data:`WORKER_SIDE` bits."""
    units: int = 0
    last_rank: int = -1


@dataclass
class ScanStats:
    """Counts for the conversion report."""

    units: int = 0
    spans: int = 0
    other_spans: int = 0
    """Our spans the mapping does not use (worker phases)."""
    foreign_spans: int = 0
    foreign_scopes: set[str] = field(default_factory=set)
    skipped_lines: int = 0
    non_trace_units: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class Index:
    """Result of :func:`scan`: files, units, traces and resources."""

    files: list[InputFile]
    traces: list[TraceEntry]
    resources: dict[str, Resource]
    stats: ScanStats
    unit_time: array = field(default_factory=lambda: array("q"))
    unit_file: array = field(default_factory=lambda: array("l"))
    unit_offset: array = field(default_factory=lambda: array("q"))
    unit_length: array = field(default_factory=lambda: array("q"))
    unit_line: array = field(default_factory=lambda: array("q"))
    pair_unit: array = field(default_factory=lambda: array("l"))
    pair_trace: array = field(default_factory=lambda: array("l"))
    trace_index: dict[str, int] = field(default_factory=dict)

    def order(self) -> list[int]:
        """Units in reading order for the second pass: by time, then file, then position."""
        time, file, offset = self.unit_time, self.unit_file, self.unit_offset
        return sorted(range(len(time)), key=lambda unit: (time[unit], file[unit], offset[unit]))

    def traces_by_unit(self) -> list[list[int]]:
        """For each unit, the traces it holds."""
        holds: list[list[int]] = [[] for _ in range(len(self.unit_time))]
        for unit, trace in zip(self.pair_unit, self.pair_trace):
            holds[unit].append(trace)
        return holds

    def cleanup(self) -> None:
        """Remove the temporary decompressed copies."""
        for file in self.files:
            if file.store is not None:
                file.store.unlink(missing_ok=True)
                file.store = None


def resource_key(attributes: dict[str, Any]) -> str:
    """``service.instance.id`` when the resource has one, else a digest of its attributes."""
    instance = attributes.get("service.instance.id")
    if instance:
        return str(instance)
    text = json.dumps(attributes, sort_keys=True, default=str)
    return "resource-" + hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


_ROLES = {"dask-scheduler": "scheduler", "dask-worker": "worker", "dask-client": "client"}


class ResourceCatalog:
    """Resources by key; the same attribute list is decoded once per request."""

    def __init__(self, resources: dict[str, Resource]) -> None:
        self.resources = resources

    def resolve(self, items: list[Any]) -> Resource:
        attributes = readers.decode_attributes(items)
        key = resource_key(attributes)
        resource = self.resources.get(key)
        if resource is None:
            role = str(attributes.get("dask.process.role") or _ROLES.get(
                str(attributes.get("service.name")), ""))
            resource = Resource(key, attributes, role)
            self.resources[key] = resource
        return resource


# --------------------------------------------------------------------------
# First pass
# --------------------------------------------------------------------------
class _BackgroundSha256:
    """SHA-256 of the chunks given to :meth:`update`, computed in a thread.

    ``hashlib`` releases the GIL while it hashes, so the digest of a file costs
    the first pass almost nothing while it parses the same bytes on the other core.
    """

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._thread = threading.Thread(target=self._run, name="otel-prov-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._sha256.update(chunk)

    def update(self, data: Any) -> None:
        self._chunks.put(bytes(data))

    def close(self) -> None:
        """Stop the thread (after hashing what it was given)."""
        if self._thread.is_alive():
            self._chunks.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.close()
        return self._sha256.hexdigest()


class _HashingReader(io.RawIOBase):
    """A raw binary reader that hashes and counts what passes through it."""

    def __init__(self, raw: io.BufferedReader, on_bytes: Callable[[int], None]) -> None:
        self.raw = raw
        self.sha256 = _BackgroundSha256()
        self.count = 0
        self.on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = self.raw.readinto(buffer)
        if size:
            view = memoryview(buffer)[:size]
            self.sha256.update(view)
            self.count += size
            self.on_bytes(size)
        return size or 0


class _Gunzip(io.RawIOBase):
    """Decompresses a gzip stream (all members); a stream cut short just ends early.

    ``gzip.GzipFile`` raises on a truncated file before handing out the data it
    did decompress; a collector killed mid-write leaves exactly such files, and
    the lines before the cut are worth converting. :attr:`truncated` tells.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.truncated = False
        self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._decompressor.eof:
                rest = self._decompressor.unused_data
                self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                if not rest.strip(b"\0"):
                    rest = self.raw.read(1 << 16)
                    if not rest:
                        return 0
                self._pending = self._decompressor.decompress(rest)
                continue
            chunk = self.raw.read(1 << 16)
            if not chunk:
                self.truncated = True
                self._pending = self._decompressor.flush()
                if not self._pending:
                    return 0
                break
            try:
                self._pending = self._decompressor.decompress(chunk)
            except zlib.error:
                self.truncated = True
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def open_decompressed(path: Path) -> tuple[IO[bytes], _Gunzip | None]:
    """*path* as a binary stream, decompressed if it is gzip."""
    raw = open(path, "rb")
    if raw.read(2) != _GZIP_MAGIC:
        raw.seek(0)
        return raw, None
    raw.seek(0)
    gunzip = _Gunzip(raw)
    return io.BufferedReader(gunzip, 1 << 20), gunzip


class _Scanner:
    """Builds an :class:`Index` unit by unit."""

    def __init__(self, skip_invalid: bool, progress: Callable[[int], None]) -> None:
        self.skip_invalid = skip_invalid
        self.progress = progress
        self.index = Index([], [], {}, ScanStats())
        self.catalog = ResourceCatalog(self.index.resources)
        self._cut_line_reported = False

    # -- one file ----------------------------------------------------------
    def scan_file(self, number: int, file: InputFile) -> None:
        self._cut_line_reported = False
        try:
            raw = open(file.path, "rb")
        except OSError as error:
            self._unreadable(file, error)
            return
        with raw:
            file.compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            reader = _HashingReader(raw, self.progress)
            try:
                self._scan_raw(number, file, reader)
            finally:
                reader.sha256.close()

    def _scan_raw(self, number: int, file: InputFile, reader: _HashingReader) -> None:
        buffered = io.BufferedReader(reader, 1 << 20)
        gunzip = _Gunzip(buffered) if file.compressed else None
        stream: IO[bytes] = io.BufferedReader(gunzip, 1 << 20) if gunzip else buffered
        try:
            self._scan_stream(number, file, stream,
                              lambda: gunzip is not None and gunzip.truncated)
        except OSError as error:
            self._unreadable(file, error)
            return
        if gunzip is not None and gunzip.truncated and not self._cut_line_reported:
            self._warn(f"{file.shown}: compressed data ends early (was the writer stopped "
                       "mid-write?); converted what could be read")
        while buffered.read(1 << 20):  # hash what the decompressor did not need
            pass
        file.size = reader.count
        file.sha256 = reader.sha256.hexdigest()

    def _unreadable(self, file: InputFile, error: Exception) -> None:
        reason = getattr(error, "strerror", None) or str(error)
        if file.explicit:
            raise TraceFormatError(file.shown, None, f"cannot read: {reason}")
        self._warn(f"{file.shown}: skipped, cannot read: {reason}")

    def _scan_stream(self, number: int, file: InputFile, stream: IO[bytes],
                     cut_short: Callable[[], bool]) -> None:
        store = None
        if file.compressed:
            handle, name = tempfile.mkstemp(prefix="otel-prov-", suffix=".jsonl")
            store = os.fdopen(handle, "wb")
            file.store = Path(name)
        try:
            self._scan_lines(number, file, stream, store, cut_short)
        finally:
            if store is not None:
                store.close()

    def _scan_lines(
        self, number: int, file: InputFile, stream: IO[bytes], store: BinaryIO | None,
        cut_short: Callable[[], bool],
    ) -> None:
        offset = stored = line_number = 0
        parsed_any = False
        for line in stream:
            line_number += 1
            start, offset = offset, offset + len(line)
            if not line or line.isspace():
                continue
            try:
                requests = readers.scan_requests(line)
            except readers.InvalidUnit as error:
                if not parsed_any and not file.explicit:
                    self._warn(f"{file.shown}: skipped, {error}")
                    return
                self._invalid(file, line_number, str(error))
                parsed_any = True
                continue
            except ValueError as error:
                if not parsed_any and line_number == 1 and self._scan_document(number, file):
                    return
                if not line.endswith(b"\n") and (parsed_any or cut_short()):
                    self._cut_line_reported = True
                    self._warn(f"{file.shown}:{line_number}: last line is truncated "
                               "(was the writer stopped mid-write?); converted the rest")
                    return
                self._invalid(file, line_number, f"malformed JSON: {_json_reason(error)}")
                continue
            parsed_any = True
            try:
                useful = self._index_unit(number, file, requests, line_number,
                                          start if store is None else stored, len(line))
            except readers.InvalidUnit as error:
                self._invalid(file, line_number, str(error))
                continue
            if useful and store is not None:
                store.write(line)
                stored += len(line)

    def _scan_document(self, number: int, file: InputFile) -> bool:
        """Read *file* as one document (a stream of JSON values); False if it is not one."""
        values = _json_values(_read_text(file))
        if values is None:
            return False
        file.layout = "document"
        try:
            self._index_unit(number, file, readers.scan_requests(values), 1, _WHOLE, 0)
        except readers.InvalidUnit as error:
            if not file.explicit:
                self._warn(f"{file.shown}: skipped, {error}")
            else:
                self._invalid(file, 1, str(error))
        return True

    def _index_unit(
        self, number: int, file: InputFile, requests: list[Any] | None, line: int,
        offset: int, length: int,
    ) -> bool:
        """Index one unit; True if it holds spans the second pass needs."""
        index = self.index
        index.stats.units += 1
        if requests is None:
            index.stats.non_trace_units += 1
            return False
        found: dict[str, dict[str, int]] = {}
        latest = 0

        def on_span(resource: Resource, span: Any, kind: str) -> None:
            nonlocal latest
            trace, end = readers.scan_span(span)
            side = SCHEDULER_SIDE if kind is ATTEMPT or kind is COMPUTATION else WORKER_SIDE
            holders = found.get(trace)
            if holders is None:
                holders = found[trace] = {}
            holders[resource.key] = holders.get(resource.key, 0) | side
            if not resource.role:
                resource.role = "scheduler" if side == SCHEDULER_SIDE else "worker"
            if end > latest:
                latest = end

        walk = readers.Walk()
        for request in requests:
            walk.run(request, self.catalog.resolve, on_span)
        stats = index.stats
        stats.foreign_spans += walk.foreign
        stats.foreign_scopes |= walk.foreign_scopes
        stats.other_spans += walk.other
        if not found:
            return False
        unit = len(index.unit_time)
        index.unit_time.append(latest)
        index.unit_file.append(number)
        index.unit_offset.append(offset)
        index.unit_length.append(length)
        index.unit_line.append(line)
        for trace_id, holders in found.items():
            position = index.trace_index.get(trace_id)
            if position is None:
                position = index.trace_index[trace_id] = len(index.traces)
                index.traces.append(TraceEntry(trace_id))
            entry = index.traces[position]
            entry.files.add(number)
            for key, side in holders.items():
                entry.resources[key] = entry.resources.get(key, 0) | side
            index.pair_unit.append(unit)
            index.pair_trace.append(position)
        return True

    def _invalid(self, file: InputFile, line: int, reason: str) -> None:
        if not self.skip_invalid:
            raise TraceFormatError(file.shown, line, reason)
        self.index.stats.skipped_lines += 1

    def _warn(self, message: str) -> None:
        self.index.stats.warnings.append(message)


def _json_reason(error: ValueError) -> str:
    message = getattr(error, "msg", None) or str(error)
    column = getattr(error, "colno", None)
    return f"{message} at column {column}" if column else message


def _read_text(file: InputFile) -> str:
    stream, _ = open_decompressed(file.path)
    with stream:
        data = stream.read()
    return data.decode("utf-8", errors="replace")


def _json_values(text: str) -> Any | None:
    """The JSON values concatenated in *text* (one value, or a list of several), or None."""
    decoder = json.JSONDecoder()
    values = []
    position, end = 0, len(text)
    while True:
        while position < end and text[position] in " \t\r\n":
            position += 1
        if position >= end:
            break
        try:
            value, position = decoder.raw_decode(text, position)
        except ValueError:
            return None
        values.append(value)
    if not values:
        return None
    return values[0] if len(values) == 1 else values


class ScanHelper(Protocol):
    """Another process that can run the first pass over some of the files (:mod:`.readahead`)."""

    def start_scan(self, files: list[InputFile], numbers: list[int], skip_invalid: bool) -> None: ...

    def scan_result(self) -> ScanPart: ...


def scan(
    paths: list[str | os.PathLike[str]],
    skip_invalid: bool = False,
    progress: Progress | None = None,
    helper: ScanHelper | None = None,
) -> Index:
    """First pass over *paths*; raises :class:`NoTraceDataError` if no span can be mapped.

    With a *helper*, the files are shared between this process and the helper's
    by size, scanned at the same time, and the two results merged in file order
    into the index a single process makes.
    """
    files = discover(paths)
    progress = progress or Progress(enabled=False)
    progress.phase("reading", sum(_size(file.path) for file in files))
    mine, theirs = _share(files) if helper is not None else (list(range(len(files))), [])
    if not theirs:
        index = _scan_alone(files, skip_invalid, progress)
    else:
        assert helper is not None
        helper.start_scan(files, theirs, skip_invalid)
        own = scan_part(files, mine, skip_invalid, progress.advance)
        other = helper.scan_result()
        progress.advance(sum(_size(files[number].path) for number in theirs))
        failed = [part for part in (own, other) if part.error is not None]
        if failed:
            for part in (own, other):
                part.index.cleanup()
            first = min(failed, key=lambda part: part.error_file)
            raise TraceFormatError(*first.error)  # type: ignore[misc]
        index = merge_parts(files, [own, other])
    if not index.traces:
        index.cleanup()
        message = _nothing_found(paths, files, index.stats)
        if index.stats.warnings:
            message += "; " + "; ".join(index.stats.warnings)
        raise NoTraceDataError(message)
    order = index.order()
    rank_of = array("l", bytes(len(order) * array("l").itemsize))
    for rank, unit in enumerate(order):
        rank_of[unit] = rank
    for unit, trace in zip(index.pair_unit, index.pair_trace):
        entry = index.traces[trace]
        entry.units += 1
        if rank_of[unit] > entry.last_rank:
            entry.last_rank = rank_of[unit]
    return index


def _scan_alone(files: list[InputFile], skip_invalid: bool, progress: Progress) -> Index:
    scanner = _Scanner(skip_invalid, progress.advance)
    index = scanner.index
    index.files = files
    try:
        for number, file in enumerate(files):
            scanner.scan_file(number, file)
    except BaseException:
        index.cleanup()
        raise
    return index


def _share(files: list[InputFile]) -> tuple[list[int], list[int]]:
    """File numbers for this process and for the helper, about half the bytes each
    (the largest file here: this process also maps what the helper reads later)."""
    loads = [0, 0]
    shares: tuple[list[int], list[int]] = ([], [])
    for number in sorted(range(len(files)), key=lambda n: -_size(files[n].path)):
        side = 0 if loads[0] <= loads[1] else 1
        shares[side].append(number)
        loads[side] += _size(files[number].path)
    return sorted(shares[0]), sorted(shares[1])


@dataclass
class ScanPart:
    """The first pass over some of the files (*numbers*), to be merged with the others."""

    numbers: list[int]
    index: Index
    new_resources: dict[int, list[str]]
    """File number -> keys of the resources this part met first in that file."""
    warnings: dict[int, list[str]]
    error: tuple[str, int | None, str] | None = None
    """Path, line and reason of the :class:`TraceFormatError` that stopped this part."""
    error_file: int = -1


def scan_part(files: list[InputFile], numbers: list[int], skip_invalid: bool,
              on_bytes: Callable[[int], None]) -> ScanPart:
    """Scan the files *numbers* of *files* (the others are left to another process)."""
    scanner = _Scanner(skip_invalid, on_bytes)
    index = scanner.index
    index.files = files
    part = ScanPart(numbers, index, {}, {})
    for number in numbers:
        resources, warnings = len(index.resources), len(index.stats.warnings)
        try:
            scanner.scan_file(number, files[number])
        except TraceFormatError as error:
            part.error, part.error_file = (error.path, error.line, error.reason), number
            break
        finally:
            part.new_resources[number] = list(index.resources)[resources:]
            part.warnings[number] = index.stats.warnings[warnings:]
    return part


def merge_parts(files: list[InputFile], parts: list[ScanPart]) -> Index:
    """The index of all *files* from parts that each scanned some of them: units,
    traces and resources numbered as one process, reading the files in order, numbers them."""
    index = Index(files, [], {}, ScanStats())
    owner = {number: part for part in parts for number in part.numbers}
    holds = {id(part): part.index.traces_by_unit() for part in parts}
    units_of: dict[int, list[int]] = {}
    for part in parts:
        for unit, number in enumerate(part.index.unit_file):
            units_of.setdefault(number, []).append(unit)
        for number in part.numbers:
            scanned = part.index.files[number]
            files[number].size, files[number].sha256 = scanned.size, scanned.sha256
            files[number].compressed, files[number].layout = scanned.compressed, scanned.layout
            files[number].store = scanned.store
    for number in range(len(files)):
        owned = owner.get(number)
        if owned is None:
            continue
        part, local = owned, owned.index
        for key in part.new_resources.get(number, ()):
            known = index.resources.get(key)
            if known is None:
                index.resources[key] = local.resources[key]
            elif not known.role:
                known.role = local.resources[key].role
        index.stats.warnings.extend(part.warnings.get(number, ()))
        for unit in units_of.get(number, ()):
            merged = len(index.unit_time)
            index.unit_time.append(local.unit_time[unit])
            index.unit_file.append(number)
            index.unit_offset.append(local.unit_offset[unit])
            index.unit_length.append(local.unit_length[unit])
            index.unit_line.append(local.unit_line[unit])
            for trace in holds[id(part)][unit]:
                trace_id = local.traces[trace].trace_id
                position = index.trace_index.get(trace_id)
                if position is None:
                    position = index.trace_index[trace_id] = len(index.traces)
                    index.traces.append(TraceEntry(trace_id))
                index.pair_unit.append(merged)
                index.pair_trace.append(position)
    stats = index.stats
    for part in parts:
        for found in part.index.traces:
            entry = index.traces[index.trace_index[found.trace_id]]
            entry.files |= found.files
            for key, side in found.resources.items():
                entry.resources[key] = entry.resources.get(key, 0) | side
        counted = part.index.stats
        stats.units += counted.units
        stats.spans += counted.spans
        stats.other_spans += counted.other_spans
        stats.foreign_spans += counted.foreign_spans
        stats.foreign_scopes |= counted.foreign_scopes
        stats.skipped_lines += counted.skipped_lines
        stats.non_trace_units += counted.non_trace_units
    return index


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _nothing_found(paths: list[Any], files: list[InputFile], stats: ScanStats) -> str:
    where = ", ".join(str(path) for path in paths) or "the input"
    if not files:
        return (f"no trace files in {where} (looked for "
                f"{', '.join('*' + suffix for suffix in TRACE_SUFFIXES)})")
    if stats.foreign_spans:
        scopes = ", ".join(sorted(stats.foreign_scopes)[:5])
        return (f"no otel-dask-prov spans in {where}: {stats.foreign_spans} span(s) from other "
                f"instrumentations ({scopes}); trace Dask with `--preload otel_dask_prov`")
    if stats.other_spans:
        return (f"no task or computation spans in {where}: only {stats.other_spans} worker "
                "phase span(s), so the scheduler's and workers' task spans are missing")
    return f"no spans in {where}"


# --------------------------------------------------------------------------
# Second pass
# --------------------------------------------------------------------------
class UnitReader:
    """Reads units back by number, keeping each file open while it is needed."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._open: dict[int, BinaryIO] = {}

    def read(self, unit: int) -> list[Any]:
        """The OTLP requests of *unit*, decoded in full."""
        index = self.index
        number = index.unit_file[unit]
        file = index.files[number]
        offset = index.unit_offset[unit]
        if offset == _WHOLE:
            return readers.full_requests(_json_values(_read_text(file))) or []
        handle = self._open.get(number)
        if handle is None:
            handle = self._open[number] = open(file.store or file.path, "rb")
        handle.seek(offset)
        return readers.full_requests(handle.read(index.unit_length[unit])) or []

    def where(self, unit: int) -> tuple[str, int]:
        index = self.index
        return index.files[index.unit_file[unit]].shown, index.unit_line[unit]

    def close(self) -> None:
        for handle in self._open.values():
            handle.close()
        self._open.clear()

    def __enter__(self) -> UnitReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
