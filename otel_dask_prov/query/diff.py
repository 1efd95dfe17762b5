"""Compare two runs task by task: what changed, and why (``otel-prov diff``).

Each run is an exported dataset (one run of it) or trace files, exported first to
a temporary dataset (in bounded memory, as ``otel-prov export`` does). A run's
tasks are its keys, each described by its last attempt (the last that ran, if any).

**Matching.** A key present in both runs is the same task. Keys that hold tokens
(hex digests or UUIDs that change with the code or arguments, ``inc-8a7f…``,
``('x-1f2e…', 0, 1)``) are matched by their name with the tokens removed
(``inc-*``, ``x-*``) plus their position: the chunk index of a tuple key, the
order of start otherwise. Within such a bucket, tasks are taken level by level of
the graph (producers first); a task whose recorded arguments and (matched) inputs
equal those of a candidate takes it, the others take the remaining candidates in
order of start.

**Why a matched task changed** (:data:`REASONS`): its function's code digest
(``function_digest``; the function's name when no digest was recorded), its
recorded arguments (tokens removed), its inputs (an input's value changed: its
producer changed, unless both runs recorded the same result hash; or an input is
new or gone), its outcome or exception, its result's type, size or hash, and its
duration beyond both thresholds (relative and absolute). Duration alone does not
change an input's value. Tasks of run B with no match are *added*, of run A
*removed*; the environment of the workers (Python, Dask, OS, packages) is
compared run against run.
"""

from __future__ import annotations

import ast
import json
import os
import re
import tempfile
from collections import defaultdict, deque
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from ..errors import OptionError, QueryError

PathLike = str | os.PathLike[str]

REASONS: Final = ("function", "arguments", "inputs", "outcome", "result", "duration")
"""Why a task changed, in the order they are reported."""

WHY: Final = {
    "function": "function code changed",
    "arguments": "arguments changed",
    "inputs": "because an input changed",
    "outcome": "outcome changed",
    "result": "result changed",
    "duration": "duration changed",
}
"""Each reason as the text report words it."""

_VALUE_REASONS: Final = frozenset(REASONS) - {"duration"}
"""Reasons that may change a task's output value (and so its consumers' inputs)."""

TOKEN: Final = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|[0-9a-f]{16,})(?![0-9A-Za-z])")
"""A token in a key: a UUID or a run of 16 or more lower-case hex digits."""

_ENVIRONMENT: Final = ("python", "dask", "distributed", "os", "packages_digest")


def strip_tokens(text: str) -> str:
    """*text* with every token (:data:`TOKEN`) replaced by ``*``.

    >>> strip_tokens("('x-1f2e3d4c5b6a79880011223344556677', 0, 1)")
    "('x-*', 0, 1)"
    >>> strip_tokens("inc-2b5f1c6e-3c9a-4a8f-9d1e-0123456789ab")
    'inc-*'
    >>> strip_tokens("sum-aggregate")
    'sum-aggregate'
    """
    return TOKEN.sub("*", text)


def key_parts(key: str) -> tuple[str, tuple[Any, ...]]:
    """A key (``str(key)``) as its name and, for a tuple key, its chunk index.

    >>> key_parts("('x-1f2e', 0, 1)")
    ('x-1f2e', (0, 1))
    >>> key_parts("inc-1f2e")
    ('inc-1f2e', ())
    """
    if key.startswith("("):
        try:
            value = ast.literal_eval(key)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return key, ()
        if isinstance(value, tuple) and value and isinstance(value[0], str):
            return value[0], value[1:]
    return key, ()


# --------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------
@dataclass
class TaskChange:
    """A task of both runs that changed."""

    key: str
    """Its key in run B."""
    key_a: str
    """Its key in run A (the same key unless matched by position)."""
    group: str
    """Its task group, tokens removed (the task prefix where recorded)."""
    reasons: list[str]
    """Why, from :data:`REASONS`."""
    details: dict[str, list[Any]] = field(default_factory=dict)
    """What differs: a column (``function_digest``, ``result_hash``, ``seconds``, ...) ->
    ``[value in A, value in B]``."""
    changed_inputs: list[str] = field(default_factory=list)
    """The keys (in run B) of its inputs whose value changed, or that run A did not have."""


