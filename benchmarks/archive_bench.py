"""Archives of many traces: ``convert``, ``report`` and ``export`` in bounded memory.

A submit-heavy client makes one small computation per ``client.submit``, so its
archive holds many small traces; issue 15 asks for 10M spans of real structure,
including 1M+ small traces, under 1 GiB per process on 2 cores. The archive here
is the synthetic files the plugins would write (``tests/support/synthetic_traces``):
*N* computations of two tasks each (``load-i``, then ``process-i`` on its result),
submitted 50 ms apart, through one span pipeline per process (4 workers), so a line
holds the spans of the traces that ended since the line before; ``--with-large``
adds the 1M-task map and reduction of ``benchmarks/convert_bench.py``.

    python benchmarks/archive_bench.py 100000
    python benchmarks/archive_bench.py 1000000 --with-large
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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


if __name__ == "__main__":
    small_traces_for(int(sys.argv[1]), Path("/tmp/otel-prov-bench"))
