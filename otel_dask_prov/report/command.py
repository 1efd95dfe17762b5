"""``otel-prov report``: the command line over :func:`~.report_file.write_report`."""

from __future__ import annotations

import click

from ..convert.command import (
    quiet_option,
    say_how_it_went,
    scheduler_option,
    skip_invalid_option,
    trace_paths,
)
from .report_file import write_report


@click.command("report")
@trace_paths
@click.option("-o", "--output", default="report.html", show_default=True, metavar="FILE",
              help="Where to write the HTML report.")
@click.option("--title", metavar="TEXT", help="The report's title (default: from PATHS).")
@skip_invalid_option
@scheduler_option
@quiet_option
def report_command(paths: tuple[str, ...], output: str, title: str | None,
                   skip_invalid: bool, scheduler: str | None, quiet: bool) -> None:
    """Write one HTML file that shows what a Dask run did.

    PATHS are trace files or directories, as for `otel-prov convert`. The page
    shows failures first, then the computations and processes, a task stream
    per worker thread, the graph of task groups (each expandable to its
    tasks), every task's details and the files read and written. It needs no
    network: open it from disk in any browser.

    \b
    Examples:
      otel-prov report otel-dask-prov-traces/ -o report.html
      otel-prov report scheduler.jsonl workers/ --title "nightly regrid"
      otel-prov report /shared/traces/ -o /shared/run.html --scheduler tcp://head:8786
    """
    result = write_report(list(paths), output, title=title, skip_invalid=skip_invalid,
                          progress=not quiet, scheduler=scheduler)
    say_how_it_went(result.conversion, result.summary(), quiet)
