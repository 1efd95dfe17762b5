"""What a value was computed from, or what was computed from it (``otel-prov lineage``).

The lineage graph of a run has three kinds of node:

* a **task**: one attempt (``attempts.span_id``), named by its key;
* a **file**: a path a task read or wrote (``files.path``);
* a **value** no traced attempt produced (``dependencies.dependency_key``,
  e.g. data scattered by the client).

and three kinds of edge, always from the input to what was made of it:
``used`` (a task's dependency, ``dependencies.dependency_span_id`` ->
``dependencies.span_id``, which may cross computations: a value persisted by
one computation and used by a later one), ``read`` (a file -> the task that
read it) and ``wrote`` (a task -> the file it wrote), so a file links its
writers to its readers.

:func:`lineage` finds the target's nodes, walks the edges against their
direction (upstream: everything the target was computed from) or along it
(``downstream=True``: everything computed from it) with one recursive query
(DuckDB ``WITH RECURSIVE``) over a table of the run's edges, and gives a
:class:`Lineage`: the closure's nodes and edges as pandas DataFrames, each
node with its distance from the target, and their renderings as text, JSON and
Graphviz DOT.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from ..convert.command import skip_invalid_option, trace_paths
from ..errors import QueryError
from .dataset import export
from .sql import _duckdb_error, _parts, _problem, connect

if TYPE_CHECKING:
    import duckdb
    import pandas

PathLike = str | os.PathLike[str]

FORMATS: Final = ("text", "json", "dot")

NODE_COLUMNS: Final = ("node", "depth", "kind", "key", "path", "span_id", "trace_id",
                       "computation_span_id", "attempt", "outcome", "prefix")
"""The columns of :attr:`Lineage.nodes`."""

MAX_TREE_DEPTH: Final = 32
"""The text output is a list by depth where its tree would be deeper than this."""

EDGE_COLUMNS: Final = ("source", "target", "relation")
"""The columns of :attr:`Lineage.edges`: *source* is the input, *target* what was made of it."""

# The run's edges, input -> output; $1 is the run.
_EDGES: Final = """
CREATE TEMP TABLE lineage_edges AS
SELECT 'task' AS source_kind, dependency_span_id AS source_id,
       'task' AS target_kind, span_id AS target_id, 'used' AS relation
FROM dependencies WHERE run = $1 AND dependency_span_id IS NOT NULL
UNION ALL
SELECT 'value', dependency_key, 'task', span_id, 'used'
FROM dependencies WHERE run = $1 AND dependency_span_id IS NULL AND dependency_key IS NOT NULL
UNION ALL
SELECT 'file', path, 'task', span_id, 'read' FROM files WHERE run = $1 AND operation = 'read'
UNION ALL
SELECT 'task', span_id, 'file', path, 'wrote' FROM files WHERE run = $1 AND operation = 'write'
"""

# Every node reachable from the roots: UNION (not UNION ALL) keeps each node once,
# so the walk ends on the cycles a file read and written by tasks can make.
_CLOSURE: Final = """
CREATE TEMP TABLE lineage_closure AS
WITH RECURSIVE closure(kind, id) AS (
    SELECT kind, id FROM lineage_roots
    UNION
    SELECT e.{near}_kind, e.{near}_id
    FROM closure AS c
    JOIN lineage_edges AS e ON e.{far}_kind = c.kind AND e.{far}_id = c.id
)
SELECT DISTINCT kind, id FROM closure
"""

_NODES: Final = """
SELECT c.kind || ':' || c.id AS node, c.kind,
       CASE WHEN c.kind = 'task' THEN a.key WHEN c.kind = 'value' THEN c.id END AS key,
       CASE WHEN c.kind = 'file' THEN c.id END AS path,
       CASE WHEN c.kind = 'task' THEN c.id END AS span_id,
       a.trace_id, a.computation_span_id, a.attempt, a.outcome, a.prefix
FROM lineage_closure AS c
LEFT JOIN (SELECT * FROM attempts WHERE run = $1) AS a
  ON c.kind = 'task' AND a.span_id = c.id
"""

_CLOSURE_EDGES: Final = """
SELECT e.source_kind || ':' || e.source_id AS source,
       e.target_kind || ':' || e.target_id AS target, e.relation
