"""SQL over an exported dataset with DuckDB: every table a view by its name.

:func:`connect` opens an in-memory DuckDB database whose views read the Parquet
files of the dataset (every run in it), plus the views of
:data:`~.schemas.VIEWS`; :func:`sql` runs one query and gives a pandas
DataFrame, :func:`tables` the tables as pyarrow Tables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MissingPackageError, QueryError
from .dataset import MISSING, require

if TYPE_CHECKING:
    import duckdb
    import pandas
    import pyarrow

PathLike = str | os.PathLike[str]


def _parts(directory: Path, table: str) -> list[Path]:
    return sorted((directory / table).glob("*/*.parquet"))


def _check(directory: Path) -> None:
    from .schemas import TABLES

    if not directory.is_dir() or not any(_parts(directory, table) for table in TABLES):
        raise QueryError(f"no exported dataset in {directory}: make one with "
                         f"otel-prov export TRACES -o {directory}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(directory: PathLike) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per table of the dataset *directory*."""
    require()
    try:
        import duckdb
    except ImportError:
        raise MissingPackageError(MISSING) from None

    from .schemas import TABLES, VIEWS

    root = Path(directory)
    _check(root)
    connection = duckdb.connect()
    for name, schema in TABLES.items():
        if _parts(root, name):
            pattern = _literal(str(root / name / "*" / "*.parquet"))
            # the table names are ours and the path a quoted literal
            connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet("  # noqa: S608
                               f"{pattern}, union_by_name = true)")
        else:
            connection.register(name, schema.empty_table())
    for name, query in VIEWS.items():
        connection.execute(f"CREATE VIEW {name} AS {query}")
    return connection


def execute(directory: PathLike, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and rows of *query* over the dataset *directory*."""
    connection = connect(directory)
    try:
        result = connection.execute(query)
        description: Any = getattr(result, "description", None)  # None after a statement
        if not description:
            return [], []
        return [column[0] for column in description], result.fetchall()
    except _duckdb_error() as error:
        raise QueryError(_problem(error)) from None
    finally:
        connection.close()


def sql(directory: PathLike, query: str) -> pandas.DataFrame:
    """The result of *query* over the dataset *directory*, as a pandas DataFrame."""
    connection = connect(directory)
    try:
        return connection.execute(query).df()
    except _duckdb_error() as error:
        raise QueryError(_problem(error)) from None
    finally:
        connection.close()


def tables(directory: PathLike) -> dict[str, pyarrow.Table]:
    """Every table of the dataset *directory* as a pyarrow Table (all runs; read into memory)."""
    from .schemas import TABLES

    connection = connect(directory)
    try:
        found = {}
        for name in TABLES:
            relation: Any = connection.table(name)
            # to_arrow_table since duckdb 1.4; arrow() before
            found[name] = (relation.to_arrow_table() if hasattr(relation, "to_arrow_table")
                           else relation.arrow())
        return found
    finally:
        connection.close()


def _duckdb_error() -> type[Exception]:
    import duckdb

    error: type[Exception] = duckdb.Error
    return error


def _problem(error: Exception) -> str:
    """DuckDB's message on one line, with what to do."""
    from .schemas import TABLES, VIEWS

    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    message = " ".join(line for line in lines if not line.startswith("LINE ") and
                       set(line) - {"^", " "})
    return (f"the query failed: {message}; query the views {', '.join([*TABLES, *VIEWS])} "
            "(their columns are in docs/queries.md)")
