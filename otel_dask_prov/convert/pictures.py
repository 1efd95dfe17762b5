"""Pictures of a run's lineage: Graphviz DOT, and SVG or PNG drawn by Graphviz's ``dot``.

Two views, both drawn from the PROV records the conversion makes:

* **tasks**: a box per task attempt (a PROV activity), an arrow from each
  attempt to the attempts that used its value, a dashed arrow from a failed
  attempt to its retry, one cluster per computation. Labels are short (the
  task's group and its place in the key); the key, outcome, worker, times and
  exception are in the tooltip (SVG shows them on hover).
* **groups**: a box per task group with its number of tasks and total time, an
  arrow per group dependency, thicker with its number of edges. It stays the
  size of the program, not of the data: a million tasks of five groups are
  five boxes.

:data:`TASK_VIEW_LIMIT` decides the default: the tasks view up to that many
attempts, the groups view above. Failed attempts, and groups with failures,
are red.
"""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from .. import prov_vocabulary as vocabulary
from ..errors import OutputError
from ..prov_vocabulary import PROV_TYPE
from . import identifiers as ids
from .prov_records import Record
from .run_summary import FAILED, RunSummaryWriter, TraceSummary

VIEWS: Final = ("auto", "tasks", "groups")
TASK_VIEW_LIMIT: Final = 200
"""Above this many attempts, ``auto`` draws the groups view."""
PICTURE_FORMATS: Final = frozenset({"dot", "svg", "png"})

_ACTIVITY_FILL: Final = "#9fb1fc"
"""The blue of PROV activities in the W3C's drawings."""
_FAILED_FILL: Final = "#f4a3a3"
_FAILED_LINE: Final = "#b00020"
_TOKEN = re.compile(r"-[0-9a-f]{8,}(?=-|$)")
"""A token Dask put in a key or group name (a hex digest)."""


class _TaskNode:
    __slots__ = ("bundle", "end", "group", "key", "outcome", "start", "worker")

    def __init__(self, key: str, group: str, outcome: str, start: Any, end: Any,
                 bundle: str | None) -> None:
        self.key = key
        self.group = group
        self.outcome = outcome
        self.start = start
        self.end = end
        self.bundle = bundle
        self.worker: str | None = None


class _PictureSink:
    """Feeds one container's records to the group summary and, while wanted, the task graph."""

    def __init__(self, picture: PictureWriter, summary: TraceSummary, bundle: str | None) -> None:
        self.picture = picture
        self.summary = summary
        self.bundle = bundle

    @property
    def records(self) -> int:
        return self.summary.records

    def add(self, record: Record) -> None:
        self.summary.add(record)
        if self.picture.tasks is not None:
            self.picture.task_record(record, self.bundle)


