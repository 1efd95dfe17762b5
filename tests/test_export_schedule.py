"""When the export thread works: in the quiet intervals, within bounds while busy.

Building and encoding spans holds the GIL that Dask's event loop needs, so a
busy process (records still arriving) holds its export back, up to
``max_export_delay`` seconds or ``BUSY_BACKLOG`` records.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from otel_dask_prov.capture.resource import build_resource
from otel_dask_prov.export.span_data import SpanData
from otel_dask_prov.export.span_pipeline import SpanPipeline
from otel_dask_prov.settings import BUSY_BACKLOG, resolve_settings


class NoSpans:
    """A record that builds no span: the pipeline's counters say when it was drained."""

    def to_span_data(self) -> list[SpanData]:
        return []


def pipeline(tmp_path: Path, **settings: object) -> SpanPipeline:
    resolved = resolve_settings(output_dir=str(tmp_path), export_interval=0.05, **settings)
    return SpanPipeline(resolved, build_resource("worker", resolved))


def produce(into: SpanPipeline, seconds: float) -> int:
    """Put a record every millisecond for *seconds*, as a busy scheduler does; how many."""
    count, until = 0, time.monotonic() + seconds
    while time.monotonic() < until:
        into.put(NoSpans())
        count += 1
        time.sleep(0.001)
    return count


def test_records_still_arriving_are_held_back_within_the_bounds(tmp_path: Path) -> None:
    held = pipeline(tmp_path, max_export_delay=30.0)
    assert held._hold_back(queued=100, seen=50, waited=1.0)  # busy: wait
    assert not held._hold_back(queued=100, seen=100, waited=1.0)  # quiet: export
    assert not held._hold_back(queued=100, seen=50, waited=30.0)  # waited long enough
    assert not held._hold_back(queued=BUSY_BACKLOG, seen=50, waited=1.0)  # too many waiting
    on_schedule = pipeline(tmp_path, max_export_delay=0)
    assert not on_schedule._hold_back(queued=100, seen=50, waited=0.5)


def test_a_busy_process_exports_by_the_delay_bound_and_everything_once_quiet(
        tmp_path: Path) -> None:
    busy = pipeline(tmp_path, max_export_delay=0.3)
    busy.start()
    put = produce(busy, 1.5)
    assert busy.stats.records > 0  # exported while still busy: the delay bound
    deadline = time.monotonic() + 10
    while busy.stats.records < put and time.monotonic() < deadline:
        time.sleep(0.02)
    assert busy.stats.records == put  # quiet again: all of it
    busy.shutdown()


def test_shutdown_exports_what_was_held_back(tmp_path: Path) -> None:
    busy = pipeline(tmp_path, max_export_delay=1000.0)
    busy.start()
    producer_put: list[int] = []
    producer = threading.Thread(target=lambda: producer_put.append(produce(busy, 0.5)))
    producer.start()
    producer.join()
    stats = busy.shutdown()
    assert stats.records == producer_put[0]
