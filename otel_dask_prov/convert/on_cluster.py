"""Converting on a Dask cluster (``--scheduler ADDRESS``): files read in parallel, parts merged.

The conversion runs as two Dask computations on the user's cluster, through a
``distributed.Client``:

1. **Scan**: one task per input file runs the first pass over it
   (:func:`.scan_merge.scan_part`); the parts are merged here in file order
   into the index one process makes (:func:`.scan_merge.merge_parts`).
2. **Convert**: the index is cut into parts of about the same work, each a
   contiguous run of the traces in the order their bundles are written
   (:mod:`.partitions`); one task per part reads, maps and writes its traces
   with a *part writer*; here the parts' outputs are joined in order by the
   whole output's writer, between its start (the document's own records) and
   its finish.

The PROV document is the one a single process writes, byte for byte; the
dataset of ``otel-prov export`` has the same rows, in one file per part. The
workers must see the input files, and the folder the parts are written to
(:func:`run_on_cluster`'s *work*), at the same paths as this process: a shared
file system, as HPC clusters have. A trace is never cut: a computation of a
million tasks is converted by one task.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from ..errors import OptionError, OutputError
from .discovery import discover, size_on_disk
from .partitions import split
from .pipeline import ConversionReport, convert_index, header_records, rare_garbage_collection
from .progress import Progress
from .scan import finish_scan, merge_or_raise
from .scan_index import Index
from .scan_merge import scan_part
from .streaming import DocumentWriter, ProvJsonWriter, ProvNWriter

PARTS_PER_THREAD = 4
"""Parts per worker thread: enough for the threads to stay busy when parts differ in cost."""


class PartWriter(DocumentWriter, Protocol):
    """A writer of one part's records; what it wrote is described by :meth:`part_result`."""

    def part_result(self) -> Any: ...


@runtime_checkable
class PartedWriter(Protocol):
    """A writer whose output can be written in parts, on other machines, and joined."""

    def part_writers(self, work: Path) -> Callable[[int], PartWriter]:
        """A picklable factory of part writers that write under *work*."""
        ...

    def add_part(self, result: Any) -> None:
        """Join the output of a part (its :meth:`PartWriter.part_result`), in part order."""
        ...


@dataclass
class PartOutcome:
    """What converting one part did."""

    records: int
    skipped_lines: int
    result: Any


def run_on_cluster(
    paths: list[str | os.PathLike[str]],
    scheduler: str,
    writer_for: Callable[[], DocumentWriter],
    skip_invalid: bool = False,
    progress: Progress | None = None,
    work: Path | None = None,
) -> ConversionReport:
    """Convert *paths* on the Dask cluster of *scheduler* with the writer ``writer_for()``
    (a :class:`PartedWriter`, or a streaming PROV writer); part files go to a temporary
    folder under *work* (default: the current directory), removed at the end."""
    from distributed import Client, as_completed

    progress = progress or Progress(enabled=False)
    try:
        client = Client(scheduler, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise OptionError(f"cannot reach the Dask scheduler at {scheduler} ({error}); start "
                          "one (`dask scheduler`) or give its address to --scheduler") from None
    with client, rare_garbage_collection():
        files = discover(paths)
        progress.phase("reading", sum(size_on_disk(file) for file in files))
        work = work or Path.cwd()
        made = not work.exists()  # an output folder the conversion makes
        try:
            work.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix=".otel-prov-parts-", dir=work))
        except OSError as error:
            raise OutputError(str(work), error.strerror or str(error)) from None
        index: Index | None = None
        finished = False
        try:
            scans = client.map(scan_part, [files] * len(files), [[n] for n in range(len(files))],
                               skip_invalid=skip_invalid, on_bytes=_ignore,
                               store_directory=str(folder), pure=False)
            for done in as_completed(scans, loop=client.loop):
                progress.advance(size_on_disk(files[scans.index(done)]))
            found = client.gather(scans)
            client.cancel(scans)  # the workers need not keep them
            del scans
            index = finish_scan(merge_or_raise(files, found), paths)
            del found
            writer = writer_for()
            parted = writer if isinstance(writer, PartedWriter) else _StreamingParts.of(writer)
            writer.start(header_records(index, False))
            header = writer.top().records
            progress.phase("converting", len(index.unit_time))
            threads = max(1, sum(client.nthreads().values()))
            factory = parted.part_writers(folder)
            tasks, units = [], []
            for number, part in enumerate(split(index, PARTS_PER_THREAD * threads)):
                [scattered] = client.scatter([part], hash=False)
                tasks.append(client.submit(convert_part, scattered, factory, number,
                                           skip_invalid, pure=False))
                units.append(len(part.unit_time))
                del part, scattered  # the task holds it now
            for done in as_completed(tasks, loop=client.loop):
                progress.advance(units[tasks.index(done)])
            records, skipped = header, 0
            for task in tasks:
                outcome: PartOutcome = task.result()
                parted.add_part(outcome.result)
                records += outcome.records
                skipped += outcome.skipped_lines
            writer.finish()
            progress.end()
            finished = True
        finally:
            if index is not None:
                index.cleanup()
            shutil.rmtree(folder, ignore_errors=True)
            if made and not finished:
                shutil.rmtree(work, ignore_errors=True)
    return ConversionReport.of(index, records, skipped)


