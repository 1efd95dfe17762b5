"""The library calls behind ``otel-prov convert``."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import OptionError, OutputError
from .atomic_output import replaced_atomically
from .formats import (
    ALWAYS_FLAT,
    BINARY,
    DIRECTORY,
    STREAMING,
    DocumentBuilder,
    check_program,
    resolve_format,
    serialize,
    streaming_writer,
)
from .pictures import PICTURE_FORMATS, VIEWS, PictureWriter, render
from .pipeline import NAMESPACES, ConversionReport, run
from .progress import Progress

PathLike = str | os.PathLike[str]


def to_document(paths: Sequence[PathLike], flatten: bool = False,
                skip_invalid: bool = False, parallel: bool | None = None) -> Any:
    """The ``prov`` :class:`~prov.model.ProvDocument` of the traces in *paths*.

    Builds the whole document in memory: meant for small inputs, tests, and
    analysis with the ``prov`` API.
    """
    builder = DocumentBuilder(NAMESPACES, flatten)
    run(list(paths), lambda: builder, flatten, skip_invalid, parallel=parallel)
    return builder.document


def convert(
    paths: Sequence[PathLike],
    output: PathLike | IO[Any] | None = None,
    format: str | None = None,
    flatten: bool = False,
    skip_invalid: bool = False,
    progress: bool = False,
    parallel: bool | None = None,
    view: str = "auto",
    scheduler: str | None = None,
) -> ConversionReport:
    """Convert the trace files (or directories) *paths* into one PROV document.

    *output* is a path, an open stream, or ``None``/``"-"`` for stdout; *format*
    one of :data:`~.formats.FORMATS` (default: implied by the output's extension,
    else PROV-JSON). A file output is written under a temporary name and renamed
    when complete, so a failed conversion never leaves half a document.

    *parallel* decodes the spans in a second process while this one maps and
    writes them (:mod:`.readahead`); the default does so for inputs of 64 MiB
    or more on a machine with two cores or more. The document is the same.

    *view* chooses the picture of the ``dot``, ``svg`` and ``png`` formats
    (:mod:`.pictures`): ``tasks``, ``groups``, or ``auto`` (tasks up to
    :data:`~.pictures.TASK_VIEW_LIMIT` attempts, groups above).

    ``ro-crate`` writes a Workflow Run RO-Crate into the folder *output*
    (:mod:`otel_dask_prov.publish.ro_crate`).

    *scheduler*, the address of a Dask scheduler, converts on that cluster
    (:mod:`.on_cluster`): PROV-JSON and PROV-N only, not flattened; the workers
    must see the input files, and the output's folder, at the same paths.
    """
    target = None if output is None or output == "-" else output
    shown = str(target) if isinstance(target, (str, os.PathLike)) else None
    format_name = resolve_format(format, shown)
    check_program(format_name)
    if view not in VIEWS:
        raise OptionError(f"unknown view {view!r}; one of {', '.join(VIEWS)}")
    if view != "auto" and format_name not in PICTURE_FORMATS:
        raise OptionError(f"--view {view} draws a picture: use it with dot, svg or png output, "
                          f"not {format_name}")
    if format_name in ALWAYS_FLAT:
        flatten = True
    if scheduler is not None and (format_name not in STREAMING or flatten):
        raise OptionError(f"--scheduler converts to json or provn, not flattened; not to "
                          f"{format_name}{' flattened' if flatten else ''}")
    if format_name in DIRECTORY:
        if not isinstance(target, (str, os.PathLike)):
            raise OptionError(f"{format_name} is a folder: name it with -o DIR")
        # publish reads the exported dataset: imported only here
        from ..publish.ro_crate import write_crate

        return write_crate(list(paths), target, skip_invalid=skip_invalid, progress=progress,
                           parallel=parallel)
    meter = Progress(enabled=progress)
    cluster = _Cluster(scheduler, Path(target).parent if isinstance(target, (str, os.PathLike))
                       else Path.cwd())
    if isinstance(target, (str, os.PathLike)):
        return _to_file(Path(target), paths, format_name, flatten, skip_invalid, meter, parallel,
                        view, cluster)
    stream = target if target is not None else (
        sys.stdout.buffer if format_name in BINARY else sys.stdout)
    try:
        return _to_stream(stream, paths, format_name, flatten, skip_invalid, meter, parallel,
                          view, cluster)
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say to it
        _quiet_stdout()
        raise OutputError("the standard output", "the reading end was closed") from None


def _to_file(path: Path, paths: Sequence[PathLike], format_name: str, flatten: bool,
             skip_invalid: bool, meter: Progress, parallel: bool | None,
             view: str, cluster: _Cluster) -> ConversionReport:
    with replaced_atomically(path, binary=format_name in BINARY) as stream:
        return _to_stream(stream, paths, format_name, flatten, skip_invalid, meter, parallel,
                          view, cluster)


@dataclass(frozen=True)
class _Cluster:
    """Where to convert: here (no *scheduler*), or on a Dask cluster, parts under *work*."""

    scheduler: str | None
    work: Path


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that exiting does not try to flush into a closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _to_stream(stream: IO[Any], paths: Sequence[PathLike], format_name: str, flatten: bool,
               skip_invalid: bool, meter: Progress, parallel: bool | None,
               view: str, cluster: _Cluster) -> ConversionReport:
    if format_name == "openlineage":  # publish reads the exported dataset: imported only here
        from ..publish.openlineage_events import write_events

        return write_events(list(paths), stream, skip_invalid=skip_invalid,
                            progress=meter.enabled, parallel=parallel)
    if format_name in PICTURE_FORMATS:
        picture = PictureWriter(view)
        report = run(list(paths), lambda: picture, False, skip_invalid, meter, parallel)
        stream.write(render(picture.dot(), format_name))
        return report
    if format_name in STREAMING:
        return run(list(paths), lambda: streaming_writer(
            format_name, stream, NAMESPACES, flatten), flatten, skip_invalid, meter, parallel,
            cluster.scheduler, cluster.work)
    builder = DocumentBuilder(NAMESPACES, flatten)
    report = run(list(paths), lambda: builder, flatten, skip_invalid, meter, parallel)
    stream.write(serialize(builder.document, format_name))
    return report