class PictureWriter:
    """A document writer that keeps what a picture of the run needs."""

    def __init__(self, view: str = "auto") -> None:
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; one of {', '.join(VIEWS)}")
        self.view = view
        self.summary = RunSummaryWriter(attempts_kept=0, failures_kept=0)
        self.tasks: dict[str, _TaskNode] | None = {} if view != "groups" else None
        """Attempts by id; None once the tasks view is out of the question."""
        self.edges: list[tuple[str, str, str]] = []
        """``(from, to, kind)``: ``value`` from producer to user, ``retry`` to the next attempt."""
        self.computations: dict[str, str] = {}
        """Bundle -> label of its computation."""

    def start(self, header: Iterable[Record]) -> None:
        self.summary.start(header)

    def top(self) -> _PictureSink:
        return _PictureSink(self, self.summary.top(), None)

    def open_bundle(self, identifier: str, direct: bool = False) -> _PictureSink:
        return _PictureSink(self, self.summary.open_bundle(identifier), identifier)

    def close_bundle(self, bundle: _PictureSink) -> None:
        self.summary.close_bundle(bundle.summary)

    def finish(self) -> None:
        self.summary.finish()

    def task_record(self, record: Record, bundle: str | None) -> None:
        tasks = self.tasks
        assert tasks is not None
        kind = record.kind
        if kind == "activity":
            pairs = dict(record.attributes)
            types = [value for name, value in record.attributes if name == PROV_TYPE]
            if vocabulary.COMPUTATION in types:
                self.computations[bundle or ""] = str(record.identifier).rpartition(".")[2]
                return
            if vocabulary.TASK_EXECUTION not in types and vocabulary.UNEXECUTED_ATTEMPT not in types:
                return
            if self.view == "auto" and len(tasks) >= TASK_VIEW_LIMIT:
                self.tasks = None  # the groups view it is: let the task graph go
                self.edges.clear()
                return
            prefix = str(pairs.get(vocabulary.PREFIX, ""))
            tasks[str(record.identifier)] = _TaskNode(
                str(pairs.get(vocabulary.KEY, "")), str(pairs.get(vocabulary.GROUP) or prefix),
                str(pairs.get(vocabulary.OUTCOME) or ""), record.formal[0], record.formal[1],
                bundle)
        elif kind == "used":
            task, used = str(record.formal[0]), str(record.formal[1])
            if used.startswith(ids.VALUE):
                self.edges.append((ids.TASK + used[len(ids.VALUE):], task, "value"))
        elif kind == "wasInfluencedBy":
            later, earlier = str(record.formal[0]), str(record.formal[1])
            if later.startswith(ids.TASK) and earlier.startswith(ids.TASK):
                self.edges.append((earlier, later, "retry"))
        elif kind == "wasAssociatedWith":
            node = tasks.get(str(record.formal[0]))
            agent = str(record.formal[1])
            if node is not None and agent.startswith(ids.WORKER):
                node.worker = agent

    def dot(self) -> str:
        """The picture as Graphviz source."""
        if self.tasks is not None:
            workers = {identifier: str(process.details.get(vocabulary.WORKER_NAME)
                                       or process.details.get(vocabulary.WORKER_ADDRESS)
                                       or identifier)
                       for identifier, process in self.summary.processes.items()}
            return _tasks_dot(self.tasks, self.edges, self.computations, workers)
        return _groups_dot(self.summary.data())


# --------------------------------------------------------------------------
# DOT text
# --------------------------------------------------------------------------
def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attributes(**values: Any) -> str:
    return "[" + ", ".join(f"{name}={_quoted(str(value))}" for name, value in values.items()) + "]"


def _seconds(value: float) -> str:
    if value >= 60:
        return f"{value / 60:.1f} min"
    if value >= 1:
        return f"{value:.1f} s"
    return f"{value * 1000:.0f} ms" if value >= 0.001 else f"{value * 1e6:.0f} µs"


def short_label(key: str, group: str) -> str:
    """A few words for a task's box: the key without its tokens (hex digests), shortened.

    >>> short_label("('rechunk-merge-8a7fb1c2d3e4', 0, 1)", "rechunk-merge-8a7fb1c2d3e4")
    'rechunk-merge (0, 1)'
    >>> short_label("inc-8a7fb1c2d3e4f5a6b7c8d9e0f1a2b3c4", "inc")
    'inc'
    >>> short_label("load-0", "load")
    'load-0'
    """
    if key.startswith("(") and "," in key:
        indexes = key.split(",", 1)[1].rstrip(")").strip()
        return f"{_TOKEN.sub('', group)[:24]} ({indexes[:16]})"
    name = _TOKEN.sub("", key)
    return name if len(name) <= 24 else _TOKEN.sub("", group)[:24]


def _header(name: str) -> list[str]:
    return [f"digraph {_quoted(name)} {{",
            '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.15, ranksep=0.4];',
            '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, '
            f'fillcolor="{_ACTIVITY_FILL}", color="#4a5a9c", height=0.3];',
            '  edge [color="#555555", arrowsize=0.6];']


