"""``otel-prov validate``: the command line over :func:`otel_dask_prov.validate.validate`."""

from __future__ import annotations

import click

from ..errors import InvalidProvDocumentError, ProvDocumentError
from . import DEFAULT_SKEW, FORMATS, validate


@click.command("validate")
@click.argument("documents", metavar="DOC...", nargs=-1, required=True)
@click.option(
    "-f",
    "--format",
    "document_format",
    type=click.Choice(list(FORMATS)),
    help="Format of every DOC; by default told by its extension (.json, .provn, .provx, ...).",
)
@click.option(
    "--skew",
    type=click.FloatRange(min=0),
    default=DEFAULT_SKEW,
    show_default=True,
    metavar="SECONDS",
    help="How far clocks of different hosts may disagree before times conflict.",
)
def validate_command(documents: tuple[str, ...], document_format: str | None, skew: float) -> None:
    """Check PROV documents against the PROV-JSON schema and the Dask constraints.

    Prints one line per violation, DOC: RECORD-ID: WHAT IS WRONG, on standard
    output. Exit code 0 when all are valid, 1 when some are not, 2 when some
    cannot be read (one line each on standard error).
    """
    violations = invalid = 0
    unreadable: ProvDocumentError | None = None
    for document in documents:
        count = 0
        try:
            for violation in validate(document, document_format, skew):
                click.echo(violation.line(document))
                count += 1
        except ProvDocumentError as error:
            if unreadable is not None:
                click.echo(f"otel-prov: {unreadable}", err=True)
            unreadable = error  # the last one is reported by the CLI's error handler
            continue
        if count:
            violations += count
            invalid += 1
        else:
            click.echo(f"otel-prov: {document}: valid", err=True)
    if unreadable is not None:
        raise unreadable
    if violations:
        raise InvalidProvDocumentError(violations, invalid, len(documents))
