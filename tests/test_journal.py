"""The record journal on its own: frames, segments, commits, provisional records, recovery.

Unit tests of our own logic; the fault tests with real Dask processes are in
``test_durable_capture.py``.
"""

from __future__ import annotations

import logging
import marshal
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from distributed.utils_test import captured_logger

from otel_dask_prov.capture.records import AttemptRecord, ComputationRecord
from otel_dask_prov.export.journal import Journal, dead_journals
from otel_dask_prov.export.span_pipeline import recover_journal
from otel_dask_prov.settings import resolve_settings
from tests.support.traces import read_spans

RESOURCE = {"service.name": "dask-worker", "dask.worker.address": "tcp://127.0.0.1:1"}


def attempt(number: int, key: str = "inc-1") -> AttemptRecord:
    record = AttemptRecord(7, 8, key, "inc", "inc-1", number, 1000.0 + number)
    record.span_id = 100 + number
    record.outcome = "success"
    record.state = "memory"
    record.dependencies = [(("x", 0), (7, 5)), ("y", None)]
    record.transitions = [(1000.0, "released", "waiting", None)]
    return record


def journal_in(tmp_path: Path, max_bytes: int = 1 << 20, name: str = "proc") -> Journal:
    return Journal(tmp_path / "journal", RESOURCE, max_bytes, name)


def die(journal: Journal) -> None:
    """What the kernel does when the owning process is killed: its descriptors close."""
    journal._close_files()