def _tasks_dot(tasks: dict[str, _TaskNode], edges: list[tuple[str, str, str]],
               computations: dict[str, str], workers: dict[str, str]) -> str:
    lines = _header("tasks")
    numbers = {identifier: number for number, identifier in enumerate(tasks)}
    by_bundle: dict[str | None, list[str]] = {}
    for identifier, node in tasks.items():
        by_bundle.setdefault(node.bundle, []).append(identifier)
    for cluster, (bundle, members) in enumerate(by_bundle.items()):
        indent = "  "
        if bundle is not None:
            lines.append(f"  subgraph cluster_{cluster} {{")
            lines.append(f"    label={_quoted('computation ' + computations.get(bundle, '?'))};")
            lines.append('    style="rounded,dashed"; color="#999999"; fontsize=10;')
            indent = "    "
        for identifier in members:
            node = tasks[identifier]
            failed = node.outcome in FAILED
            tooltip = [node.key, f"outcome: {node.outcome or 'unknown'}"]
            if node.worker:
                tooltip.append(f"worker: {workers.get(node.worker, node.worker)}")
            if node.start and node.end:
                duration = (datetime.fromisoformat(str(node.end))
                            - datetime.fromisoformat(str(node.start))).total_seconds()
                tooltip.append(f"started {node.start}, took {_seconds(duration)}")
            extra: dict[str, Any] = {}
            if failed:
                extra = {"fillcolor": _FAILED_FILL, "color": _FAILED_LINE, "penwidth": 2}
            if node.outcome in ("dependency-error", "released", "cancelled"):
                extra["style"] = "rounded,filled,dashed"
            lines.append(f"{indent}t{numbers[identifier]} " + _attributes(
                label=short_label(node.key, node.group), tooltip="\n".join(tooltip),
                id=identifier, **extra) + ";")
        if bundle is not None:
            lines.append("  }")
    for source, target, kind in edges:
        if source in numbers and target in numbers:
            style = ' [style=dashed, color="#b00020", tooltip="retried"]' if kind == "retry" else ""
            lines.append(f"  t{numbers[source]} -> t{numbers[target]}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _groups_dot(data: dict[str, Any]) -> str:
    lines = _header("task groups")
    groups = data["groups"]
    for number, group in enumerate(groups):
        failures = sum(count for outcome, count in group["outcomes"].items() if outcome in FAILED)
        label = f"{_TOKEN.sub('', group['name'])[:32]}\n{group['tasks']:,} task(s) · " \
                f"{_seconds(group['time'])}"
        if failures:
            label += f"\n{failures:,} failed"
        tooltip = f"{group['name']}\n{group['attempts']:,} attempt(s)"
        extra: dict[str, Any] = {}
        if failures:
            extra = {"color": _FAILED_LINE, "penwidth": 2}
        lines.append(f"  g{number} " + _attributes(label=label, tooltip=tooltip, **extra) + ";")
    largest = max((count for _, _, count in data["group_edges"]), default=1)
    for producer, consumer, count in data["group_edges"]:
        width = 1 + 3 * math.log1p(count) / math.log1p(largest)
        lines.append(f"  g{producer} -> g{consumer} " + _attributes(
            penwidth=f"{width:.1f}", tooltip=f"{count:,} dependency edge(s)") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_source: str, format_name: str) -> str | bytes:
    """*dot_source* as *format_name*: the source itself for ``dot``, else drawn by Graphviz."""
    if format_name == "dot":
        return dot_source
    try:
        done = subprocess.run(["dot", f"-T{format_name}"], input=dot_source.encode(),
                              capture_output=True, check=False, timeout=600)
    except subprocess.TimeoutExpired:
        raise OutputError(f"the {format_name.upper()} picture",
                          "Graphviz took over 10 minutes; use --view groups") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise OutputError(f"the {format_name.upper()} picture",
                          f"Graphviz failed: {message[-1] if message else done.returncode}")
    return done.stdout if format_name == "png" else done.stdout.decode()
