"""Check that a PROV document is valid W3C PROV and plausible Dask provenance.

Command line::

    otel-prov validate run.json                  # PROV-JSON, streamed
    otel-prov validate run.provn other.provx     # PROV-N, PROV-XML (via the prov library)
    otel-prov validate --skew 0.2 run.json.gz    # tighter clock-skew tolerance
    otel-prov validate --format json run.txt     # when the extension does not tell

Exit code 0 when every document is valid; 1 when some are not, with one line
per violation on standard output (here ``tests/fixtures/traces/retry`` converted,
with the time of one usage moved two seconds earlier)::

    run.json: _:id8: used(run:task.inc-03d39a0582556c27968e5e31f665f53c.1c297fb86b7e6293, run:value.fail_once-b103bb7c979e6cbfb16dd456e58b7953.0d98a756ecbd32c7) at 2026-11-22T05:29:43.042449+00:00 is 2 s outside the activity (2026-11-22T05:29:45.042449Z to 2026-11-22T05:29:45.045804Z), more than the clock-skew tolerance of 1 s (in bundle run:trace.6b0b714148200d7d87f89596daa09883)

and 2 when a document cannot be read (not found, not
JSON, truncated, ...), with one line on standard error naming the file and,
for syntax errors, the line and column.

What is checked, bundle by bundle (the document's own records, which are all
of a flattened document, form one more scope):

1. The PROV-JSON schema of the W3C member submission, record by record (see
   :mod:`.schema`).
2. The constraints that matter for Dask provenance (see :mod:`.constraints`):
   activities do not end before they start; times are ``xsd:dateTime``;
   usages and generations happen while their activity runs; nothing is used
   before it was generated; an entity is generated once; ``wasDerivedFrom``
   has no cycles; every ``dask:TaskExecution`` is associated with a
   ``prov:SoftwareAgent`` (its worker). Comparisons of times from different
   hosts allow a clock skew (``--skew``, 1 s by default).

PROV-JSON is read in two streaming passes with memory for a few numbers per
activity and entity, so a document of millions of records is checked in
bounded memory (figures in ``docs/performance.md``).

From Python::

    from otel_dask_prov.validate import validate
    problems = [v.line("run.json") for v in validate("run.json")]
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from .checker import check_events
from .constraints import Violation
from .inputs import FORMATS, Format, detect_format, event_reader
from .schema import ProvJsonSchema

__all__ = ["DEFAULT_SKEW", "FORMATS", "Violation", "validate"]

DEFAULT_SKEW = 1.0
"""Seconds by which clocks of different hosts may disagree before times conflict."""


@lru_cache(maxsize=1)
def _schema() -> ProvJsonSchema:
    return ProvJsonSchema()


def validate(
    path: str, format: str | None = None, skew: float = DEFAULT_SKEW
) -> Iterator[Violation]:
    """Yield the violations in the PROV document at *path*, in file order.

    *format* is a key of :data:`FORMATS`; by default it is told by the file's
    extension. Raises :class:`~otel_dask_prov.errors.ProvDocumentError` when
    the document cannot be read; that happens before the first violation.
    """
    if skew < 0:
        raise ValueError(f"skew must be zero or more seconds, not {skew}")
    document_format: Format = FORMATS[format] if format is not None else detect_format(path)
    schema = _schema()
    read = event_reader(path, document_format, schema.record_kinds)
    return check_events(read, path, schema, skew)
