"""``otel-prov export`` and ``otel-prov sql``: the command lines over :mod:`.dataset` and :mod:`.sql`."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click

from ..convert.command import (
    quiet_option,
    say_how_it_went,
    scheduler_option,
    skip_invalid_option,
    trace_paths,
)
from .dataset import export
from .sql import execute

FORMATS = ("text", "csv", "json")


@click.command("export")
@trace_paths
@click.option("-o", "--output", "directory", required=True, metavar="DIR",
              help="The dataset's folder: one folder per table, one partition per run.")
@click.option("--run", "run_name", metavar="NAME",
              help="The run's name (its partition, run=NAME). Default: a short digest of "
                   "the input files' SHA-256, so exporting them again replaces it.")
@skip_invalid_option
@scheduler_option
@quiet_option
def export_command(paths: tuple[str, ...], directory: str, run_name: str | None,
                   skip_invalid: bool, scheduler: str | None, quiet: bool) -> None:
    """Write a run's records as Parquet tables to query with SQL.

    PATHS are trace files or directories, as for `otel-prov convert`. DIR gets
    the tables computations, attempts, executions, dependencies, files and
    workers, partitioned by run (DIR/attempts/run=NAME/part-0.parquet), with
    real timestamps and integers; docs/queries.md describes every column. Query
    them with `otel-prov sql`, DuckDB, pandas or any Parquet reader. Needs the
    query extra: pip install 'otel-dask-prov[query]'.

    \b
    Examples:
      otel-prov export otel-dask-prov-traces/ -o dataset/
      otel-prov export scheduler.jsonl workers/ -o dataset/ --run nightly-2026-12-04
      otel-prov export /shared/traces/ -o /shared/dataset/ --scheduler tcp://head:8786
    """
    result = export(list(paths), directory, run=run_name, skip_invalid=skip_invalid,
                    progress=not quiet, scheduler=scheduler)
    say_how_it_went(result.conversion, result.summary(), quiet)


@click.command("sql")
@click.argument("directory", metavar="DIR", type=click.Path())
@click.argument("query")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text",
              show_default=True, help="An aligned text table, CSV with a header, or a JSON "
                                      "array of objects.")
def sql_command(directory: str, query: str, output_format: str) -> None:
    """Run a SQL query (DuckDB) over a dataset of `otel-prov export`.

    Every table of DIR is a view by its name (computations, attempts,
    executions, dependencies, files, workers), and dependency_edges adds each
    dependency's producer; docs/queries.md has their columns and ready queries.

    \b
    Examples:
      otel-prov sql dataset/ "SELECT outcome, count(*) FROM attempts GROUP BY outcome"
      otel-prov sql dataset/ "SELECT * FROM workers" --format csv
    """
    columns, rows = execute(directory, query)
    click.echo(render(columns, rows, output_format), nl=False)


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], output_format: str) -> str:
    """A query's result as text: ``text`` (aligned), ``csv`` or ``json``.

    >>> print(render(["group", "tasks"], [("inc", 4), ("total", 1)], "text"), end="")
    group  tasks
    -----  -----
    inc        4
    total      1
    """
    if output_format == "json":
        return json.dumps([dict(zip(columns, map(_plain, row), strict=True)) for row in rows],
                          indent=1, ensure_ascii=False) + "\n"
    if output_format == "csv":
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\n")
        out.writerow(columns)
        for row in rows:
            out.writerow(["" if value is None else _cell(value) for value in row])
        return buffer.getvalue()
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows if row[i] is not None)
               for i in range(len(columns))]
    lines = ["  ".join(name.ljust(width) for name, width in zip(columns, widths, strict=True)),
             "  ".join("-" * width for width in widths)]
    for row in cells:
        lines.append("  ".join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(row, widths, numeric, strict=True)))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """A value as JSON holds it."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(name): _plain(item) for name, item in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value


def _cell(value: Any) -> str:
    """A value as one cell of text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float):
        return format(value, ".6g")
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(_plain(value), ensure_ascii=False)
    return str(value).replace("\n", " ")
