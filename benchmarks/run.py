"""Run the benchmark suite: ``scripts/bench [--quick] [--json FILE] ...``.

Benchmarks (``--benchmarks``, all by default):

* ``overhead``: workloads (a)-(d) on each cluster kind in each configuration;
* ``memory``: scheduler RSS growth on the 200,000-task run, with and without tracing;
* ``delivery``: spans expected vs received by the real collector, 100,000 tasks;
* ``hotpath``: per-task cost of each tracing stage (``--yappi`` adds a profile);
* ``converter``: ``benchmarks/convert_bench.py`` (owned by the converter);
* ``report``: ``benchmarks/report_bench.py``: the size of ``otel-prov report``'s page,
  the time and memory to write it, and the time Chromium takes to open it.

``--quick`` shrinks every size, runs one round and only the real-processes
cluster kind (under two minutes; checks that the benchmarks work, its figures
mean little); ``--smoke`` is smaller still, for the test suite. The full suite follows the sizes of issue 6 and
takes hours on a loaded 2-core machine: ``--scale`` shrinks its task counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from . import report
from .clusters import KINDS
from .collector import REPO_ROOT, CollectorUnavailableError, collector_binary
from .configs import configurations
from .delivery import run_delivery
from .hotpath import profile_hot_path
from .memory import run_memory
from .overhead import run_overhead
from .workloads import Workload, overhead_workloads, tree_workload

BENCHMARKS = ("overhead", "memory", "delivery", "hotpath", "converter", "report")
CONVERTER_TASKS = {"full": ["10000", "100000", "1000000"], "quick": ["1000"], "smoke": ["200"]}
"""Task counts of the converter and report benchmarks, by mode."""


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes, one round")
    size.add_argument("--smoke", action="store_true", help="tiny sizes, one round (tests)")
    parser.add_argument("--benchmarks", type=_list, default=list(BENCHMARKS),
                        help="comma-separated subset of: " + ", ".join(BENCHMARKS))
    parser.add_argument("--kinds", type=_list, default=None,
                        help="cluster kinds of the overhead benchmark: " + ", ".join(KINDS)
                             + " (default: both; only processes with --quick or --smoke)")
    parser.add_argument("--configs", type=_list, default=None,
                        help="configurations of the overhead benchmark (default: all of "
                             + ", ".join(configurations()) + ")")
    parser.add_argument("--workloads", type=_list, default=None,
                        help="workloads of the overhead benchmark, by name or letter "
                             "(a-map, b-array, c-tree, d-large; default: all)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="rounds of every configuration (default 3; 1 with --quick)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every task count by this (e.g. 0.2)")
    parser.add_argument("--yappi", action="store_true",
                        help="also profile the hot path with Yappi (a second run)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="write every measurement and summary as JSON to FILE")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where clusters, collectors and traces live (default: a temp dir)")
    arguments = parser.parse_args(argv)
    arguments.mode = "quick" if arguments.quick else "smoke" if arguments.smoke else "full"
    if arguments.repeats is None:
        arguments.repeats = 3 if arguments.mode == "full" else 1
    arguments.kinds = arguments.kinds or (list(KINDS) if arguments.mode == "full"
                                          else ["processes"])
    known = configurations()
    arguments.configs = arguments.configs or list(known)
    for name in arguments.configs:
        if name not in known:
            parser.error(f"unknown configuration {name!r}; choose from {', '.join(known)}")
    for name in arguments.benchmarks:
        if name not in BENCHMARKS:
            parser.error(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
    for name in arguments.kinds:
        if name not in KINDS:
            parser.error(f"unknown cluster kind {name!r}; choose from {', '.join(KINDS)}")
    return arguments


def select_workloads(workloads: list[Workload], wanted: list[str] | None) -> list[Workload]:
    """The *wanted* workloads (full names like ``c-tree`` or their letters); when ``None``,
    all but the optional ones."""
    if wanted is None:
        return [w for w in workloads if not w.optional]
    chosen = [w for w in workloads if w.name in wanted or w.name.split("-")[0] in wanted]
    known = {w.name for w in workloads} | {w.name.split("-")[0] for w in workloads}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise SystemExit(f"scripts/bench: unknown workload {unknown[0]!r}; choose from "
                         + ", ".join(w.name for w in workloads))
    return chosen


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": os.getloadavg(),
    }


def _say(text: str) -> None:
    print(text, flush=True)


def run_script(name: str, mode: str) -> dict[str, Any]:
    """Run ``benchmarks/<name>`` at the task counts of *mode*; its printed table."""
    script = REPO_ROOT / "benchmarks" / name
    tasks = CONVERTER_TASKS[mode]
    command = [sys.executable, str(script), *tasks]
    if name == "convert_bench.py" and mode != "full":
        command += ["--prov-limit", tasks[-1]]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    _say(done.stdout.rstrip())
    if done.returncode != 0:
        _say(done.stderr.rstrip()[-2000:])
    return {"command": " ".join(command[1:]), "returncode": done.returncode,
            "output": done.stdout}


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    mode, scale = arguments.mode, arguments.scale
    known = configurations()
    chosen = [known[name] for name in arguments.configs]
    results: dict[str, Any] = {
        "command": "scripts/bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "mode": mode, "scale": scale, "repeats": arguments.repeats,
        "configurations": {c.name: c.description for c in chosen},
        "machine": machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if any(c.otlp for c in chosen) or "delivery" in arguments.benchmarks:
        try:
            collector_binary()
        except CollectorUnavailableError as error:
            _say(f"no collector ({error}): leaving out the otlp configuration and delivery")
            chosen = [c for c in chosen if not c.otlp]
            arguments.benchmarks = [b for b in arguments.benchmarks if b != "delivery"]
            results["collector_unavailable"] = str(error)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="otel-dask-prov-bench-") as temporary:
        workdir = arguments.workdir or Path(temporary)
        idle_window = 1.5 if mode == "full" else 0.3
        if "overhead" in arguments.benchmarks:
            workloads = select_workloads(overhead_workloads(mode, scale), arguments.workloads)
            results["workloads"] = {w.name: w.description for w in workloads}
            measurements = run_overhead(arguments.kinds, chosen, workloads, arguments.repeats,
                                        workdir, idle_window, _say)
            rows = report.summarize_overhead(measurements)
            results["overhead"] = {"runs": [m.as_dict() for m in measurements], "summary": rows}
            _say("\n== overhead (ratios against no tracing; minima compared, medians beside)")
            _say(report.overhead_table(rows))
        if "memory" in arguments.benchmarks:
            memory_configs = [known["none"], known["file"]]
            runs = run_memory(memory_configs, tree_workload(mode, "memory", scale),
                              max(1, min(arguments.repeats, 2)), workdir, idle_window, _say)
            summary = report.summarize_memory(runs)
            results["memory"] = {"runs": [m.as_dict() for m in runs], "summary": summary}
            _say("\n== memory: scheduler RSS on the large run")
            _say(report.memory_table(summary))
        if "delivery" in arguments.benchmarks:
            delivered = run_delivery(known["otlp"], tree_workload(mode, "delivery", scale),
                                     workdir, _say)
            results["delivery"] = delivered.as_dict()
            _say("\n== delivery: spans at the collector")
            _say(report.delivery_table(delivered))
        if "hotpath" in arguments.benchmarks:
            hot = profile_hot_path(tree_workload(mode, "hotpath", scale), workdir, False, _say)
            results["hotpath"] = hot.as_dict()
            _say("\n== hot path: where tracing's time goes")
            _say(report.hotpath_text(hot))
            if arguments.yappi:  # a second run: Yappi inflates every timing of the first
                profiled = profile_hot_path(tree_workload(mode, "hotpath", scale), workdir,
                                            True, _say)
                results["hotpath_yappi"] = profiled.as_dict()
                _say("\n== hot path under Yappi (timings inflated; read the ranking)")
                _say(report.hotpath_text(profiled))
        if "converter" in arguments.benchmarks:
            _say("\n== converter (benchmarks/convert_bench.py)")
            results["converter"] = run_script("convert_bench.py", mode)
        if "report" in arguments.benchmarks:
            _say("\n== report (benchmarks/report_bench.py)")
            results["report"] = run_script("report_bench.py", mode)
    results["seconds"] = time.monotonic() - started
    results["load_average_after"] = os.getloadavg()
    _say(f"\nsuite took {results['seconds']:.0f} s; load average before "
         f"{results['machine']['load_average']}, after {results['load_average_after']}")
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
        _say(f"wrote {arguments.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