@dataclass
class TaskEntry:
    """A task of one run only."""

    key: str
    group: str


@dataclass
class EnvironmentChange:
    """A property of the workers that differs: its values in each run (sorted)."""

    name: str
    """``python``, ``dask``, ``distributed``, ``os``, ``packages_digest`` or ``packages``
    (for ``packages``, only the ``name==version`` entries of one run alone)."""
    a: list[str]
    b: list[str]


@dataclass
class RunDiff:
    """What :func:`diff` found. ``changed`` and ``durations`` hold matched tasks; the
    unchanged ones are only counted."""

    run_a: str
    """Run A: its input and its run name."""
    run_b: str
    changed: list[TaskChange] = field(default_factory=list)
    """Tasks that changed for a reason other than their duration alone (in order of start in B)."""
    durations: list[TaskChange] = field(default_factory=list)
    """Tasks whose only change is their duration, beyond the thresholds."""
    added: list[TaskEntry] = field(default_factory=list)
    """Tasks of run B that run A did not have."""
    removed: list[TaskEntry] = field(default_factory=list)
    """Tasks of run A that run B did not have."""
    unchanged: int = 0
    """Matched tasks with no change."""
    matched_by_key: int = 0
    matched_by_position: int = 0
    environment: list[EnvironmentChange] = field(default_factory=list)
    """How the workers' environment differs."""
    time_threshold: float = 0.5
    time_absolute: float = 0.1

    @property
    def has_changes(self) -> bool:
        """Anything changed: a task, an added or removed task, a duration, the environment."""
        return bool(self.changed or self.durations or self.added or self.removed
                    or self.environment)

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON values, with ``has_changes`` and ``groups``."""
        found = asdict(self)
        found["has_changes"] = self.has_changes
        found["groups"] = self.groups()
        return found

    def groups(self) -> dict[str, dict[str, int]]:
        """Per task group: how many tasks changed, changed in duration only, were added, removed."""
        counts: dict[str, dict[str, int]] = {}
        for kind, entries in (("changed", self.changed), ("durations", self.durations),
                              ("added", self.added), ("removed", self.removed)):
            for entry in entries:
                group = counts.setdefault(entry.group, {"changed": 0, "durations": 0,
                                                        "added": 0, "removed": 0})
                group[kind] += 1
        return dict(sorted(counts.items()))

    def text(self, limit: int = 10) -> str:
        """A readable report, grouped by task group, at most *limit* keys per group and kind."""
        lines = [f"run A: {self.run_a}", f"run B: {self.run_b}"]
        matched = self.matched_by_key + self.matched_by_position
        if not self.has_changes:
            lines.append(f"no changes: {matched} tasks match ({self.matched_by_position} "
                         "by position), none changed beyond the thresholds")
            return "\n".join(lines) + "\n"
        lines.append(
            f"{len(self.changed)} changed, {len(self.added)} added, {len(self.removed)} removed, "
            f"{len(self.durations)} changed in duration only, {self.unchanged} unchanged "
            f"({matched} matched, {self.matched_by_position} by position)")
        if self.environment:
            lines += ["", "environment of the workers:"]
            for change in self.environment:
                lines.append(f"  {change.name}: {_values(change.a)} -> {_values(change.b)}")
        for title, changes in (("changed", self.changed), (
                f"duration changed (beyond {self.time_threshold:.0%} and "
                f"{self.time_absolute:g} s)", self.durations)):
            if not changes:
                continue
            lines += ["", f"{title}:"]
            for group, members in _by_group(changes):
                reasons = [reason for reason in REASONS
                           if any(reason in change.reasons for change in members)]
                lines.append(f"  {group}: {len(members)} task{_s(members)}, "
                             f"{'; '.join(WHY[reason] for reason in reasons)}"
                             f"{_detail(members)}")
                for change in members[:limit]:
                    lines.append(f"    {_key(change)}  {_reasons(change)}")
                if len(members) > limit:
                    lines.append(f"    ... and {len(members) - limit} more")
        for title, entries in (("added (only in B)", self.added),
                               ("removed (only in A)", self.removed)):
            if not entries:
                continue
            lines += ["", f"{title}:"]
            for group, members in _by_group(entries):
                lines.append(f"  {group}: {len(members)} task{_s(members)}")
                for entry in members[:limit]:
                    lines.append(f"    {entry.key}")
                if len(members) > limit:
                    lines.append(f"    ... and {len(members) - limit} more")
        return "\n".join(lines) + "\n"


def _s(items: list[Any]) -> str:
    return "" if len(items) == 1 else "s"


def _values(values: list[str]) -> str:
    return ", ".join(values) if values else "(none)"


def _by_group(entries: Iterable[Any]) -> list[tuple[str, list[Any]]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for entry in entries:
        groups[entry.group].append(entry)
    return sorted(groups.items())


def _key(change: TaskChange) -> str:
    return change.key if change.key == change.key_a else f"{change.key_a} -> {change.key}"


def _detail(members: list[TaskChange]) -> str:
    """The function digests of a group whose code changed, when they are one pair."""
    pairs = {tuple(map(str, change.details["function_digest"])) for change in members
             if "function_digest" in change.details}
    if len(pairs) != 1:
        return ""
    before, after = pairs.pop()
    return f" ({_short(before)} -> {_short(after)})"


def _short(text: str) -> str:
    name, _, digest = text.rpartition(":")
    return f"{name}:{digest[:12]}" if name else text[:12]


def _reasons(change: TaskChange) -> str:
    parts = []
    for reason in change.reasons:
        if reason == "inputs" and change.changed_inputs:
            shown = ", ".join(change.changed_inputs[:3])
            more = len(change.changed_inputs) - 3
            parts.append(f"inputs ({shown}{f', +{more}' if more > 0 else ''})")
        elif reason == "inputs" and "inputs" in change.details:
            before, after = change.details["inputs"]
            parts.append(f"inputs (other tasks: {before} in A, {after} in B)")
        elif reason == "duration" and "seconds" in change.details:
            before, after = change.details["seconds"]
            parts.append(f"duration ({before:.3g} s -> {after:.3g} s)")
        elif reason == "outcome" and "outcome" in change.details:
            before, after = change.details["outcome"]
            parts.append(f"outcome ({before} -> {after})")
        else:
            parts.append(reason)
    return ", ".join(parts)


# --------------------------------------------------------------------------
# One run, read from its dataset
# --------------------------------------------------------------------------
@dataclass(slots=True)
class _Task:
    key: str
    group: str
    base: tuple[str, tuple[Any, ...]]
    order: int
    outcome: str | None
    exception_type: str | None
    function: str | None
    function_digest: str | None
    arguments: str | None
    result_type: str | None
    result_nbytes: int | None
    result_hash: str | None
    seconds: float | None
    inputs: list[str] = field(default_factory=list)


@dataclass
class _Run:
    label: str
    tasks: dict[str, _Task]
    """By key, in order of first start."""
    workers: list[dict[str, Any]]


_OPTIONAL: Final = ("function_digest", "arguments")
"""Columns of ``attempts`` that datasets exported before them lack."""

_ATTEMPTS: Final = """
    WITH chosen AS (
        SELECT a.key, a.prefix, a."group", a.outcome, a.exception_type, a.function,
               {optional}, a.result_type, a.result_nbytes, a.result_hash,
               coalesce(e.compute_s, a.duration_s) AS seconds,
               min(a.start_time) OVER (PARTITION BY a.key) AS first_start,
               row_number() OVER (PARTITION BY a.key ORDER BY a.executed DESC,
                                  a.start_time DESC NULLS LAST, a.attempt DESC) AS choice
        FROM attempts AS a
        LEFT JOIN executions AS e USING (run, trace_id, span_id)
        WHERE a.run = $run AND a.key IS NOT NULL)
    SELECT * EXCLUDE (choice) FROM chosen WHERE choice = 1
    ORDER BY first_start NULLS LAST, key"""

_EDGES: Final = """
    SELECT DISTINCT key, producer_key FROM dependency_edges
    WHERE run = $run AND key IS NOT NULL AND producer_key IS NOT NULL
    ORDER BY key, producer_key"""


def _read_run(directory: Path, name: str | None, label: str) -> _Run:
    from .sql import _duckdb_error, connect

    connection = connect(directory)
    try:
        runs = [row[0] for row in connection.execute(
            "SELECT DISTINCT run FROM attempts UNION SELECT DISTINCT run FROM workers "
            "ORDER BY 1").fetchall()]
        if name is None:
            if len(runs) != 1:
                raise OptionError(f"{directory} holds {len(runs)} runs ({', '.join(runs)}): "
                                  "name one with --run-a/--run-b")
            name = runs[0]
        elif name not in runs:
            raise OptionError(f"{directory} holds no run {name!r}; its runs: {', '.join(runs)}")
        columns = {row[0] for row in connection.execute("DESCRIBE attempts").fetchall()}
        optional = ", ".join(f"a.{column}" if column in columns else f"NULL AS {column}"
                             for column in _OPTIONAL)
        tasks: dict[str, _Task] = {}
        cursor = connection.execute(_ATTEMPTS.format(optional=optional), {"run": name})
        described = [column[0] for column in cursor.description]
        for position, values in enumerate(cursor.fetchall()):
            row = dict(zip(described, values, strict=True))
            key = str(row["key"])
            stem, index = key_parts(key)
            arguments = row["arguments"]
            tasks[key] = _Task(
                key=key, group=strip_tokens(str(row["prefix"] or stem)),
                base=(strip_tokens(stem), index), order=position, outcome=row["outcome"],
                exception_type=row["exception_type"], function=row["function"],
                function_digest=row["function_digest"],
                arguments=None if arguments is None else strip_tokens(str(arguments)),
                result_type=row["result_type"], result_nbytes=row["result_nbytes"],
                result_hash=row["result_hash"], seconds=row["seconds"])
        for consumer, producer in connection.execute(_EDGES, {"run": name}).fetchall():
            task = tasks.get(str(consumer))
            if task is not None and str(producer) in tasks and str(producer) != task.key:
                task.inputs.append(str(producer))
        worker_columns = {row[0] for row in connection.execute("DESCRIBE workers").fetchall()}
        selected = ", ".join(column if column in worker_columns else f"NULL AS {column}"
                             for column in (*_ENVIRONMENT, "packages"))
        cursor = connection.execute(
            f"SELECT {selected} FROM workers WHERE run = $run AND role = 'worker'",  # noqa: S608
            {"run": name})
        names = [column[0] for column in cursor.description]
        workers = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    except _duckdb_error() as error:
        raise QueryError(f"cannot read run {name} of {directory}: "
                         f"{str(error).splitlines()[0]}") from None
    finally:
        connection.close()
    return _Run(f"{label} (run {name})", tasks, workers)


def is_dataset(path: Path) -> bool:
    """Whether *path* is a folder of ``otel-prov export`` (a table with a run partition)."""
    from .schemas import TABLES

    return path.is_dir() and any(
        next((path / table).glob("run=*/*.parquet"), None) is not None for table in TABLES)


def _load(path: PathLike, name: str | None, stack: ExitStack, skip_invalid: bool) -> _Run:
    from .dataset import export

    source = Path(path)
    if is_dataset(source):
        return _read_run(source, name, str(path))
    if name is not None:
        raise OptionError(f"{path} is not an exported dataset, so it has no run {name!r} to "
                          "choose: --run-a/--run-b name a run of a dataset")
    temporary = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="otel-prov-diff-")))
    result = export([source], temporary / "dataset", skip_invalid=skip_invalid)
    return _read_run(temporary / "dataset", result.run, str(path))


# --------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------
def _levels(run: _Run) -> list[list[str]]:
    """The keys of *run* by level of its graph (roots first), each level in order of start."""
    consumers: dict[str, list[str]] = defaultdict(list)
    waiting = {key: len(task.inputs) for key, task in run.tasks.items()}
    for key, task in run.tasks.items():
        for producer in task.inputs:
            consumers[producer].append(key)
    level = {key: 0 for key, count in waiting.items() if count == 0}
    ready = deque(level)
    while ready:
        key = ready.popleft()
        for consumer in consumers[key]:
            level[consumer] = max(level.get(consumer, 0), level[key] + 1)
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                ready.append(consumer)
    deepest = max(level.values(), default=0)
    for key in run.tasks:  # a cycle (never in Dask): last
        level.setdefault(key, deepest + 1)
    levels: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for key in run.tasks:
        levels[level[key]].append(key)
    return levels


def _match(a: _Run, b: _Run, levels: list[list[str]]) -> tuple[dict[str, str], int]:
    """Run B's key -> its task in run A; how many were matched by position."""
    pairs = {key: key for key in b.tasks if key in a.tasks}
    taken = set(pairs.values())
    ordered: dict[tuple[str, tuple[Any, ...]], deque[str]] = defaultdict(deque)
    by_signature: dict[tuple[Any, ...], deque[str]] = defaultdict(deque)
    for key, task in a.tasks.items():
        if key not in taken:
            ordered[task.base].append(key)
            by_signature[(task.base, task.arguments, tuple(sorted(task.inputs)))].append(key)

    def take(candidates: deque[str] | None) -> str | None:
        while candidates:
            key = candidates.popleft()
            if key not in taken:
                taken.add(key)
                return key
        return None

    positional = 0
    for level in levels:
        left = []
        for key in level:
            if key in pairs:
                continue
            task = b.tasks[key]
            if not ordered.get(task.base):
                continue
            inputs = tuple(sorted(pairs.get(producer, "\0" + producer)
                                  for producer in task.inputs))
            found = take(by_signature.get((task.base, task.arguments, inputs)))
            if found is None:
                left.append(key)
            else:
                pairs[key] = found
                positional += 1
        for key in left:
            found = take(ordered.get(b.tasks[key].base))
            if found is not None:
                pairs[key] = found
                positional += 1
    return pairs, positional


