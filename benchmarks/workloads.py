"""The computations the benchmarks time, at full and quick sizes.

Each :class:`Workload` builds its graph *before* the clock starts (``prepare``)
and returns a callable that submits it, waits for the result and drops every
reference, so that the scheduler forgets all its tasks before the next run.
The task functions live here so that worker processes can import them
(``scripts/bench`` puts the repository on ``PYTHONPATH``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import add
from typing import Any

from dask.delayed import Delayed
from distributed import Client, wait


def inc(x: int) -> int:
    """The tiny task of the ``client.map`` workload."""
    return x + 1


def warn_inc(x: int) -> int:
    """The tiny task of the logging workload: one warning (kept by ``record_logs``)."""
    import logging

    logging.getLogger("benchmarks.workloads").warning("value %d looks odd", x)
    return x + 1


def tree_graph(leaves: int, name: str = "tree") -> Delayed:
    """A binary tree reduction over *leaves* ``inc`` tasks: ``2 * leaves - 1`` tasks.

    Built as a plain graph dict (building it from ``dask.delayed`` calls takes
    seconds per 100,000 tasks, which would be timed as client work).
    """
    graph: dict[Any, Any] = {}
    level = []
    for index in range(leaves):
        key = (f"{name}-leaf", index)
        graph[key] = (inc, index)
        level.append(key)
    depth = 0
    while len(level) > 1:
        depth += 1
        following = []
        for index in range(0, len(level) - 1, 2):
            key = (f"{name}-add-{depth}", index)
            graph[key] = (add, level[index], level[index + 1])
            following.append(key)
        if len(level) % 2:
            following.append(level[-1])
        level = following
    return Delayed(level[0], graph)


Run = Callable[[], Any]


@dataclass(frozen=True)
class Workload:
    """One benchmark computation: a short name, a description, its task count."""

    name: str
    description: str
    tasks: int
    prepare: Callable[[Client], Run]
    """Build the graph (untimed) and return the timed submit-and-wait call."""
    optional: bool = False
    """Run only when named (``--workloads``), not by default."""


def map_tiny(count: int) -> Workload:
    """(a) *count* tiny independent tasks with ``client.map``."""

    def prepare(client: Client) -> Run:
        def run() -> None:
            futures = client.map(inc, range(count), pure=False)
            wait(futures)
            del futures

        return run

    return Workload("a-map", f"client.map over {count:,} tiny tasks", count, prepare)


def map_warning(count: int) -> Workload:
    """(e) *count* tiny tasks that log one warning each (optional: the cost of ``record_logs``)."""

    def prepare(client: Client) -> Run:
        def run() -> None:
            futures = client.map(warn_inc, range(count), pure=False)
            wait(futures)
            del futures

        return run

    return Workload("e-warn", f"client.map over {count:,} tiny tasks logging a warning each",
                    count, prepare, optional=True)


def array_sum(side: int, chunk: int) -> Workload:
    """(b) ``x.sum()`` of a random ``side x side`` dask.array in ``chunk x chunk`` blocks."""

    import dask.array as da

    def build() -> Any:
        return da.random.random((side, side), chunks=(chunk, chunk)).sum()

    def prepare(client: Client) -> Run:
        total = build()

        def run() -> None:
            client.compute(total).result()

        return run

    tasks = len(build().__dask_graph__())
    return Workload(
        "b-array", f"dask.array {side}x{side} in {chunk}x{chunk} chunks, sum", tasks, prepare
    )


def delayed_tree(leaves: int, name: str, label: str) -> Workload:
    """(c)/(d) a tree reduction over *leaves* leaves, submitted as one graph."""

    def prepare(client: Client) -> Run:
        result = tree_graph(leaves, name)

        def run() -> None:
            client.compute(result).result()

        return run

    tasks = 2 * leaves - 1
    return Workload(name, f"{label}: tree reduction, {leaves:,} leaves ({tasks:,} tasks)",
                    tasks, prepare)


SIZES: dict[str, dict[str, int]] = {
    "full": {"map": 20_000, "array_side": 3000, "tree": 4096, "large": 50_000,
             "memory": 100_000, "delivery": 50_000, "hotpath": 10_000},
    "quick": {"map": 500, "array_side": 600, "tree": 128, "large": 1_000,
              "memory": 1_500, "delivery": 1_000, "hotpath": 1_000},
    "smoke": {"map": 200, "array_side": 300, "tree": 64, "large": 250,
              "memory": 500, "delivery": 500, "hotpath": 250},
}
"""Sizes per mode. Tree sizes are leaves: a tree of n leaves has 2n - 1 tasks, so
``large`` 50,000 is the 100,000-task graph (d) and ``memory`` the 200,000-task run."""


def _scaled(mode: str, name: str, scale: float) -> int:
    return max(2, round(SIZES[mode][name] * scale))


def overhead_workloads(mode: str, scale: float = 1.0) -> list[Workload]:
    """Workloads (a)-(d) of the overhead benchmark, and the optional (e); *scale* multiplies
    task counts."""
    side = max(200, round(SIZES[mode]["array_side"] * scale ** 0.5 / 100) * 100)
    return [
        map_tiny(_scaled(mode, "map", scale)),
        array_sum(side, 100),
        delayed_tree(_scaled(mode, "tree", scale), "c-tree", "delayed"),
        delayed_tree(_scaled(mode, "large", scale), "d-large", "large graph"),
        map_warning(_scaled(mode, "map", scale)),
    ]


def tree_workload(mode: str, name: str, scale: float = 1.0) -> Workload:
    """The tree reduction of the memory, delivery or hot-path benchmark."""
    return delayed_tree(_scaled(mode, name, scale), f"{name}-tree", name)
