"""The conversion from start to end: index the inputs, map trace by trace, write.

:func:`run` drives any :class:`~.streaming.DocumentWriter`: the streaming
PROV-JSON / PROV-N writers, or the ``prov`` document builder for the other
formats (and for tests, which compare the two).

The document's own records describe the conversion: ``otel-dask-prov`` as a
``prov:SoftwareAgent`` (``dask:Tool``) associated with the conversion activity,
which used every input file (``dask:TraceFile``, identified by its SHA-256) and
generated one bundle per trace, each derived from the files that hold its
spans. The conversion has no time, so that the same input gives the same
document.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy

from ..errors import OptionError, TraceFormatError
from ..prov_vocabulary import (
    CONVERSION,
    DASK_NAMESPACE_URI,
    DASK_PREFIX,
    PROV_LABEL,
    PROV_LOCATION,
    PROV_SOFTWARE_AGENT,
    PROV_TYPE,
    SHA256,
    SIZE,
    TOOL,
    TOOL_VERSION,
    TRACE,
    TRACE_FILE,
    TRACE_ID,
)
from ..version import __version__
from . import identifiers as ids
from . import readers
from .mapping import BUNDLE, Container, TraceContext, TraceMapper
from .model import Span
from .progress import Progress
from .prov_records import QName, Record
from .readahead import DECODE_ERRORS, Helper, wanted_traces, worth_it
from .resource_catalog import ResourceCatalog
from .scan import scan
from .scan_index import Index, UnitTraces
from .streaming import DocumentWriter, RecordSink
from .unit_reader import UnitReader

NAMESPACES: dict[str, str] = {
    DASK_PREFIX: DASK_NAMESPACE_URI,
    ids.RUN_PREFIX: ids.RUN_NAMESPACE_URI,
}
"""Every prefix a converted document uses, besides the predefined ``prov`` and ``xsd``."""


@dataclass
class ConversionReport:
    """What a conversion read and wrote, for the command's summary line."""

    files: int = 0
    """Input files found (named, or in the directories given), unreadable ones included."""
    traces: int = 0
    """Traces converted (a bundle each, unless flattened)."""
    records: int = 0
    """Every PROV record the document holds, its own (the tool, the conversion, its inputs,
    one entity per trace with its generation, attribution and derivations) and those of the
    traces, in bundles or not; bundles themselves are containers, not records."""
    skipped_lines: int = 0
    """Invalid units left out (``skip_invalid``)."""
    non_trace_units: int = 0
    """Lines (or documents) of other signals: metrics, logs."""
    foreign_spans: int = 0
    """Spans of other instrumentations, left out."""
    foreign_scopes: list[str] = field(default_factory=list)
    """Their instrumentation scopes, sorted."""
    warnings: list[str] = field(default_factory=list)
    """Files skipped and data cut short; the command prints them before the summary."""

    @classmethod
    def of(cls, index: Index, records: int, skipped_lines: int = 0) -> ConversionReport:
        """The report of a conversion of *index* that wrote *records* records and left out
        *skipped_lines* invalid units besides those its first pass counted."""
        stats = index.stats
        return cls(
            files=len(index.files), traces=len(index.traces), records=records,
            skipped_lines=stats.skipped_lines + skipped_lines,
            non_trace_units=stats.non_trace_units, foreign_spans=stats.foreign_spans,
            foreign_scopes=sorted(stats.foreign_scopes), warnings=list(stats.warnings))

    def summary(self) -> str:
        """One line: what was converted, and what was left out."""
        parts = [f"converted {self.traces} trace(s) from {self.files} file(s) "
                 f"into {self.records} PROV record(s)"]
        if self.skipped_lines:
            parts.append(f"skipped {self.skipped_lines} invalid line(s)")
        if self.foreign_spans:
            parts.append(f"ignored {self.foreign_spans} span(s) of other instrumentations "
                         f"({', '.join(self.foreign_scopes[:5])})")
        if self.non_trace_units:
            parts.append(f"ignored {self.non_trace_units} line(s) of metrics or logs")
        return "; ".join(parts)


