"""The library call behind ``otel-prov export``: trace files in, a Parquet dataset out."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..convert.pipeline import ConversionReport
from ..convert.pipeline import run as convert_run
from ..convert.progress import Progress
from ..errors import MissingPackageError, OptionError

PathLike = str | os.PathLike[str]

MISSING: Final = ("the query commands need pyarrow and duckdb; install them with: "
                  "pip install 'otel-dask-prov[query]'")
_RUN_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def require() -> None:
    """Raise :class:`~otel_dask_prov.errors.MissingPackageError` unless pyarrow and duckdb
    are installed (DuckDB is found, not imported: an export does not need it)."""
    try:
        import pyarrow  # noqa: F401

        found = importlib.util.find_spec("duckdb") is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
        found = False
    if not found:
        raise MissingPackageError(MISSING)


def check_run_name(name: str) -> str:
    """*name* if it can name a partition folder (``run=<name>``).

    >>> check_run_name("nightly-2026.12.04")
    'nightly-2026.12.04'
    """
    if not _RUN_NAME.fullmatch(name) or len(name) > 200:
        raise OptionError(f"invalid run name {name!r}: use letters, digits, '_', '-' and '.' "
                          "(not first), e.g. --run nightly-2026-12-04")
    return name


@dataclass
class ExportResult:
    """What an export wrote, for the command's summary line."""

    directory: Path
    run: str
    """The run's name: its partition is ``<table>/run=<run>/``."""
    rows: dict[str, int]
    """Rows written per table."""
    conversion: ConversionReport

    def summary(self) -> str:
        """One line: where the run is and how many rows each table got."""
        counts = ", ".join(f"{count} {table}" for table, count in self.rows.items())
        text = f"exported run {self.run} to {self.directory}: {counts}"
        if self.conversion.skipped_lines:
            text += f"; skipped {self.conversion.skipped_lines} invalid line(s)"
        return text


def export(paths: Sequence[PathLike] | PathLike, directory: PathLike, run: str | None = None,
           skip_invalid: bool = False, progress: bool = False,
           parallel: bool | None = None, scheduler: str | None = None) -> ExportResult:
    """Export the trace files (or directories) *paths* to the dataset *directory* as run *run*.

    The inputs are read as ``otel-prov convert`` reads them; *run* defaults to a
    short digest of the input files' SHA-256 digests, so exporting the same
    files again replaces their partition. ``docs/queries.md`` lists the tables.

    *scheduler*, the address of a Dask scheduler, exports on that cluster: the
    workers read the inputs and write a file per part of the run into *directory*
    (:mod:`otel_dask_prov.convert.on_cluster`), so both must be on a file system
    they share with this process.
    """
    require()
    from .dataset_writer import DatasetWriter

    if run is not None:
        check_run_name(run)
    inputs = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    target = Path(directory)  # made once the inputs are known to be readable
    writer = DatasetWriter(target, run)
    try:
        conversion = convert_run(inputs, lambda: writer, False, skip_invalid,
                                 Progress(enabled=progress), parallel, scheduler, target)
    except BaseException:
        writer.abort()
        raise
    assert writer.run is not None
    return ExportResult(target, writer.run, dict(writer.rows), conversion)