def test_a_dead_journal_gives_back_what_was_not_committed(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    positions = [journal.append(attempt(n)) for n in range(1, 6)]
    journal.commit(positions[1])  # the first two were delivered
    assert list(dead_journals(tmp_path / "journal")) == [], "a live journal is never taken"
    die(journal)
    (dead,) = dead_journals(tmp_path / "journal")
    entries = dead.records()
    pending = [record.number for position, record, _ in entries if position > dead.committed]
    assert pending == [3, 4, 5]
    restored = entries[0][1]
    assert restored.to_span_data()[0].links == attempt(1).to_span_data()[0].links


def test_a_torn_last_frame_is_skipped_and_counted(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    journal.append(attempt(1))
    journal.append(attempt(2))
    die(journal)
    segment = next((tmp_path / "journal" / "proc").glob("*.seg"))
    data = bytearray(segment.read_bytes())
    end = len(data.rstrip(b"\0"))
    data[end - 5:end] = bytes(5)  # killed while copying the second record
    segment.write_bytes(bytes(data))
    (dead,) = dead_journals(tmp_path / "journal")
    assert [record.number for _, record, _ in dead.records()] == [1]
    assert dead.torn_frames == 1


def test_segments_roll_over_and_committed_ones_are_deleted(tmp_path: Path) -> None:
    journal = journal_in(tmp_path, max_bytes=16384)  # segments of 4096 bytes
    computation = ComputationRecord(7, 99, None, 1000.0, "Client-1", 50, ["inc-1"])
    computation.unfinished = True
    journal.append(computation, provisional=True)
    last = 0
    for number in range(1, 40):
        last = journal.append(attempt(number)) or last
        journal.commit(last)
    segments = sorted((tmp_path / "journal" / "proc").glob("*.seg"))
    assert len(segments) == 1 and segments[0].name != "000001.seg"
    die(journal)
    (dead,) = dead_journals(tmp_path / "journal")
    provisional = [record for _, record, is_provisional in dead.records() if is_provisional]
    assert [record.span_id for record in provisional] == [99], "open computations follow segments"


def test_recovery_delivers_each_record_once_and_finishes_open_computations(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    open_one = ComputationRecord(7, 99, None, 1000.0, "Client-1", 2, ["inc-1"])
    open_one.unfinished = True
    journal.append(open_one, provisional=True)
    journal.append(attempt(1))
    journal.append(attempt(2))
    die(journal)
    settings = resolve_settings(output_dir=tmp_path / "out", journal_dir=tmp_path / "journal")
    (dead,) = dead_journals(tmp_path / "journal")
    assert recover_journal(dead, settings).records == 3
    assert list(dead_journals(tmp_path / "journal")) == []
    spans = read_spans([tmp_path / "out"])
    assert sorted(span.name for span in spans) == ["dask.computation", "task inc", "task inc"]
    (computation,) = [span for span in spans if span.name == "dask.computation"]
    assert computation.attributes["dask.task.outcome"] == "unfinished"
    assert computation.end == int(1002.0 * 1e9), "ends with the last record of the dead process"


def test_a_record_with_a_value_marshal_cannot_write_is_kept_in_memory_and_counted(
    tmp_path: Path,
) -> None:
    journal = journal_in(tmp_path)
    record = attempt(1)
    record.priority = (object(),)
    with captured_logger("otel_dask_prov", logging.WARNING) as log:
        assert journal.append(record) == 0
        assert journal.append(record) == 0
    assert journal.unjournaled == 2
    assert log.getvalue().count("kept in memory only") == 1


def test_journals_of_other_hosts_are_left_to_otel_prov_replay(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    journal.append(attempt(1))
    die(journal)
    meta = tmp_path / "journal" / "proc" / "meta"
    meta.write_bytes(marshal.dumps({"host": "another-node", "pid": 1, "resource": RESOURCE}))
    assert list(dead_journals(tmp_path / "journal")) == []
    (dead,) = dead_journals(tmp_path / "journal", any_host=True)
    dead.release()


def test_a_journal_held_by_a_live_process_is_not_taken(tmp_path: Path) -> None:
    journal = journal_in(tmp_path)
    journal.append(attempt(1))
    die(journal)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
         str(tmp_path / "journal" / "proc" / "lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert list(dead_journals(tmp_path / "journal")) == []
    finally:
        holder.kill()
        holder.wait()
    assert len(list(dead_journals(tmp_path / "journal"))) == 1


@pytest.mark.parametrize("garbage", [b"", b"not marshal"])
def test_a_directory_without_a_readable_meta_is_skipped_with_one_line(
    tmp_path: Path, garbage: bytes
) -> None:
    broken = tmp_path / "journal" / "broken"
    broken.mkdir(parents=True)
    (broken / "lock").touch()
    (broken / "meta").write_bytes(garbage)
    with captured_logger("otel_dask_prov", logging.WARNING) as log:
        assert list(dead_journals(tmp_path / "journal")) == []
    assert "not a journal" in log.getvalue()
    assert os.path.isdir(broken), "left for a person to look at"


def test_a_segment_that_cannot_be_made_costs_one_warning_and_is_counted(tmp_path: Path) -> None:
    journal = journal_in(tmp_path, max_bytes=16384)  # segments of 4096 bytes
    shutil.rmtree(tmp_path / "journal" / "proc")  # no new segment can be made there
    (tmp_path / "journal" / "proc").write_text("not a directory any more")
    with captured_logger("otel_dask_prov", logging.WARNING) as log:
        positions = [journal.append(attempt(number)) for number in range(1, 40)]
    assert 0 in positions, "records past the first segment are kept in memory only"
    assert journal.unjournaled == positions.count(0)
    assert log.getvalue().count("cannot write the journal") == 1


def test_segments_start_small_and_double_so_a_quiet_process_reserves_little_disk(
    tmp_path: Path,
) -> None:
    journal = journal_in(tmp_path, max_bytes=1 << 30)  # the default bound
    for number in range(1, 6000):  # ~1.6 MB of attempt records
        assert journal.append(attempt(number))
    sizes = sorted(path.stat().st_size for path in (tmp_path / "journal" / "proc").glob("*.seg"))
    assert sizes == [1 << 20, 2 << 20]


def test_records_journaled_while_the_exporter_process_was_dead_are_exported_after_all(
    tmp_path: Path,
) -> None:
    from opentelemetry.sdk.resources import Resource

    from otel_dask_prov.export.span_pipeline import EXPORTER_RESTARTS, SpanPipeline

    settings = resolve_settings(output_dir=tmp_path / "out", export_interval=0.1)
    pipeline = SpanPipeline(settings, Resource(RESOURCE))
    pipeline.start()
    number = 0
    for _ in range(EXPORTER_RESTARTS + 1):  # the last death makes this process export itself
        process = pipeline._exporter_process
        assert process is not None
        process.kill()
        process.wait()
        for _ in range(5):  # journaled while no exporter process reads the journal
            number += 1
            pipeline.put(attempt(number, key=f"inc-{number}"))
        deadline = time.monotonic() + 10
        while pipeline._exporter_process is process:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    for _ in range(5):
        number += 1
        pipeline.put(attempt(number, key=f"inc-{number}"))
    pipeline.shutdown()
    keys = [span.key for span in read_spans([tmp_path / "out"])]
    assert sorted(keys) == sorted(f"inc-{n}" for n in range(1, number + 1))
