"""What the first pass keeps: where each unit is, when it ends, which traces it holds.

A *unit* is a line of a JSON-lines file, or a whole JSON document. The index
holds a few numbers per unit in flat arrays and nothing of the spans
themselves, so it stays small for any input size; the second pass reads the
units back by number (:mod:`.unit_reader`).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Final

from .discovery import InputFile
from .model import Resource

WHOLE_DOCUMENT: Final = -1
"""The offset of a unit that is a whole document (:attr:`InputFile.layout` ``document``)."""


@dataclass
class TraceEntry:
    """What the first pass knows about one trace."""

    trace_id: str
    files: set[int] = field(default_factory=set)
    """Numbers of the files that hold its spans."""
    resources: dict[str, int] = field(default_factory=dict)
    """Resource key -> :data:`~.model.SCHEDULER_SIDE` / :data:`~.model.WORKER_SIDE` bits."""
    last_rank: int = -1
    """Position, in reading order, of the last unit that holds its spans."""


@dataclass
class ScanStats:
    """What the first pass counted and noticed, for the conversion report."""

    other_spans: int = 0
    """Our spans the mapping does not use (worker phases)."""
    foreign_spans: int = 0
    """Spans of other instrumentations."""
    foreign_scopes: set[str] = field(default_factory=set)
    skipped_lines: int = 0
    non_trace_units: int = 0
    """Units of other signals (metrics, logs)."""
    warnings: list[str] = field(default_factory=list)

    def add_counts(self, other: ScanStats) -> None:
        """Add the counts of *other* (its warnings are not counts: the caller orders them)."""
        self.other_spans += other.other_spans
        self.foreign_spans += other.foreign_spans
        self.foreign_scopes |= other.foreign_scopes
        self.skipped_lines += other.skipped_lines
        self.non_trace_units += other.non_trace_units


class UnitTraces:
    """The traces each unit holds, as two flat arrays (``holds[unit]`` is a slice of one):
    a list per unit would cost about 150 bytes per unit, a million units 150 MB."""

    __slots__ = ("_starts", "_traces")

    def __init__(self, units: int, pair_unit: array[int], pair_trace: array[int]) -> None:
        counts = array("l", bytes(8 * (units + 1)))
        for unit in pair_unit:
            counts[unit + 1] += 1
        for unit in range(units):
            counts[unit + 1] += counts[unit]
        traces = array("l", bytes(8 * len(pair_trace)))
        filled = array("l", counts)
        for unit, trace in zip(pair_unit, pair_trace, strict=True):
            traces[filled[unit]] = trace
            filled[unit] += 1
        self._starts = counts
        self._traces = traces

    def __getitem__(self, unit: int) -> array[int]:
        return self._traces[self._starts[unit]:self._starts[unit + 1]]

    def __len__(self) -> int:
        return len(self._starts) - 1


@dataclass
class Index:
    """Result of the first pass (:func:`.scan.scan`): files, units, traces and resources."""

    files: list[InputFile]
    traces: list[TraceEntry]
    resources: dict[str, Resource]
    stats: ScanStats
    unit_time: array[int] = field(default_factory=lambda: array("q"))
    """End time of the last span of each unit (nanoseconds)."""
    unit_file: array[int] = field(default_factory=lambda: array("l"))
    unit_offset: array[int] = field(default_factory=lambda: array("q"))
    """Where each unit starts in its file (or its decompressed copy), or :data:`WHOLE_DOCUMENT`."""
    unit_length: array[int] = field(default_factory=lambda: array("q"))
    unit_line: array[int] = field(default_factory=lambda: array("q"))
    pair_unit: array[int] = field(default_factory=lambda: array("l"))
    """With :attr:`pair_trace`: the pairs (unit, trace) of a unit holding spans of a trace."""
    pair_trace: array[int] = field(default_factory=lambda: array("l"))
    trace_index: dict[str, int] = field(default_factory=dict)
    """Trace id -> position in :attr:`traces`."""

    def order(self) -> list[int]:
        """Units in reading order for the second pass: by time, then file, then position."""
        time, file, offset = self.unit_time, self.unit_file, self.unit_offset
        return sorted(range(len(time)), key=lambda unit: (time[unit], file[unit], offset[unit]))

    def traces_by_unit(self) -> UnitTraces:
        """For each unit, the traces it holds."""
        return UnitTraces(len(self.unit_time), self.pair_unit, self.pair_trace)

    def where(self, unit: int) -> tuple[str, int]:
        """The file (as shown to the user) and line of *unit*."""
        return self.files[self.unit_file[unit]].shown, self.unit_line[unit]

    def cleanup(self) -> None:
        """Remove the temporary decompressed copies."""
        for file in self.files:
            if file.store is not None:
                file.store.unlink(missing_ok=True)
                file.store = None
