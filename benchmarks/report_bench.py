"""How big ``otel-prov report`` pages get, how long they take to write, and to open.

For each task count, on the synthetic map-and-reduce computation of
``benchmarks/convert_bench.py`` (the files the plugins would write):

* writes the report in a fresh process: wall and CPU seconds (all processes),
  peak RSS (the sum of the peaks of all processes), and the page's size;
* opens it in headless Chromium (Debian's ``chromium``, driven by Playwright)
  from ``file://``: the seconds from navigation to the page's
  ``window.reportReady`` (everything drawn), as the page's own clock counts
  them, and the browser's JavaScript heap then.

Target (issue 14): a 1M-task run's report opens in under 5 s, at a bounded size,
written in bounded memory.

    python benchmarks/report_bench.py 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.convert_bench import traces_for  # noqa: E402

_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from otel_dask_prov.report import write_report
start = time.perf_counter()
result = write_report([{traces!r}], {output!r})
seconds = time.perf_counter() - start
own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({{"seconds": seconds, "size": result.size, "attempts": result.attempts,
                  "shown": result.attempts_shown,
                  "cpu": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
                  "peak": (own.ru_maxrss + children.ru_maxrss) * 1024}}))
"""


def write(traces: Path, output: Path) -> dict[str, Any]:
    """Write the report of *traces* in a fresh process; its measurements."""
    code = _CHILD.format(root=str(ROOT), traces=str(traces), output=str(output))
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def open_time(page_path: Path, repeats: int = 3) -> dict[str, Any]:
    """Seconds from navigation to ``reportReady`` in headless Chromium (best and median)."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        return {"skipped": "chromium is not on PATH (apt-get install chromium)"}
    times = []
    heap = 0.0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=["--no-sandbox"])
        try:
            for _ in range(repeats):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
                page.goto(page_path.resolve().as_uri(), timeout=120_000)
                page.wait_for_function("window.reportReady === true", timeout=120_000)
                times.append(page.evaluate("performance.now()") / 1000)
                heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
                if errors:
                    raise RuntimeError(f"the page failed: {errors[0]}")
                page.close()
        finally:
            browser.close()
    times.sort()
    return {"best": times[0], "median": times[len(times) // 2], "heap": heap}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tasks", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/otel-prov-bench"))
    arguments = parser.parse_args()
    arguments.workdir.mkdir(parents=True, exist_ok=True)
    print(f"{'tasks':>9} {'attempts':>9} {'shown':>6} {'write s':>8} {'cpu s':>7} "
          f"{'peak MiB':>9} {'page MiB':>9} {'open s':>7} {'heap MiB':>9}")
    for tasks in arguments.tasks:
        traces = traces_for(tasks, arguments.workdir)
        output = arguments.workdir / f"report-{tasks}.html"
        written = write(traces, output)
        opened = open_time(output)
        print(f"{tasks:>9} {written['attempts']:>9} {written['shown']:>6} "
              f"{written['seconds']:>8.1f} {written['cpu']:>7.1f} "
              f"{written['peak'] / 2**20:>9.0f} {written['size'] / 2**20:>9.1f} "
              f"{opened.get('median', float('nan')):>7.2f} "
              f"{opened.get('heap', 0) / 2**20:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