def convert_part(index: Index, writers: Callable[[int], PartWriter], number: int,
                 skip_invalid: bool) -> PartOutcome:
    """Convert one part (a Dask task): its traces, written by ``writers(number)``."""
    writer = writers(number)
    with rare_garbage_collection():
        writer.start(())
        records = convert_index(index, writer, False, skip_invalid, Progress(enabled=False), None)
        writer.finish()
    return PartOutcome(records, index.stats.skipped_lines, writer.part_result())


def _ignore(count: int) -> None:
    """Progress of a scan task: this process counts each file once its task is done."""


# --------------------------------------------------------------------------
# The streaming PROV writers in parts: each part's bundles in a file, copied in order
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class _TextPartFiles:
    """Part writers of PROV-JSON or PROV-N bundles, each to ``part-<n>`` under *folder*."""

    json: bool
    namespaces: dict[str, str]
    folder: str

    def __call__(self, number: int) -> _TextPart:
        path = Path(self.folder) / f"part-{number}.{'json' if self.json else 'provn'}"
        out = path.open("w", encoding="utf-8")
        kind = ProvJsonWriter if self.json else ProvNWriter
        return _TextPart(kind(out, self.namespaces, False, part=True), path, out)


class _TextPart:
    """A streaming PROV writer of some bundles, to a file of its own."""

    def __init__(self, writer: ProvJsonWriter | ProvNWriter, path: Path, out: IO[str]) -> None:
        self.writer, self.path, self.out = writer, path, out
        self.start, self.top = writer.start, writer.top
        self.open_bundle, self.close_bundle = writer.open_bundle, writer.close_bundle

    def finish(self) -> None:
        self.writer.finish()
        self.out.close()

    def part_result(self) -> tuple[str, int]:
        return str(self.path), self.writer.bundles


@dataclass
class _StreamingParts:
    """A streaming PROV writer as a :class:`PartedWriter`."""

    writer: ProvJsonWriter | ProvNWriter

    @classmethod
    def of(cls, writer: DocumentWriter) -> _StreamingParts:
        if not isinstance(writer, (ProvJsonWriter, ProvNWriter)) or writer.flatten:
            raise OptionError("--scheduler writes PROV-JSON or PROV-N with a bundle per trace "
                              "(not flattened), a dataset (otel-prov export) or a report")
        return cls(writer)

    def part_writers(self, work: Path) -> Callable[[int], PartWriter]:
        return _TextPartFiles(isinstance(self.writer, ProvJsonWriter), self.writer.namespaces,
                              str(work))

    def add_part(self, result: tuple[str, int]) -> None:
        path, bundles = result
        with open(path, encoding="utf-8") as text:
            self.writer.add_part(text, bundles)
        os.unlink(path)
