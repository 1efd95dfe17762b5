"""A report a person can open after a run: one self-contained HTML file (``otel-prov report``).

Usage
-----
From the command line::

    otel-prov report otel-dask-prov-traces/ -o report.html

From Python::

    >>> from otel_dask_prov.report import write_report
    >>> result = write_report(["otel-dask-prov-traces"], "report.html")  # doctest: +SKIP
    >>> result.summary()                                                 # doctest: +SKIP

The report is built from the PROV records the conversion makes
(:class:`~otel_dask_prov.convert.run_summary.RunSummaryWriter` summarizes them
in bounded memory), so it shows what the PROV document says. The page
(:mod:`.page`) inlines its script, style and data: it opens from ``file://``
with no network. ``docs/report.md`` describes what it shows and its limits at
scale.
"""

from .report_file import ReportResult, write_report

__all__ = ["ReportResult", "write_report"]
