"""``otel-prov convert``: the command line over :func:`~.api.convert`."""

from __future__ import annotations

import click

from .api import convert
from .formats import FORMATS
from .pictures import TASK_VIEW_LIMIT, VIEWS
from .pipeline import ConversionReport

trace_paths = click.argument("paths", nargs=-1, required=True, type=click.Path())
"""PATHS: trace files or directories, for every command that reads traces."""
skip_invalid_option = click.option(
    "--skip-invalid", is_flag=True,
    help="Skip malformed lines, and say how many, instead of stopping at the first.")
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
scheduler_option = click.option(
    "--scheduler", metavar="ADDRESS",
    help="Run on the Dask cluster of this scheduler (tcp://host:8786): its workers read the "
         "files in parallel and each converts a part of the traces. They must see PATHS and "
         "the output's folder at the same paths (a shared file system).")


def say_how_it_went(conversion: ConversionReport, summary: str, quiet: bool) -> None:
    """On stderr: the warnings of reading the traces, then *summary* (with *quiet*, only
    how many invalid lines ``--skip-invalid`` left out)."""
    for warning in conversion.warnings:
        click.echo(f"otel-prov: warning: {warning}", err=True)
    if not quiet:
        click.echo(f"otel-prov: {summary}", err=True)
    elif conversion.skipped_lines:
        click.echo(f"otel-prov: skipped {conversion.skipped_lines} invalid line(s)", err=True)


@click.command("convert")
@trace_paths
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE",
              help="Where to write the document; '-' is stdout; a folder for ro-crate.")
@click.option("-f", "--format", "format_name", metavar="FORMAT",
              help=f"One of {', '.join(FORMATS)}. Default: from the output's extension, "
                   "else json (PROV-JSON).")
@click.option("--view", type=click.Choice(VIEWS), default="auto", show_default=True,
              help=f"What a dot, svg or png picture draws: every task attempt, or one box "
                   f"per task group; auto draws tasks up to {TASK_VIEW_LIMIT} attempts.")
@click.option("--flatten", is_flag=True,
              help="Put every record in the document itself, for tools that cannot read "
                   "bundles (one bundle per trace otherwise).")
@skip_invalid_option
@scheduler_option
@quiet_option
def convert_command(paths: tuple[str, ...], output: str, format_name: str | None,
                    view: str, flatten: bool, skip_invalid: bool, scheduler: str | None,
                    quiet: bool) -> None:
    """Turn trace files into a W3C PROV document.

    PATHS are files or directories (searched recursively for *.json, *.jsonl,
    *.ndjson, optionally gzipped): the OTLP JSON lines written by otel-dask-prov
    or by an OpenTelemetry Collector's file exporter, or Jaeger's JSON. Spans of
    one computation spread over the scheduler's and the workers' files are
    joined; every trace becomes one bundle.

    \b
    Examples:
      otel-prov convert otel-dask-prov-traces/ -o run.json
      otel-prov convert traces.jsonl.gz -f provn
      otel-prov convert traces/ -o run.svg
      otel-prov convert traces/ -o groups.png --view groups
      otel-prov convert traces/ -f ro-crate -o run-crate/
      otel-prov convert /shared/traces/ -o /shared/run.json --scheduler tcp://head:8786
    """
    report = convert(list(paths), output=output, format=format_name, flatten=flatten,
                     skip_invalid=skip_invalid, progress=not quiet, view=view,
                     scheduler=scheduler)
    say_how_it_went(report, report.summary(), quiet)
