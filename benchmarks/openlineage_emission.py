"""What live OpenLineage emission costs the scheduler, per computation, receiver up and down.

Real ``dask scheduler`` and ``dask worker`` processes (``--preload otel_dask_prov``,
tracing to local files) run many one-task computations, one after the other
(the case where a per-computation cost shows most). Three configurations
alternate, each in a fresh cluster: ``off`` (tracing, no ``openlineage-url``),
``up`` (a real HTTP receiver in this process takes every event) and ``down`` (the
URL names a closed port: every event is spilled, and re-probed with back-off).
Measured: the scheduler process's CPU time (user + system, ``psutil``) and the
wall time per computation, minimum and median of the rounds; and, in this
process, what the two hooks cost (``OpenLineageEmitter.started`` and ``ended``,
which only append to a deque).

    python -m benchmarks.openlineage_emission [--computations 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

import psutil

from otel_dask_prov.demo.local_cluster import DaskProcesses
from otel_dask_prov.export.openlineage_emitter import OpenLineageEmitter
from otel_dask_prov.settings import resolve_settings


def _inc(x: int) -> int:
    return x + 1


def hook_cost(repeat: int = 200_000) -> dict[str, float]:
    """Nanoseconds per ``started`` and per ``ended`` call on an emitter whose thread is not running."""
    with tempfile.TemporaryDirectory() as scratch:
        settings = resolve_settings(output_dir=scratch, openlineage_url="http://127.0.0.1:9")
        emitter = OpenLineageEmitter(settings, transport=None)  # type: ignore[arg-type]
        record, tasks = object(), [object()]
        started = min(timeit.repeat(lambda: emitter.started(record, tasks), number=repeat, repeat=5))
        emitter._queue.clear()
        ended = min(timeit.repeat(lambda: emitter.ended(record, None), number=repeat, repeat=5))
    return {"started_ns": started / repeat * 1e9, "ended_ns": ended / repeat * 1e9}


def one_round(workdir: Path, url: str | None, computations: int) -> dict[str, float]:
    env = {"OTEL_DASK_PROV_OPENLINEAGE_URL": url} if url else {}
    cluster = DaskProcesses(workdir, n_workers=1, env=env)
    with cluster:
        with cluster.client() as client:
            for i in range(20):  # warm up
                client.submit(_inc, i, pure=False).result()
            assert cluster.scheduler is not None
            scheduler = psutil.Process(cluster.scheduler.pid)
            before = scheduler.cpu_times()
            start = time.perf_counter()
            for i in range(computations):
                client.submit(_inc, i, pure=False).result()
            wall = time.perf_counter() - start
            after = scheduler.cpu_times()
        cluster.stop()
    cpu = (after.user - before.user) + (after.system - before.system)
    return {"scheduler_cpu_ms": cpu / computations * 1e3, "wall_ms": wall / computations * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--computations", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=None)
    arguments = parser.parse_args()

    from tests.test_openlineage import Receiver, free_port

    receiver = Receiver()
    down = f"http://127.0.0.1:{free_port()}"
    results: dict[str, list[dict[str, float]]] = {"off": [], "up": [], "down": []}
    try:
        for number in range(arguments.rounds):
            for name, url in (("off", None), ("up", receiver.url), ("down", down)):
                with tempfile.TemporaryDirectory() as scratch:
                    results[name].append(one_round(Path(scratch), url, arguments.computations))
                print(f"round {number + 1} {name}: {results[name][-1]}", flush=True)
    finally:
        receiver.stop()
    summary: dict[str, Any] = {"computations": arguments.computations, "rounds": arguments.rounds,
                               "hooks": hook_cost(), "received_events": len(receiver.events)}
    for name, rounds in results.items():
        summary[name] = {
            key: {"min": min(r[key] for r in rounds), "median": statistics.median(r[key] for r in rounds)}
            for key in rounds[0]}
    text = json.dumps(summary, indent=2)
    print(text)
    if arguments.output is not None:
        arguments.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