def header_records(index: Index, flatten: bool) -> Iterator[Record]:
    """The document's own records: the tool, the conversion, its inputs and outputs.

    The conversion's id is a digest of what determines the document's content
    (tool version, inputs, flattening), not of its serialization. The records are
    made as the writer takes them: an input of a million traces has four per trace.
    A flattened document has no bundles, but keeps one entity per trace (typed
    ``dask:Trace`` instead of ``prov:Bundle``) with the same generation, attribution and derivations.
    """
    tool = ids.tool_id(__version__)
    digest = hashlib.sha256(
        "\n".join([__version__, str(flatten),
                   *sorted(file.sha256 for file in index.files)]).encode()).hexdigest()[:16]
    conversion = ids.conversion_id(digest)
    yield Record("agent", tool, (), ((PROV_TYPE, QName(PROV_SOFTWARE_AGENT)),
                                     (PROV_TYPE, QName(TOOL)),
                                     (PROV_LABEL, f"otel-dask-prov {__version__}"),
                                     (TOOL_VERSION, __version__)))
    yield Record("activity", conversion, (None, None), ((PROV_TYPE, QName(CONVERSION)),))
    yield Record("wasAssociatedWith", None, (conversion, tool, None), ())
    file_ids = []
    for file in index.files:
        identifier = ids.file_id(file.sha256)
        file_ids.append(identifier)
        if identifier in file_ids[:-1]:
            continue
        yield Record("entity", identifier, (), (
            (PROV_TYPE, QName(TRACE_FILE)), (PROV_LOCATION, file.shown),
            (SHA256, file.sha256), (SIZE, file.size)))
        yield Record("used", None, (conversion, identifier, None), ())
    traces = index.traces
    kind = (PROV_TYPE, QName(TRACE) if flatten else BUNDLE)
    for position, trace_id in enumerate(traces.ids):
        bundle = ids.trace_id(trace_id)
        yield Record("entity", bundle, (), (kind, (TRACE_ID, trace_id)))
        yield Record("wasGeneratedBy", None, (bundle, conversion, None), ())
        yield Record("wasAttributedTo", None, (bundle, tool), ())
        for number in traces.files(position):
            yield Record("wasDerivedFrom", None,
                         (bundle, file_ids[number], conversion, None, None), ())


@contextmanager
def rare_garbage_collection() -> Iterator[None]:
    """Collect garbage less often while converting.

    A conversion makes millions of short-lived tuples and dicts and keeps few
    of them; with the default threshold the collector runs every 700
    allocations, which takes a measurable share of the time (``docs/performance.md``).
    """
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


class _OpenTrace:
    __slots__ = ("container", "mapper", "sink")

    def __init__(self, mapper: TraceMapper, sink: RecordSink, container: Container) -> None:
        self.mapper = mapper
        self.sink = sink
        self.container = container


def run(
    paths: list[str | os.PathLike[str]],
    writer_for: Callable[[], DocumentWriter],
    flatten: bool,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    parallel: bool | None = None,
    scheduler: str | None = None,
    work: Path | None = None,
) -> ConversionReport:
    """Convert *paths* with the writer ``writer_for()`` makes once the inputs are indexed
    (so that unreadable input fails before any output is started).

    With *parallel*, a second process scans part of the files and decodes the
    spans (:mod:`.readahead`); ``None`` uses one for large inputs on a machine
    with two cores or more. With *scheduler*, the conversion runs on that Dask
    cluster instead, its part files under *work* (:mod:`.on_cluster`).
    """
    if scheduler is not None:
        if flatten:
            raise OptionError("--flatten cannot be combined with --scheduler: a flattened "
                              "document merges the agents of every trace in one place")
        from .on_cluster import run_on_cluster

        return run_on_cluster(paths, scheduler, writer_for, skip_invalid, progress, work)
    progress = progress or Progress(enabled=False)
    with rare_garbage_collection(), ExitStack() as stack:
        helper = None
        if parallel or (parallel is None and worth_it(paths)):
            try:
                helper = stack.enter_context(Helper())
            except OSError:  # no Python to start here (an embedded interpreter): one process
                if parallel:
                    raise
        index = scan(paths, skip_invalid, progress, helper)
        try:
            writer = writer_for()
            writer.start(header_records(index, flatten))
            header = writer.top().records
            progress.phase("converting", len(index.unit_time))
            records = header + convert_index(index, writer, flatten, skip_invalid, progress,
                                             helper)
            writer.finish()
            progress.end()
        finally:
            index.cleanup()
    return ConversionReport.of(index, records)


