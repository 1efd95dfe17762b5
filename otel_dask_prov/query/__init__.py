"""A run as Parquet tables, and SQL over them (``otel-prov export``, ``otel-prov sql``).

Usage
-----
From the command line::

    otel-prov export otel-dask-prov-traces/ -o dataset/ --run nightly
    otel-prov sql dataset/ "SELECT \\"group\\", count(*) FROM attempts GROUP BY 1"

From Python::

    >>> from otel_dask_prov import query
    >>> result = query.export(["otel-dask-prov-traces"], "dataset")     # doctest: +SKIP
    >>> query.sql("dataset", "SELECT * FROM attempts LIMIT 5")           # doctest: +SKIP
    >>> query.tables("dataset")["workers"]                               # doctest: +SKIP
    >>> query.connect("dataset").sql("SELECT count(*) FROM files")       # doctest: +SKIP
    >>> query.diff("traces-monday", "traces-tuesday").changed            # doctest: +SKIP
    >>> query.lineage("dataset", "total-b4b8c3").keys()                  # doctest: +SKIP

The tables (:mod:`.schemas`) are written from the PROV records of the
conversion by :class:`~.dataset_writer.DatasetWriter`, in bounded memory, one
partition per run: ``<table>/run=<run>/part-0.parquet``. :mod:`.sql` runs DuckDB
over them; :mod:`.lineage` walks a run's dependencies and files with a recursive
query (``otel-prov lineage``). Both need the ``query`` extra (pyarrow and duckdb);
``docs/queries.md`` describes every column and ready queries.
"""

from .dataset import ExportResult, export
from .diff import RunDiff, diff
from .lineage import Lineage, lineage
from .sql import connect, sql, tables

__all__ = ["ExportResult", "Lineage", "RunDiff", "connect", "diff", "export", "lineage", "sql",
           "tables"]
