"""An index cut into parts that can be converted apart and joined in order.

The conversion writes a trace's bundle when the last unit holding its spans
has been read, so bundles come out in *close order* (:func:`close_order`).
:func:`split` cuts that order into contiguous runs of traces and gives each run
its own :class:`~.scan_index.Index`: the units that hold its traces, in the
same reading order, and nothing else. Converting the parts one by one (or on
different machines, :mod:`.on_cluster`) and joining their outputs in part order
writes the bundles of the whole index in the same order, with the same content.

A trace is never cut: one computation of a million tasks is one part.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

import numpy
from numpy.typing import NDArray

from .scan import rank_traces, unit_ranks
from .scan_index import Index, ScanStats


def close_order(index: Index) -> NDArray[numpy.int64]:
    """Trace positions in the order the conversion of *index* closes them (writes their bundles)."""
    rank_of = unit_ranks(index)
    pair_unit = numpy.frombuffer(index.pair_unit, dtype=numpy.int64)
    pair_trace = numpy.frombuffer(index.pair_trace, dtype=numpy.int64)
    last_rank = numpy.frombuffer(index.traces.last_rank, dtype=numpy.int64)
    pair_rank = rank_of[pair_unit]
    closing = numpy.flatnonzero(pair_rank == last_rank[pair_trace])
    # the pairs of a unit are stored together, in the order the unit's traces are met
    # (the order the conversion closes them in), so a stable sort by rank keeps it
    ordered: NDArray[numpy.int64] = pair_trace[closing[numpy.argsort(pair_rank[closing],
                                                                     kind="stable")]]
    return ordered


def split(index: Index, parts: int) -> Iterator[Index]:
    """*index* cut into at most *parts* indexes of about the same work (units to read),
    each a contiguous run of :func:`close_order`, made one at a time."""
    order = close_order(index)
    pair_trace = numpy.frombuffer(index.pair_trace, dtype=numpy.int64)
    work = numpy.bincount(pair_trace, minlength=len(index.traces))[order]
    bounds = numpy.searchsorted(numpy.cumsum(work),
                                numpy.linspace(0, work.sum(), parts + 1)[1:-1], side="right")
    for run in numpy.split(order, bounds):
        if len(run):
            yield subset(index, run)


def subset(index: Index, traces: NDArray[numpy.int64]) -> Index:
    """The index of the traces at positions *traces* only (numbered in that order): the
    units holding them, in their order, and the pairs between the two."""
    pair_unit = numpy.frombuffer(index.pair_unit, dtype=numpy.int64)
    pair_trace = numpy.frombuffer(index.pair_trace, dtype=numpy.int64)
    renumber: NDArray[numpy.int64] = numpy.full(len(index.traces), -1, dtype=numpy.int64)
    renumber[traces] = numpy.arange(len(traces), dtype=numpy.int64)
    kept = renumber[pair_trace] >= 0
    units = numpy.unique(pair_unit[kept])
    unit_number: NDArray[numpy.int64] = numpy.full(len(index.unit_time), -1, dtype=numpy.int64)
    unit_number[units] = numpy.arange(len(units), dtype=numpy.int64)

    def pick(values: array[int]) -> array[int]:
        chosen = numpy.frombuffer(values, dtype=numpy.int64)[units]
        return array(values.typecode, chosen.tobytes())

    part = Index(index.files, index.traces.subset(traces), index.resources, ScanStats(),
                 unit_time=pick(index.unit_time), unit_file=pick(index.unit_file),
                 unit_offset=pick(index.unit_offset), unit_length=pick(index.unit_length),
                 unit_line=pick(index.unit_line),
                 pair_unit=array("l", unit_number[pair_unit[kept]].tobytes()),
                 pair_trace=array("l", renumber[pair_trace[kept]].tobytes()))
    rank_traces(part)
    return part
