"""``otel-prov diff``: the command line over :func:`otel_dask_prov.query.diff.diff`."""

from __future__ import annotations

import click

from ..convert.command import skip_invalid_option
from ..errors import OptionError
from .diff import diff, to_json


def parse_percent(text: str) -> float:
    """A relative threshold as a fraction: ``50%`` or ``50`` is 0.5.

    >>> parse_percent("50%"), parse_percent("12.5")
    (0.5, 0.125)
    """
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise OptionError(f"invalid --time-threshold {text!r}: give a percentage, "
                          "e.g. --time-threshold 50%") from None
    if value < 0:
        raise OptionError(f"invalid --time-threshold {text!r}: it cannot be negative")
    return value / 100


@click.command("diff")
@click.argument("run_a", metavar="RUN_A", type=click.Path())
@click.argument("run_b", metavar="RUN_B", type=click.Path())
@click.option("--run-a", "name_a", metavar="NAME",
              help="The run of RUN_A to compare, when RUN_A is a dataset of several runs.")
@click.option("--run-b", "name_b", metavar="NAME",
              help="The run of RUN_B to compare, when RUN_B is a dataset of several runs.")
@click.option("--time-threshold", "threshold", default="50%", show_default=True,
              metavar="PERCENT",
              help="A duration changed when it moved by more than this share of run A's ...")
@click.option("--time-absolute", "absolute", default=0.1, show_default=True,
              type=click.FloatRange(min=0), metavar="SECONDS",
              help="... and by more than these seconds.")
@click.option("--format", "output_format", type=click.Choice(("text", "json")),
              default="text", show_default=True,
              help="A readable report grouped by task group, or JSON.")
@skip_invalid_option
def diff_command(run_a: str, run_b: str, name_a: str | None, name_b: str | None,
                 threshold: str, absolute: float, output_format: str,
                 skip_invalid: bool) -> None:
    """Compare two runs: which tasks changed, and why.

    RUN_A and RUN_B are trace files or folders (exported to a temporary dataset
    first) or datasets of `otel-prov export`. Tasks are matched by key, or, for
    keys that hold tokens (inc-8a7f..., ('x-1f2e...', 0, 1)), by their name
    without the token and their position (the chunk index, else the order of
    start). A task changed when its function's code digest, its recorded
    arguments, an input, its outcome, its result's type, size or hash, or its
    duration (beyond both thresholds) changed; a task whose input changed is
    reported "because an input changed". Also reported: tasks added and removed,
    and the workers' environment (Python, Dask, OS, packages). Unchanged tasks
    are counted. Exit status 0: no changes, 1: changes, 2: an error.
    docs/queries.md, "Comparing two runs", has the details.

    \b
    Examples:
      otel-prov diff traces-monday/ traces-tuesday/
      otel-prov diff dataset/ dataset/ --run-a nightly-1 --run-b nightly-2 --format json
    """
    result = diff(run_a, run_b, name_a=name_a, name_b=name_b,
                  time_threshold=parse_percent(threshold), time_absolute=absolute,
                  skip_invalid=skip_invalid)
    click.echo(to_json(result) if output_format == "json" else result.text(), nl=False)
    if result.has_changes:
        raise click.exceptions.Exit(1)
