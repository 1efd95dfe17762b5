"""Archives of many traces: ``convert``, ``export`` and ``report`` in bounded memory, alone and
on a cluster.

A submit-heavy client makes one small computation per ``client.submit``, so its
archive holds many small traces; issue 15 asks for 10M spans of real structure,
including 1M+ small traces, under 1 GiB per process on 2 cores. The archive here
is the synthetic files the plugins would write (``tests/support/synthetic_traces``):
*N* computations of two tasks each (``load-i``, then ``process-i`` on its result),
submitted 50 ms apart, through one span pipeline per process (4 workers), so a line
holds the spans of the traces that ended since the line before; ``--with-large``
adds the 1M-task map and reduction of ``benchmarks/convert_bench.py``.

Each command runs in a fresh process, one configuration after the other for each
command: ``alone`` (what the command does by default: a read-ahead process for
inputs this large) and ``cluster`` (``--scheduler`` of a two-worker, one-thread
``LocalCluster`` started first in that process, its scheduler in that process).
Printed: wall seconds; CPU seconds of every process from the command's start to
its end (for the cluster, the workers' and nannies' CPU counted before and after);
the peak RSS of each process (the command's own, its read-ahead helper or the
busiest worker).

    python benchmarks/archive_bench.py 100000
    python benchmarks/archive_bench.py 1000000 --with-large
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("convert", "export", "report")
MODES = ("alone", "cluster")
SUBMITTED_EVERY = 0.05
"""Seconds between two computations of the archive."""


def small_traces_for(count: int, workdir: Path) -> Path:
    """The archive of *count* two-task computations, generated once and kept."""
    directory = workdir / f"small-traces-{count}"
    if (directory / "complete").exists():
        return directory
    sys.path.insert(0, str(ROOT))
    from tests.support.synthetic_traces import START, SyntheticTask, stream_many

    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    opened = {}

    def write_line(name: str, line: str) -> None:
        handle = opened.get(name)
        if handle is None:
            handle = opened[name] = (directory / name).open("w", encoding="utf-8")
        handle.write(line)

    def computations():  # type: ignore[no-untyped-def]
        for number in range(count):
            load = SyntheticTask(f"load-{number:x}")
            yield [load, SyntheticTask(f"process-{number:x}", (load.key,))], \
                START + number * SUBMITTED_EVERY

    try:
        stream_many(computations(), write_line, workers=4, seed=count)
    finally:
        for handle in opened.values():
            handle.close()
    (directory / "complete").touch()
    size = sum(path.stat().st_size for path in directory.iterdir())
    print(f"generated {count} computations in {time.perf_counter() - started:.1f} s "
          f"({size / 2**20:.0f} MiB)", flush=True)
    return directory


_CHILD = r"""
import json, resource, shutil, sys, time
import psutil
sys.path.insert(0, {root!r})
command, mode, output, paths = {command!r}, {mode!r}, {output!r}, {paths!r}

def tree():
    return psutil.Process().children(recursive=True)

def cpu(processes):
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total

def high_water(process):
    try:
        with open(f"/proc/{{process.pid}}/status") as status:
            return next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmHWM"))
    except (OSError, StopIteration):
        return 0

scheduler, cluster = None, None
if mode == "cluster":
    from distributed import LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    scheduler = cluster.scheduler_address
own = resource.getrusage(resource.RUSAGE_SELF)
before_self = own.ru_utime + own.ru_stime
workers = tree()
before_workers = cpu(workers)
start = time.perf_counter()
if command == "convert":
    from otel_dask_prov.convert import convert
    convert(paths, output, scheduler=scheduler)
elif command == "export":
    from otel_dask_prov.query import export
    export(paths, output, run="bench", scheduler=scheduler)
else:
    from otel_dask_prov.report import write_report
    write_report(paths, output, scheduler=scheduler)
wall = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF)
children = resource.getrusage(resource.RUSAGE_CHILDREN)
total = own.ru_utime + own.ru_stime - before_self + cpu(workers) - before_workers \
    + children.ru_utime + children.ru_stime
peaks = {{"self": own.ru_maxrss * 1024,
          "others": max([children.ru_maxrss * 1024] + [high_water(p) for p in workers])}}
if cluster is not None:
    cluster.close()
print(json.dumps({{"wall": wall, "cpu": total, **peaks}}))
"""


def measure(command: str, mode: str, paths: list[Path], workdir: Path) -> dict[str, float]:
    """Run *command* over *paths* in *mode* in a fresh process; its figures."""
    output = workdir / {"convert": "bench.json", "export": "bench-dataset",
                        "report": "bench.html"}[command]
    code = _CHILD.format(root=str(ROOT), command=command, mode=mode, output=str(output),
                         paths=[str(path) for path in paths])
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if output.is_dir():
        import shutil

        shutil.rmtree(output)
    else:
        output.unlink(missing_ok=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("traces", type=int, help="computations of two tasks in the archive")
    parser.add_argument("--with-large", action="store_true",
                        help="add the 1M-task computation of benchmarks/convert_bench.py")
    parser.add_argument("--commands", nargs="*", default=list(COMMANDS), choices=COMMANDS)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/otel-prov-bench"))
    arguments = parser.parse_args()
    arguments.workdir.mkdir(parents=True, exist_ok=True)
    paths = [small_traces_for(arguments.traces, arguments.workdir)]
    if arguments.with_large:
        sys.path.insert(0, str(ROOT))
        from benchmarks.convert_bench import traces_for

        paths.append(traces_for(1_000_000, arguments.workdir))
    size = sum(path.stat().st_size for directory in paths for path in directory.iterdir())
    print(f"archive: {', '.join(map(str, paths))} ({size / 2**30:.1f} GiB)")
    print(f"{'command':>8} {'mode':>8} {'wall s':>7} {'cpu s':>7} {'own MiB':>8} {'other MiB':>9}")
    for _ in range(arguments.rounds):
        for command in arguments.commands:
            for mode in MODES:
                figures = measure(command, mode, paths, arguments.workdir)
                print(f"{command:>8} {mode:>8} {figures['wall']:>7.1f} {figures['cpu']:>7.1f} "
                      f"{figures['self'] / 2**20:>8.0f} {figures['others'] / 2**20:>9.0f}",
                      flush=True)


if __name__ == "__main__":
    main()
