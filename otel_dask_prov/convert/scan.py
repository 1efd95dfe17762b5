"""The first pass of a conversion: find the inputs, index them, rank their units.

The conversion reads its inputs twice. The first pass (:func:`scan`) parses
every unit (a line of a JSON-lines file, or a whole JSON document), checks it,
and keeps a few numbers per unit (:mod:`.scan_index`). It also hashes every
file (the conversion records its inputs) and catalogs the resources (processes)
that wrote spans. The second pass reads the units back (:mod:`.unit_reader`)
in the order of their time, across files, so that the scheduler's and the
workers' spans of a computation arrive close together and a trace can be
finished as soon as its last unit has been read.
"""

from __future__ import annotations

import os
from array import array
from typing import Protocol

import numpy
from numpy.typing import NDArray

from ..errors import NoTraceDataError, TraceFormatError
from .discovery import TRACE_SUFFIXES, InputFile, discover, size_on_disk
from .file_scan import FileScanner
from .progress import Progress
from .scan_index import Index, ScanStats
from .scan_merge import ScanPart, merge_parts, scan_part, share_files


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
    progress.phase("reading", sum(size_on_disk(file) for file in files))
    mine, theirs = share_files(files) if helper is not None else (list(range(len(files))), [])
    if helper is None or not theirs:
        index = _scan_alone(files, skip_invalid, progress)
    else:
        helper.start_scan(files, theirs, skip_invalid)
        own = scan_part(files, mine, skip_invalid, progress.advance)
        other = helper.scan_result()
        progress.advance(sum(size_on_disk(files[number]) for number in theirs))
        index = merge_or_raise(files, [own, other])
    return finish_scan(index, paths)


def merge_or_raise(files: list[InputFile], parts: list[ScanPart]) -> Index:
    """The index of the *parts* merged, or the :class:`TraceFormatError` of the first file
    that stopped a part."""
    failed = [part for part in parts if part.error is not None]
    if failed:
        for part in parts:
            part.index.cleanup()
        first = min(failed, key=lambda part: part.error_file)
        assert first.error is not None
        raise TraceFormatError(*first.error)
    return merge_parts(files, parts)


def finish_scan(index: Index, paths: list[str | os.PathLike[str]]) -> Index:
    """*index* complete: no trace can be added, and each knows when the second pass is
    done with it; raises :class:`NoTraceDataError` if no span can be mapped."""
    index.traces.seal()
    if not index.traces:
        index.cleanup()
        message = _nothing_found(paths, index.files, index.stats)
        if index.stats.warnings:
            message += "; " + "; ".join(index.stats.warnings)
        raise NoTraceDataError(message)
    rank_traces(index)
    return index


def _scan_alone(files: list[InputFile], skip_invalid: bool, progress: Progress) -> Index:
    scanner = FileScanner(skip_invalid, progress.advance)
    index = scanner.index
    index.files = files
    try:
        for number, file in enumerate(files):
            scanner.scan_file(number, file)
    except BaseException:
        index.cleanup()
        raise
    return index


def unit_ranks(index: Index) -> NDArray[numpy.int64]:
    """The rank of each unit in the reading order of the second pass (:meth:`Index.order`)."""
    order = numpy.array(index.order(), dtype=numpy.int64)
    rank_of: NDArray[numpy.int64] = numpy.empty(len(order), dtype=numpy.int64)
    rank_of[order] = numpy.arange(len(order), dtype=numpy.int64)
    return rank_of


def rank_traces(index: Index) -> None:
    """Set each trace's :attr:`~.scan_index.Traces.last_rank`: when the second pass is done with it."""
    last_rank: NDArray[numpy.int64] = numpy.full(len(index.traces), -1, dtype=numpy.int64)
    numpy.maximum.at(last_rank, numpy.frombuffer(index.pair_trace, dtype=numpy.int64),
                     unit_ranks(index)[numpy.frombuffer(index.pair_unit, dtype=numpy.int64)])
    index.traces.last_rank = array("l", last_rank.tobytes())


def _nothing_found(paths: list[str | os.PathLike[str]], files: list[InputFile],
                   stats: ScanStats) -> str:
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
