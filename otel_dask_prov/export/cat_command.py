"""``otel-prov cat``: print trace files of any format as OTLP JSON lines, for a person to read."""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path
from typing import IO

import click

from ..errors import TraceFormatError
from .trace_file_reader import DamagedDataError, TraceLines, detect_format


def cat_file(path: Path, out: IO[bytes]) -> bool:
    """Write the OTLP JSON lines of *path* to *out*; False if the file was cut short.

    Raises :class:`TraceFormatError` (``path: byte N: reason``) on damaged data.
    """
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the reader below
    except OSError as error:
        raise TraceFormatError(str(path), None, f"cannot read: {error.strerror or error}") from None
    kind = detect_format(raw.read(8))
    raw.seek(0)
    lines = TraceLines(raw, kind)
    with raw, io.BufferedReader(lines, 1 << 20) as stream:
        try:
            shutil.copyfileobj(stream, out, 1 << 20)
        except DamagedDataError as error:
            raise TraceFormatError(str(path), None, str(error)) from None
    return not lines.truncated


@click.command("cat")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(path_type=Path))
def cat_command(files: tuple[Path, ...]) -> None:
    """Print trace FILES as OTLP JSON lines, one request a line.

    Reads every format that the other commands read, told apart by content: OTLP
    JSON lines, gzip, the zstd frames of local trace and spill files
    (*.jsonl.zst), and the collector's file exporter output with format:
    proto and/or compression: zstd. A file cut short by a killed writer is
    printed up to the cut with a warning; damaged data stops with
    FILE: byte N: reason and exit status 2.

    \b
      otel-prov cat traces/dask-scheduler-*.jsonl.zst | less
      otel-prov cat collector/traces.binpb.zst > traces.jsonl
    """
    out = click.get_binary_stream("stdout")
    try:
        for path in files:
            if not cat_file(path, out):
                click.echo(f"otel-prov: warning: {path}: ends inside a frame (was the writer "
                           "stopped mid-write?); printed what it holds", err=True)
        out.flush()
    except BrokenPipeError:  # `otel-prov cat FILE | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