def _differs(before: Any, after: Any) -> bool:
    """Two recorded values differ (a value one run did not record is no difference)."""
    return before is not None and after is not None and before != after


def _compare(a: _Task, b: _Task, changed_inputs: list[str], inputs_differ: bool,
             threshold: float, absolute: float) -> TaskChange:
    change = TaskChange(b.key, a.key, b.group, [])
    details = change.details
    if _differs(a.function_digest, b.function_digest):
        details["function_digest"] = [a.function_digest, b.function_digest]
    if _differs(a.function, b.function):
        details["function"] = [a.function, b.function]
    if details:
        change.reasons.append("function")
    if _differs(a.arguments, b.arguments):
        details["arguments"] = [a.arguments, b.arguments]
        change.reasons.append("arguments")
    if changed_inputs or inputs_differ:
        change.reasons.append("inputs")
        change.changed_inputs = changed_inputs
        if inputs_differ:
            details["inputs"] = [len(a.inputs), len(b.inputs)]
    outcome = False
    for name in ("outcome", "exception_type"):
        if getattr(a, name) != getattr(b, name):
            details[name] = [getattr(a, name), getattr(b, name)]
            outcome = True
    if outcome:
        change.reasons.append("outcome")
    result = False
    for name in ("result_type", "result_nbytes", "result_hash"):
        if _differs(getattr(a, name), getattr(b, name)):
            details[name] = [getattr(a, name), getattr(b, name)]
            result = True
    if result:
        change.reasons.append("result")
    if a.seconds is not None and b.seconds is not None:
        delta = abs(b.seconds - a.seconds)
        if delta > absolute and (a.seconds <= 0 or delta > threshold * a.seconds):
            details["seconds"] = [a.seconds, b.seconds]
            change.reasons.append("duration")
    return change


