"""How fast, and in how much memory, ``otel-prov convert`` turns traces into PROV.

Generates a synthetic computation of N tasks (a map and a tree reduction, as
the plugins would trace it: one scheduler file, one file per worker, ~3 spans
per task plus phases) and converts it, each run in a fresh process:

* ``streaming``: what ``otel-prov convert -o out.json`` does (the streaming
  PROV-JSON writer);
* ``prov``: the same records built into a ``prov`` document, then written as
  PROV-JSON by ``prov`` (the reference model), only up to ``--prov-limit`` tasks.

Prints wall seconds, CPU seconds (all processes) and peak RSS (the sum of the
peaks of all processes: the converter decodes spans in a child process for
inputs this large) for each, and the speed-up. Targets: 1M tasks in <= 60 s and <= 1 GiB
on 2 cores; >= 5x faster than ``prov`` at 100k.

    python benchmarks/convert_bench.py 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
from otel_dask_prov.convert import convert, to_document
start = time.perf_counter()
if {mode!r} == "prov":
    document = to_document([{traces!r}])
    document.serialize({output!r}, format="json")
    records = len(document.get_records()) + sum(len(b.get_records()) for b in document.bundles)
else:
    report = convert([{traces!r}], {output!r}, format="json")
    records = report.records
seconds = time.perf_counter() - start
own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({{"seconds": seconds, "records": records,
                  "cpu": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
                  "peak": (own.ru_maxrss + children.ru_maxrss) * 1024}}))
"""


def traces_for(tasks: int, workdir: Path) -> Path:
    """The synthetic trace directory for *tasks* tasks, generated once and kept."""
    directory = workdir / f"traces-{tasks}"
    if not (directory / "dask-scheduler.jsonl").exists():
        sys.path.insert(0, str(ROOT))
        from tests.support.synthetic_traces import map_reduce, write

        started = time.perf_counter()
        write(directory, map_reduce(tasks), workers=4, seed=tasks)
        print(f"generated {tasks} tasks in {time.perf_counter() - started:.1f} s "
              f"({sum(p.stat().st_size for p in directory.iterdir()) / 2**20:.0f} MiB)",
              flush=True)
    return directory


def measure(mode: str, traces: Path, output: Path) -> dict[str, float]:
    code = _CHILD.format(root=str(ROOT), mode=mode, traces=str(traces), output=str(output))
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    output.unlink(missing_ok=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tasks", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/otel-prov-bench"))
    parser.add_argument("--prov-limit", type=int, default=100_000,
                        help="largest task count also built with prov (default 100000)")
    arguments = parser.parse_args()
    arguments.workdir.mkdir(parents=True, exist_ok=True)
    print(f"{'tasks':>9} {'mode':>10} {'records':>9} {'seconds':>8} {'cpu s':>8} {'peak MiB':>9}")
    for tasks in arguments.tasks:
        traces = traces_for(tasks, arguments.workdir)
        results = {}
        modes = ["streaming"] + (["prov"] if tasks <= arguments.prov_limit else [])
        for mode in modes:
            results[mode] = result = measure(mode, traces, arguments.workdir / "out.json")
            print(f"{tasks:>9} {mode:>10} {result['records']:>9.0f} {result['seconds']:>8.1f} "
                  f"{result['cpu']:>8.1f} {result['peak'] / 2**20:>9.0f}", flush=True)
        if "prov" in results:
            print(f"{'':>9} speed-up {results['prov']['seconds'] / results['streaming']['seconds']:.1f}x, "
                  f"memory {results['prov']['peak'] / results['streaming']['peak']:.1f}x less",
                  flush=True)


if __name__ == "__main__":
    main()