def _decoded_here(index: Index, order: list[int], holds: UnitTraces,
                  catalog: ResourceCatalog) -> Iterator[tuple[list[Span], str | None]]:
    """The spans of each unit in *order* (or what decoding it raised), decoded here."""
    with closing(UnitReader(index)) as reader:
        for unit in order:
            try:
                yield readers.iter_spans(reader.read(unit), catalog.resolve,
                                         wanted_traces(index, holds, unit)), None
            except DECODE_ERRORS as error:
                yield [], str(error)


def convert_index(
    index: Index, writer: DocumentWriter, flatten: bool, skip_invalid: bool,
    progress: Progress, helper: Helper | None,
) -> int:
    """Map and write every unit in reading order; the number of records written."""
    holds = index.traces_by_unit()
    catalog = ResourceCatalog(index.resources)
    document_container = Container() if flatten else None
    open_traces: dict[int, _OpenTrace] = {}
    counted = 0
    top = writer.top()
    header = top.records

    traces = index.traces
    last_rank = traces.last_rank
    closes = numpy.sort(numpy.frombuffer(last_rank, dtype=numpy.int64))

    def open_trace(position: int, rank: int) -> _OpenTrace:
        trace_id = traces.ids[position]
        context = TraceContext(trace_id, {
            key: (index.resources[key], side) for key, side in traces.resources(position)},
            index.resources.values())
        if document_container is not None:
            sink, container = top, document_container
        else:
            # no other trace closes while this one is open: its bundle is the next written
            alone = (closes.searchsorted(last_rank[position], "right")
                     - closes.searchsorted(rank, "left")) == 1
            sink, container = writer.open_bundle(ids.trace_id(trace_id), alone), Container()
        trace = open_traces[position] = _OpenTrace(TraceMapper(context, container, sink.add),
                                                   sink, container)
        return trace

    def close_trace(position: int) -> None:
        nonlocal counted
        trace = open_traces.pop(position)
        trace.mapper.finish()
        if document_container is None:
            for agent in trace.container.take_merged():
                trace.sink.add(agent)
            counted += trace.sink.records
            writer.close_bundle(trace.sink)

    order = index.order()
    decoded = (helper.decode(index, order) if helper is not None
               else _decoded_here(index, order, holds, catalog))
    for rank, (unit, (spans, failure)) in enumerate(zip(order, decoded, strict=True)):
        wanted = wanted_traces(index, holds, unit)
        try:
            for span in spans:
                position = wanted[span.trace_id]
                trace = open_traces.get(position) or open_trace(position, rank)
                trace.mapper.add(span)
        except DECODE_ERRORS as error:
            failure = str(error)
        if failure is not None:
            if not skip_invalid:
                path, line = index.where(unit)
                raise TraceFormatError(path, line, f"cannot convert: {failure}") from None
            index.stats.skipped_lines += 1
        for position in holds[unit]:
            if last_rank[position] == rank and position in open_traces:
                close_trace(position)
        progress.advance()
    if document_container is not None:
        for agent in document_container.take_merged():
            top.add(agent)
        counted += top.records - header
    return counted