def _environment(a: _Run, b: _Run) -> list[EnvironmentChange]:
    changes = []
    for name in _ENVIRONMENT:
        before = sorted({str(w[name]) for w in a.workers if w[name] is not None})
        after = sorted({str(w[name]) for w in b.workers if w[name] is not None})
        if before and after and before != after:
            changes.append(EnvironmentChange(name, before, after))
    packages_a = {str(p) for w in a.workers for p in (w["packages"] or ())}
    packages_b = {str(p) for w in b.workers for p in (w["packages"] or ())}
    if packages_a and packages_b and packages_a != packages_b:
        changes.append(EnvironmentChange("packages", sorted(packages_a - packages_b),
                                         sorted(packages_b - packages_a)))
    return changes


def compare(a: _Run, b: _Run, time_threshold: float = 0.5,
            time_absolute: float = 0.1) -> RunDiff:
    """Compare two runs already read (see :func:`diff`)."""
    levels = _levels(b)
    pairs, positional = _match(a, b, levels)
    found = RunDiff(a.label, b.label, matched_by_key=len(pairs) - positional,
                    matched_by_position=positional, time_threshold=time_threshold,
                    time_absolute=time_absolute, environment=_environment(a, b))
    value_changed: set[str] = set()
    changes: dict[str, TaskChange] = {}
    for level in levels:
        for key in level:
            task = b.tasks[key]
            partner = pairs.get(key)
            if partner is None:
                value_changed.add(key)
                continue
            before = a.tasks[partner]
            changed_inputs = [producer for producer in task.inputs if producer in value_changed]
            mapped = {pairs.get(producer) for producer in task.inputs}
            inputs_differ = mapped != set(before.inputs)
            change = _compare(before, task, changed_inputs, inputs_differ, time_threshold,
                              time_absolute)
            if not change.reasons:
                found.unchanged += 1
                continue
            changes[key] = change
            same_value = (before.result_hash is not None and before.result_hash ==
                          task.result_hash and before.outcome == task.outcome)
            if _VALUE_REASONS.intersection(change.reasons) and not same_value:
                value_changed.add(key)
    for key in b.tasks:  # in order of start in B
        reported = changes.get(key)
        if reported is None:
            if key not in pairs:
                found.added.append(TaskEntry(key, b.tasks[key].group))
        elif reported.reasons == ["duration"]:
            found.durations.append(reported)
        else:
            found.changed.append(reported)
    matched = set(pairs.values())
    found.removed = [TaskEntry(key, task.group) for key, task in a.tasks.items()
                     if key not in matched]
    return found


def diff(run_a: PathLike, run_b: PathLike, *, name_a: str | None = None,
         name_b: str | None = None, time_threshold: float = 0.5, time_absolute: float = 0.1,
         skip_invalid: bool = False) -> RunDiff:
    """Compare run A with run B: which tasks changed and why, which were added or removed.

    *run_a* and *run_b* are exported datasets (``otel-prov export``) or trace files
    or folders, which are exported to a temporary dataset first. A dataset holding
    several runs needs the run's name (*name_a*, *name_b*). A duration changed
    when it moved by more than *time_threshold* (a fraction: 0.5 is 50%) of run
    A's **and** more than *time_absolute* seconds.
    """
    if time_threshold < 0 or time_absolute < 0:
        raise OptionError("the time thresholds cannot be negative")
    with ExitStack() as stack:
        first = _load(run_a, name_a, stack, skip_invalid)
        second = _load(run_b, name_b, stack, skip_invalid)
    return compare(first, second, time_threshold, time_absolute)


def to_json(result: RunDiff) -> str:
    """*result* as JSON (:meth:`RunDiff.to_dict`)."""
    return json.dumps(result.to_dict(), indent=1, ensure_ascii=False, default=str) + "\n"