FROM lineage_edges AS e
JOIN lineage_closure AS c ON e.{far}_kind = c.kind AND e.{far}_id = c.id
"""

# The roots a target can name, in the order they are tried; $1 is the target.
_MATCHES: Final = (
    ("task key", "SELECT DISTINCT run, 'task' AS kind, span_id AS id FROM attempts WHERE key = $1"),
    ("task key", "SELECT DISTINCT run, 'value', dependency_key FROM dependencies "
                 "WHERE dependency_span_id IS NULL AND dependency_key = $1"),
    ("file", "SELECT DISTINCT run, 'file', path FROM files WHERE path = $1"),
    ("file", "SELECT DISTINCT run, 'file', path FROM files WHERE suffix(path, '/' || $1)"),
    # a computation's output: its final attempts that no other attempt of it used
    ("computation's output", """
        SELECT a.run, 'task', a.span_id
        FROM attempts AS a
        JOIN computations AS c
          ON c.run = a.run AND c.span_id = a.computation_span_id
        WHERE (c.span_id = lower($1) OR c.trace_id = lower($1))
          AND NOT EXISTS (SELECT 1 FROM attempts AS rerun
                          WHERE rerun.run = a.run AND rerun.previous_span_id = a.span_id)
          AND NOT EXISTS (SELECT 1 FROM dependencies AS d
                          JOIN attempts AS user ON user.run = d.run AND user.span_id = d.span_id
                          WHERE d.run = a.run AND d.dependency_span_id = a.span_id
                            AND user.computation_span_id = a.computation_span_id)"""),
)


_KEYS_HINT: Final = ('"SELECT DISTINCT key FROM attempts ORDER BY key" '
                    "(files: path FROM files, outputs: span_id FROM computations)")


@dataclass
class Lineage:
    """The upstream (or downstream) closure of a target: a small graph.

    ``nodes`` has one row per node (:data:`NODE_COLUMNS`): ``node`` is its id
    (``task:<span id>``, ``file:<path>`` or ``value:<key>``), ``depth`` the
    fewest edges from the target (0 for the target's own nodes). ``edges``
    (:data:`EDGE_COLUMNS`) go from the input (``source``) to what was made of it
    (``target``), with ``relation`` ``used``, ``read`` or ``wrote``, whatever
    the direction of the walk.
    """

    run: str
    target: str
    matched: str
    """What the target named: ``task key``, ``file`` or ``computation's output``."""
    downstream: bool
    nodes: pandas.DataFrame
    edges: pandas.DataFrame
    warnings: list[str] = field(default_factory=list)
    """What the export of trace files warned about (lines skipped with *skip_invalid*)."""

    @property
    def direction(self) -> str:
        return "downstream" if self.downstream else "upstream"

    def keys(self, include_target: bool = False) -> set[str]:
        """The task keys of the closure (without the target's own, unless asked)."""
        rows = self.nodes[self.nodes["kind"] == "task"]
        if not include_target:
            rows = rows[rows["depth"] > 0]
        return {str(key) for key in rows["key"].dropna()}

    def paths(self) -> set[str]:
        """The files of the closure (the target's own included)."""
        return {str(path) for path in self.nodes["path"].dropna()}

    def summary(self) -> str:
        """One line: the target, the direction and what the closure holds."""
        found = self.nodes[self.nodes["depth"] > 0]
        tasks = int((found["kind"] == "task").sum())
        files = int((found["kind"] == "file").sum())
        values = int((found["kind"] == "value").sum())
        computations = self.nodes["computation_span_id"].dropna().nunique()
        counts = [f"{tasks} task{'s' * (tasks != 1)}", f"{files} file{'s' * (files != 1)}"]
        if values:
            counts.append(f"{values} value{'s' * (values != 1)} no traced task produced")
        return (f"{self.direction} of {self.matched} {self.target!r} in run {self.run}: "
                f"{', '.join(counts)}, across {computations} "
                f"computation{'s' * (computations != 1)}")

    # ----------------------------------------------------------------- output
    def to_dict(self) -> dict[str, Any]:
        """The graph as JSON holds it (what ``--format json`` prints)."""
        return {
            "run": self.run, "target": self.target, "matched": self.matched,
            "direction": self.direction,
            "nodes": _records(self.nodes), "edges": _records(self.edges),
        }

    def to_json(self) -> str:
        """The graph as JSON: one line per node and per edge."""
        graph = self.to_dict()
        lines = [json.dumps({name: graph[name] for name in ("run", "target", "matched",
                                                            "direction")},
                            ensure_ascii=False)[:-1] + ","]
        for name in ("nodes", "edges"):
            items = [" " + json.dumps(item, ensure_ascii=False) for item in graph[name]]
            lines.append(f' "{name}": [' + ("\n" + ",\n".join(items) + "\n ]" if items else "]")
                         + ("," if name == "nodes" else ""))
        return "\n".join(lines) + "\n}\n"

    def to_text(self) -> str:
        """An indented tree from the target, each node expanded once (later: ``(see above)``);
        a list by depth instead where the tree would be more than
        :data:`MAX_TREE_DEPTH` levels deep."""
        lines = self._tree()
        return "\n".join([self.summary(), *(lines if lines is not None else self._levels())]) + "\n"

    def to_dot(self) -> str:
        """Graphviz source: boxes for tasks, notes for files, the target's nodes bold;
        the arrows go from the input to what was made of it."""
        lines = ["digraph lineage {", "  rankdir=LR;",
                 "  node [fontname=\"Helvetica\", fontsize=10];",
                 f"  label={_quote(self.summary())};", "  labelloc=t;"]
        shapes = {"task": "box", "file": "note", "value": "ellipse"}
        for row in self.nodes.sort_values(["depth", "node"]).itertuples(index=False):
            style = ", style=bold" if row.depth == 0 else ""
            lines.append(f"  {_quote(row.node)} [shape={shapes[row.kind]}, "
                         f"label={_quote(self._label(row))}{style}];")
        for source, target, relation in self.edges.itertuples(index=False):
            lines.append(f"  {_quote(source)} -> {_quote(target)} [label={_quote(relation)}];")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def render(self, output_format: str) -> str:
        """The graph as ``text``, ``json`` or ``dot``."""
        if output_format == "json":
            return self.to_json()
        if output_format == "dot":
            return self.to_dot()
        return self.to_text()

    def _label(self, row: Any) -> str:
        if row.kind == "file":
            return str(row.path)
        if row.kind == "value":
            return f"{row.key} (no traced task)"
        name = row.key if isinstance(row.key, str) else f"span {row.span_id}"
        attempt = _integer(row.attempt)
        if attempt is not None and attempt > 1:
            name += f" (attempt {attempt})"
        return name

    def _describe(self, row: Any) -> str:
        if row.kind == "file":
            return f"file {row.path}"
        if row.kind == "value":
            return f"{row.key}  (a value no traced task produced)"
        details = [f"computation {row.computation_span_id}"] if isinstance(
            row.computation_span_id, str) else ["no attempt recorded"]
        if isinstance(row.outcome, str):
            details.append(row.outcome)
        return f"{self._label(row)}  ({', '.join(details)})"

    def _tree(self) -> list[str] | None:
        """The tree's lines, or None if it is deeper than :data:`MAX_TREE_DEPTH`."""
        by_id = {row.node: row for row in self.nodes.itertuples(index=False)}
        children: dict[str, list[tuple[str, str]]] = {}
        for source, target, relation in self.edges.itertuples(index=False):
            near, far = (target, source) if self.downstream else (source, target)
            children.setdefault(far, []).append((near, _verb(relation, self.downstream)))
        for found in children.values():
            found.sort(key=lambda child: (by_id[child[0]].kind != "task",
                                          self._label(by_id[child[0]])))
        roots = sorted((row for row in by_id.values() if row.depth == 0), key=self._label)
        shown: set[str] = set()
        lines = []
        # (node, verb, indent of its own line, indent of its children)
        stack: list[tuple[str, str, str, str]] = [
            (row.node, "", "", "") for row in reversed(roots)]
        while stack:
            node, verb, lead, inner = stack.pop()
            row = by_id[node]
            if len(inner) > 3 * MAX_TREE_DEPTH:
                return None
            if node in shown:
                lines.append(f"{lead}{verb}{self._label(row)}  (see above)")
                continue
            shown.add(node)
            lines.append(f"{lead}{verb}{self._describe(row)}")
            below = children.get(node, [])
            for index in reversed(range(len(below))):
                child, child_verb = below[index]
                last = index == len(below) - 1
                stack.append((child, child_verb + " ", inner + ("└─ " if last else "├─ "),
                              inner + ("   " if last else "│  ")))
        return lines

    def _levels(self) -> Iterator[str]:
        """The nodes by depth, each with one neighbour a step nearer the target."""
        by_id = {row.node: row for row in self.nodes.itertuples(index=False)}
        nearer: dict[str, tuple[str, str]] = {}
        for source, target, relation in self.edges.itertuples(index=False):
            node, other = (target, source) if self.downstream else (source, target)
            if by_id[other].depth == by_id[node].depth - 1:
                candidate = (self._label(by_id[other]), _verb(relation, not self.downstream))
                nearer[node] = min(nearer.get(node, candidate), candidate)
        depth = -1
        for row in by_id.values():  # sorted by depth
            if row.depth != depth:
                depth = row.depth
                yield f"depth {depth}:"
            link = nearer.get(row.node)
            yield f"  {self._describe(row)}" + (f"; {link[1]} {link[0]}" if link else "")


def _verb(relation: str, downstream: bool) -> str:
    """How a child relates to its parent in the tree."""
    if downstream:
        return {"used": "used by", "read": "read by", "wrote": "wrote"}[relation]
    return {"used": "used", "read": "read", "wrote": "written by"}[relation]


def _integer(value: Any) -> int | None:
    """A cell's integer, or None where it is missing (pandas' NA, NaN, None)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _records(frame: pandas.DataFrame) -> list[dict[str, Any]]:
    """The rows of *frame* as dicts of Python values, missing values None."""
    columns = {}
    for name in frame.columns:
        column = frame[name]
        values = column.astype(object).where(column.notna(), None).tolist()
        columns[str(name)] = [value.item() if hasattr(value, "item") else value
                              for value in values]
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def is_dataset(path: PathLike) -> bool:
    """Whether *path* is a folder of ``otel-prov export`` (a table folder with Parquet in it)."""
    from .schemas import TABLES

    root = Path(path)
    return root.is_dir() and any(_parts(root, table) for table in TABLES)


def lineage(source: Sequence[PathLike] | PathLike, target: str, downstream: bool = False,
            run: str | None = None, skip_invalid: bool = False,
            progress: bool = False) -> Lineage:
    """The upstream closure of *target* (or, with *downstream*, what was computed from it).

    *source* is a dataset of ``otel-prov export`` or trace files and folders
    (exported first to a temporary dataset, in bounded memory). *target* is
    tried as a task key, then a file's path (or its end, after a ``/``), then
    a computation's span id or trace id, which names the computation's output:
    its final tasks, those no other task of it used. *run* chooses the run of a
    dataset holding several, if the target is in more than one; *skip_invalid*
    skips malformed lines of trace files, as ``otel-prov export --skip-invalid``,
    and *progress* shows the export's progress bar on a terminal.
    """
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if len(sources) == 1 and is_dataset(sources[0]):
        return _lineage(Path(sources[0]), target, downstream, run, str(sources[0]))
    datasets = [path for path in sources if is_dataset(path)]
    if datasets:
        raise QueryError(f"{datasets[0]} is an exported dataset: give it alone, "
                         "not with trace files")
    with tempfile.TemporaryDirectory(prefix="otel-prov-lineage-") as directory:
        exported = export(sources, directory, run=run, skip_invalid=skip_invalid,
                          progress=progress)
        named = " ".join(str(path) for path in sources)
        found = _lineage(Path(directory), target, downstream, None, named, traces=True)
        found.warnings = list(exported.conversion.warnings)
        if exported.conversion.skipped_lines:
            found.warnings.append(f"skipped {exported.conversion.skipped_lines} invalid line(s)")
        return found


def _lineage(directory: Path, target: str, downstream: bool, run: str | None, named: str,
             traces: bool = False) -> Lineage:
    connection = connect(directory)
    try:
        matched, run, roots = _roots(connection, target, run, named, traces)
        import pandas as pd

        connection.execute("CREATE TEMP TABLE lineage_roots (kind VARCHAR, id VARCHAR)")
        connection.executemany("INSERT INTO lineage_roots VALUES (?, ?)", roots)
        connection.execute(_EDGES, [run])
        near, far = ("target", "source") if downstream else ("source", "target")
        connection.execute(_CLOSURE.format(near=near, far=far))
        nodes = connection.execute(_NODES, [run]).df()
        edges = connection.execute(_CLOSURE_EDGES.format(far=far)).df()
    except _duckdb_error() as error:
        raise QueryError(_problem(error)) from None
    finally:
        connection.close()
    nodes["depth"] = nodes["node"].map(_depths(
        [f"{kind}:{identifier}" for kind, identifier in roots], edges, downstream))
    nodes = nodes[list(NODE_COLUMNS)].sort_values(["depth", "kind", "key", "attempt", "path", "node"],
                                                  ignore_index=True)
    nodes["attempt"] = nodes["attempt"].astype("Int64")
    edges = edges[list(EDGE_COLUMNS)].sort_values(list(EDGE_COLUMNS), ignore_index=True)
    return Lineage(run, target, matched, downstream,
                   pd.DataFrame(nodes), pd.DataFrame(edges))


def _roots(connection: duckdb.DuckDBPyConnection, target: str, run: str | None, named: str,
           traces: bool) -> tuple[str, str, list[tuple[str, str]]]:
    """What *target* names: its kind, its run and its nodes."""
    for matched, query in _MATCHES:
        rows = connection.execute(query, [target]).fetchall()
        if run is not None:
            rows = [row for row in rows if row[0] == run]
        runs = sorted({row[0] for row in rows})
        if len(runs) > 1:
            raise QueryError(f"{target!r} is a {matched} in the runs {', '.join(runs)} of "
                             f"{named}; choose one with --run")
        if rows:
            return matched, runs[0], sorted({(row[1], row[2]) for row in rows})
    where = f"the traces {named}" if traces else named
    if run:
        where += f" (run {run})"
    hint = (f"try otel-prov export {named} -o DIR, then otel-prov sql DIR" if traces
            else f"try otel-prov sql {named}")
    raise QueryError(f"no task key, file or output matches {target!r} in {where}; "
                     f"{hint} {_KEYS_HINT}")


def _depths(roots: list[str], edges: pandas.DataFrame, downstream: bool) -> dict[str, int]:
    """The fewest edges from the roots to each node (breadth first, in the walk's direction)."""
    following: dict[str, list[str]] = {}
    for source, target in zip(edges["source"], edges["target"], strict=True):
        near, far = (target, source) if downstream else (source, target)
        following.setdefault(far, []).append(near)
    depth = dict.fromkeys(roots, 0)
    queue = deque(roots)
    while queue:
        node = queue.popleft()
        for near in following.get(node, ()):
            if near not in depth:
                depth[near] = depth[node] + 1
                queue.append(near)
    return depth


# --------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------
@click.command("lineage")
@trace_paths
@click.argument("target")
@click.option("--downstream", is_flag=True,
              help="Everything computed from TARGET, instead of everything it was "
                   "computed from.")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text",
              show_default=True, help="An indented tree, a JSON graph (nodes and edges) "
                                      "or Graphviz source (boxes for tasks, notes for files).")
@click.option("--run", "run_name", metavar="NAME",
              help="The run, if the dataset holds TARGET in several (for trace files: "
                   "the name of the run they are exported as).")
@skip_invalid_option
def lineage_command(paths: tuple[str, ...], target: str, downstream: bool, output_format: str,
                    run_name: str | None, skip_invalid: bool) -> None:
    """Print what TARGET was computed from, across the computations of a run.

    PATHS are a dataset of `otel-prov export`, or trace files and directories
    (exported to a temporary dataset first). TARGET is a task key, a file's
    path (or its end, e.g. out.csv), or a computation's span id or trace id,
    which names its output (its final tasks). The walk follows the tasks'
    dependencies, also into earlier computations (a persisted value), and
    files from their writers to their readers; --downstream walks the other
    way. See docs/queries.md (Lineage).

    \b
    Examples:
      otel-prov lineage dataset/ "('sum-aggregate-5f1c', 0)"
      otel-prov lineage otel-dask-prov-traces/ results/out.csv --format dot > lineage.dot
      otel-prov lineage dataset/ raw.csv --downstream --format json
    """
    found = lineage(list(paths), target, downstream=downstream, run=run_name,
                    skip_invalid=skip_invalid, progress=True)
    for warning in found.warnings:
        click.echo(f"otel-prov: warning: {warning}", err=True)
    click.echo(found.render(output_format), nl=False)
