"""What the first pass keeps: where each unit is, when it ends, which traces it holds.

A *unit* is a line of a JSON-lines file, or a whole JSON document. The index
holds a few numbers per unit in flat arrays and nothing of the spans
themselves, so it stays small for any input size; the second pass reads the
units back by number (:mod:`.unit_reader`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy

from .discovery import InputFile
from .model import Resource

WHOLE_DOCUMENT: Final = -1
"""The offset of a unit that is a whole document (:attr:`InputFile.layout` ``document``)."""


class TraceIds:
    """Trace ids, 16 bytes each in one buffer, read back as 32 lowercase hex digits.

    A million ids as ``str`` objects take 89 MB, and three times that while the
    first pass's parts are merged; here they take 16 MB, and travel as one buffer.
    """

    __slots__ = ("_bytes",)

    def __init__(self, data: bytes = b"") -> None:
        self._bytes = bytearray(data)

    def __len__(self) -> int:
        return len(self._bytes) // 16

    def __getitem__(self, position: int) -> str:
        if not 0 <= position < len(self):
            raise IndexError(position)
        return self._bytes[position * 16:position * 16 + 16].hex()

    def __iter__(self) -> Iterator[str]:
        data = self._bytes
        for start in range(0, len(data), 16):
            yield data[start:start + 16].hex()

    def append(self, raw: bytes) -> None:
        """Add the id whose 16 bytes are *raw*."""
        self._bytes += raw

    def pick(self, positions: Sequence[int]) -> TraceIds:
        """The ids at *positions*, in that order."""
        rows = numpy.frombuffer(self._bytes, dtype=numpy.uint8).reshape(-1, 16)
        return TraceIds(rows[numpy.asarray(positions, dtype=numpy.int64)].tobytes())


class Traces:
    """What the first pass knows about each trace, by its position (in order of discovery):
    its id, the files and the processes (resources) that hold its spans, and the rank of
    the last unit that holds them (:attr:`last_rank`, set once the units are ranked).

    An object with a set and a dict per trace cost about 1 KiB a trace, a million small
    traces (one per ``client.submit``) a gigabyte; here a trace costs its id, three array
    slots and, while the first pass runs, a dict entry. The sets of files and of
    resources are interned: traces of one run share a handful of each.
    """

    __slots__ = (
        "_file_ids",
        "_file_set",
        "_file_sets",
        "_file_step",
        "_positions",
        "_resource_ids",
        "_resource_set",
        "_resource_sets",
        "_resource_step",
        "ids",
        "last_rank",
    )

    def __init__(self) -> None:
        self.ids = TraceIds()
        self.last_rank = array("l")
        self._positions: dict[bytes, int] | None = {}
        self._file_set = array("l")
        self._resource_set = array("l")
        self._file_sets: list[tuple[int, ...]] = [()]
        self._resource_sets: list[tuple[tuple[str, int], ...]] = [()]
        self._file_ids: dict[tuple[int, ...], int] = {(): 0}
        self._resource_ids: dict[tuple[tuple[str, int], ...], int] = {(): 0}
        self._file_step: dict[tuple[int, int], int] = {}
        self._resource_step: dict[tuple[int, str, int], int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, trace_id: str) -> int:
        """The position of *trace_id*, a new one if it is new."""
        positions = self._positions
        assert positions is not None, "no trace can be added once the scan is sealed"
        raw = bytes.fromhex(trace_id)
        position = positions.get(raw)
        if position is None:
            position = positions[raw] = len(self.ids)
            self.ids.append(raw)
            self.last_rank.append(-1)
            self._file_set.append(0)
            self._resource_set.append(0)
        return position

    def seal(self) -> None:
        """No more traces: drop the lookup by id (the largest part of the index)."""
        self._positions = None

    def add_file(self, position: int, number: int) -> None:
        """Note that file *number* holds spans of the trace at *position*."""
        current = self._file_set[position]
        step = self._file_step.get((current, number))
        if step is None:
            files = self._file_sets[current]
            step = current if number in files else _intern(
                self._file_sets, self._file_ids, tuple(sorted((*files, number))))
            self._file_step[(current, number)] = step
        self._file_set[position] = step

    def add_resource(self, position: int, key: str, side: int) -> None:
        """Note that the process *key* holds spans of the trace, on *side*
        (:data:`~.model.SCHEDULER_SIDE` / :data:`~.model.WORKER_SIDE` bits)."""
        current = self._resource_set[position]
        step = self._resource_step.get((current, key, side))
        if step is None:
            sides = dict(self._resource_sets[current])
            sides[key] = sides.get(key, 0) | side
            step = _intern(self._resource_sets, self._resource_ids, tuple(sides.items()))
            self._resource_step[(current, key, side)] = step
        self._resource_set[position] = step

    def files(self, position: int) -> tuple[int, ...]:
        """Numbers of the files that hold spans of the trace at *position*, in order."""
        return self._file_sets[self._file_set[position]]

    def resources(self, position: int) -> tuple[tuple[str, int], ...]:
        """(resource key, side bits) of the processes that hold its spans, as first met."""
        return self._resource_sets[self._resource_set[position]]

    def subset(self, positions: Sequence[int]) -> Traces:
        """The traces at *positions*, in that order (sealed: none can be added)."""
        part = Traces()
        part.seal()
        part.ids = self.ids.pick(positions)
        part.last_rank = array("l", [self.last_rank[position] for position in positions])
        part._file_set = array("l", [self._file_set[position] for position in positions])
        part._resource_set = array("l", [self._resource_set[position] for position in positions])
        part._file_sets, part._resource_sets = self._file_sets, self._resource_sets
        return part

    def absorb(self, other: Traces) -> None:
        """Add the traces of *other* (the first pass over other files) to these."""
        for found, trace_id in enumerate(other.ids):
            position = self.position(trace_id)
            for number in other.files(found):
                self.add_file(position, number)
            for key, side in other.resources(found):
                self.add_resource(position, key, side)


def _intern(table: list[Any], numbers: dict[Any, int], value: Any) -> int:
    """The number of *value* in *table*, appended if it is new."""
    number = numbers.get(value)
    if number is None:
        number = numbers[value] = len(table)
        table.append(value)
    return number


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
    traces: Traces
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
