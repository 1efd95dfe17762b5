"""The first pass over one file: parse and check every unit, index the useful ones.

A file whose lines are each a JSON value (OTLP JSON lines, the normal case,
also NDJSON of SDK spans or Jaeger responses) is read line by line; any other
JSON file (a pretty-printed Jaeger download, ``ConsoleSpanExporter`` output) is
one unit. Files of zstd frames (our local default) and of the collector's
length-prefixed messages are read frame by frame, each frame a unit indexed
where it lies in the file (:mod:`otel_dask_prov.export.trace_file_reader`).
The lines of a gzip file that hold spans the second pass needs are kept,
decompressed, in a temporary file (:attr:`~.discovery.InputFile.store`).
While it parses, :class:`FileScanner` hashes the file and catalogs the
resources (processes) that wrote its spans.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

from ..errors import TraceFormatError
from ..export import otlp_json_decode
from ..export.trace_file_reader import (
    LENGTH_PREFIXED,
    PLAIN,
    ZSTD,
    DamagedDataError,
    Frames,
    TraceLines,
    detect_format,
)
from . import readers
from .discovery import InputFile
from .input_streams import HashingReader, document_values
from .model import ATTEMPT, COMPUTATION, SCHEDULER_SIDE, WORKER_SIDE, Resource
from .resource_catalog import ResourceCatalog
from .scan_index import WHOLE_DOCUMENT, Index, ScanStats, Traces


class FileScanner:
    """Builds an :class:`~.scan_index.Index` file by file, unit by unit.

    A malformed unit raises :class:`TraceFormatError`, or with *skip_invalid* is
    counted and left out; *progress* is told how many bytes were read.
    """

    def __init__(self, skip_invalid: bool, progress: Callable[[int], None],
                 store_directory: str | None = None) -> None:
        self.skip_invalid = skip_invalid
        self.progress = progress
        self.store_directory = store_directory
        """Where decompressed copies of gzipped files go (default: the temporary folder)."""
        self.index = Index([], Traces(), {}, ScanStats())
        self.catalog = ResourceCatalog(self.index.resources)
        self._cut_line_reported = False

    def scan_file(self, number: int, file: InputFile) -> None:
        """Index the units of *file*, the *number*-th of :attr:`Index.files`."""
        self._cut_line_reported = False
        try:
            raw = open(file.path, "rb")  # noqa: SIM115 - an open error is reported, not raised
        except OSError as error:
            self._unreadable(file, error)
            return
        with raw:
            kind = detect_format(raw.read(8))
            file.compressed = kind != PLAIN
            raw.seek(0)
            reader = HashingReader(raw, self.progress)
            try:
                self._scan_raw(number, file, reader, kind)
            finally:
                reader.sha256.close()

    def _scan_raw(self, number: int, file: InputFile, reader: HashingReader, kind: str) -> None:
        buffered = io.BufferedReader(reader, 1 << 20)
        if kind in (ZSTD, LENGTH_PREFIXED):
            self._scan_framed(number, file, buffered, kind)
            while buffered.read(1 << 20):  # hash the rest
                pass
            file.size = reader.count
            file.sha256 = reader.sha256.hexdigest()
            return
        lines = TraceLines(buffered, kind) if file.compressed else None
        stream: IO[bytes] = io.BufferedReader(lines, 1 << 20) if lines else buffered
        try:
            self._scan_stream(number, file, stream,
                              lambda: lines is not None and lines.truncated)
        except OSError as error:
            self._unreadable(file, error)
            return
        except DamagedDataError as error:
            self._damaged(file, error)
        if lines is not None and lines.truncated and not self._cut_line_reported:
            self._warn(f"{file.shown}: compressed data ends early (was the writer stopped "
                       "mid-write?); converted what could be read")
        while buffered.read(1 << 20):  # hash what the decompressor did not need
            pass
        file.size = reader.count
        file.sha256 = reader.sha256.hexdigest()

    def _damaged(self, file: InputFile, error: DamagedDataError) -> None:
        """Damaged compressed data: an error, or with ``skip_invalid`` a warning (what came
        before it is converted)."""
        if not self.skip_invalid:
            raise TraceFormatError(file.shown, None, str(error)) from None
        self._warn(f"{file.shown}: {error}; converted what came before, skipped the rest")

    def _unreadable(self, file: InputFile, error: Exception) -> None:
        reason = getattr(error, "strerror", None) or str(error)
        if file.explicit:
            raise TraceFormatError(file.shown, None, f"cannot read: {reason}")
        self._warn(f"{file.shown}: skipped, cannot read: {reason}")

    def _scan_stream(self, number: int, file: InputFile, stream: IO[bytes],
                     cut_short: Callable[[], bool]) -> None:
        store = None
        if file.compressed:
            handle, name = tempfile.mkstemp(prefix="otel-prov-", suffix=".jsonl",
                                            dir=self.store_directory)
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
            except readers.InvalidUnitError as error:
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
            except readers.InvalidUnitError as error:
                self._invalid(file, line_number, str(error))
                continue
            if useful and store is not None:
                store.write(line)
                stored += len(line)

    def _scan_framed(self, number: int, file: InputFile, buffered: IO[bytes], kind: str) -> None:
        """Index every frame of a zstd-frames or length-prefixed file where it lies in the
        file (the second pass decodes it again there); its ordinal is its line in ``otel-prov cat``."""
        file.framed = kind
        frames = Frames(buffered, kind)
        parsed_any = False
        try:
            for ordinal, (offset, length, data) in enumerate(frames, start=1):
                if data.isspace() or not data:
                    continue
                try:
                    requests = readers.scan_requests(data)
                    parsed_any = True
                    self._index_unit(number, file, requests, ordinal, offset, length)
                except readers.InvalidUnitError as error:
                    if not parsed_any and not file.explicit:
                        self._warn(f"{file.shown}: skipped, {error}")
                        return
                    parsed_any = True
                    self._invalid(file, ordinal, str(error))
                except ValueError as error:
                    self._invalid(file, ordinal, f"malformed JSON: {_json_reason(error)}")
        except OSError as error:
            self._unreadable(file, error)
            return
        except DamagedDataError as error:
            self._damaged(file, error)
        if frames.truncated:
            self._warn(f"{file.shown}: compressed data ends early (was the writer stopped "
                       "mid-write?); converted what could be read")

    def _scan_document(self, number: int, file: InputFile) -> bool:
        """Read *file* as one document (a stream of JSON values); False if it is not one."""
        values = document_values(file.path)
        if values is None:
            return False
        file.layout = "document"
        try:
            self._index_unit(number, file, readers.scan_requests(values), 1, WHOLE_DOCUMENT, 0)
        except readers.InvalidUnitError as error:
            if not file.explicit:
                self._warn(f"{file.shown}: skipped, {error}")
            else:
                self._invalid(file, 1, str(error))
        return True

    def _index_unit(
        self, number: int, file: InputFile, requests: list[otlp_json_decode.ScanRequest] | None,
        line: int, offset: int, length: int,
    ) -> bool:
        """Index one unit; True if it holds spans the second pass needs."""
        index = self.index
        if requests is None:
            index.stats.non_trace_units += 1
            return False
        found: dict[str, dict[str, int]] = {}
        latest = 0

        def on_span(resource: Resource, span: otlp_json_decode.ScanSpan, kind: str) -> None:
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
        traces = index.traces
        for trace_id, holders in found.items():
            position = traces.position(trace_id)
            traces.add_file(position, number)
            for key, side in holders.items():
                traces.add_resource(position, key, side)
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
