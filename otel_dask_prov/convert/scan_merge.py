"""The first pass in two processes: share the files, scan each share, merge the two indexes.

The merged index is the one a single process makes, reading the files in
order: units, traces and resources numbered the same way, warnings in file
order. The other process is :mod:`.readahead`'s helper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import TraceFormatError
from .discovery import InputFile, size_on_disk
from .file_scan import FileScanner
from .scan_index import Index, ScanStats, Traces


def share_files(files: list[InputFile]) -> tuple[list[int], list[int]]:
    """File numbers for this process and for the helper, about half the bytes each
    (the largest file here: this process also maps what the helper reads later)."""
    loads = [0, 0]
    shares: tuple[list[int], list[int]] = ([], [])
    for number in sorted(range(len(files)), key=lambda n: -size_on_disk(files[n])):
        side = 0 if loads[0] <= loads[1] else 1
        shares[side].append(number)
        loads[side] += size_on_disk(files[number])
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
              on_bytes: Callable[[int], None], store_directory: str | None = None) -> ScanPart:
    """Scan the files *numbers* of *files* (the others are left to another process);
    decompressed copies of gzipped files go to *store_directory* (default: the temporary one)."""
    scanner = FileScanner(skip_invalid, on_bytes, store_directory)
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
    index.traces.seal()  # the merge finds traces by id in the merged index, not here
    return part


def merge_parts(files: list[InputFile], parts: list[ScanPart]) -> Index:
    """The index of all *files* from parts that each scanned some of them: units,
    traces and resources numbered as one process, reading the files in order, numbers them."""
    index = Index(files, Traces(), {}, ScanStats())
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
            files[number].store, files[number].framed = scanned.store, scanned.framed
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
                index.pair_unit.append(merged)
                index.pair_trace.append(index.traces.position(local.traces.ids[trace]))
    for part in parts:
        index.traces.absorb(part.index.traces)
        index.stats.add_counts(part.index.stats)
    return index
