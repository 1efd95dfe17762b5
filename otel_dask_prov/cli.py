"""The ``otel-prov`` command line: a thin layer over the library.

Every subcommand lives in the module that does its work and is registered in
:data:`SUBCOMMANDS`; this module only routes errors: an
:class:`~otel_dask_prov.errors.OtelDaskProvError` becomes one line on stderr and
the error's exit code, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

from .errors import OtelDaskProvError
from .version import __version__

SUBCOMMANDS: dict[str, str] = {
    # name -> "module:attribute" of a click.Command, imported only when used
    "convert": "otel_dask_prov.convert.command:convert_command",
    "validate": "otel_dask_prov.validate.command:validate_command",
    "report": "otel_dask_prov.report.command:report_command",
    "export": "otel_dask_prov.query.command:export_command",
    "sql": "otel_dask_prov.query.command:sql_command",
    "diff": "otel_dask_prov.query.diff_command:diff_command",
    "lineage": "otel_dask_prov.query.lineage:lineage_command",
    "replay": "otel_dask_prov.export.replay:replay_command",
    "cat": "otel_dask_prov.export.cat_command:cat_command",
    "demo": "otel_dask_prov.demo.command:demo_command",
    "settings": "otel_dask_prov.settings_command:settings_command",
}


class _LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        module = importlib.import_module(module_name, package=__package__)
        command: click.Command = getattr(module, attribute)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="otel-prov")
def cli() -> None:
    """Trace Dask computations with OpenTelemetry and turn the traces into W3C PROV."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``otel-prov``; return the process exit code."""
    try:
        result = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except OtelDaskProvError as error:
        click.echo(f"otel-prov: {error}", err=True)
        return error.exit_code
    except click.exceptions.Exit as done:
        return int(done.exit_code or 0)
    except click.Abort:
        click.echo("otel-prov: aborted", err=True)
        return 130
    except click.ClickException as error:
        error.show()
        return error.exit_code
    # Without standalone mode, click returns the code of ctx.exit(n) instead of raising.
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
