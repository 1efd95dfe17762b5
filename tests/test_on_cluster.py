"""``--scheduler``: convert, export and report as Dask computations on a real cluster.

A ``LocalCluster`` of two worker processes (one thread each) stands for the
user's cluster: the scan runs as one task per file, the conversion as one task
per part of the traces. The results must be those of one process: the same
PROV document byte for byte, the same rows, the same report totals.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from distributed import LocalCluster

from otel_dask_prov.cli import main
from otel_dask_prov.convert import convert
from otel_dask_prov.convert.partitions import close_order, split
from otel_dask_prov.convert.pipeline import run
from otel_dask_prov.convert.run_summary import RunSummaryWriter
from otel_dask_prov.convert.scan import scan
from otel_dask_prov.errors import OptionError
from otel_dask_prov.export.line_encoding import LineEncoding
from otel_dask_prov.query import export
from tests.support.synthetic_traces import START, SyntheticTask, stream_many

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
RECORDED = [FIXTURES / name for name in ("plain", "retry", "erred", "worker-killed", "fused",
                                         "provenance")]
"""Runs recorded from real clusters: retries, errors, a lost worker, tuple keys, files."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as local:
        yield local.scheduler_address


@pytest.fixture(scope="module")
def many_small_traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 computations of two tasks submitted 50 ms apart, a task of one in 50 failing
    and retried: lines hold the spans of many traces, as a submit-heavy client's do."""
    directory = tmp_path_factory.mktemp("many")
    handles: dict[str, Any] = {}

    def write_line(name: str, line: str) -> None:
        if name not in handles:
            handles[name] = (directory / name).open("w", encoding="utf-8")
        handles[name].write(line)

    rng = random.Random(7)
    computations = []
    for number in range(3000):
        load = SyntheticTask(f"load-{number:x}")
        failing = rng.random() < 0.02
        process = SyntheticTask(f"process-{number:x}", (load.key,), failures=int(failing),
                                retries=int(failing))
        computations.append(([load, process], START + number * 0.05))
    stream_many(computations, write_line, workers=3, seed=7, batch=256)
    for handle in handles.values():
        handle.close()
    return directory


def inputs(many_small_traces: Path) -> list[str]:
    return [str(path) for path in (*RECORDED, many_small_traces)]


@pytest.mark.parametrize("format_name", ["json", "provn"])
def test_the_document_is_the_one_a_single_process_writes(
        cluster: str, many_small_traces: Path, tmp_path: Path, format_name: str) -> None:
    alone = convert(inputs(many_small_traces), tmp_path / f"alone.{format_name}", parallel=False)
    parted = convert(inputs(many_small_traces), tmp_path / f"cluster.{format_name}",
                     scheduler=cluster)
    assert (tmp_path / f"cluster.{format_name}").read_bytes() == \
        (tmp_path / f"alone.{format_name}").read_bytes()
    assert (parted.traces, parted.records) == (alone.traces, alone.records)
    assert not list(tmp_path.glob(".otel-prov-parts-*")), "the part files are removed"


def test_the_index_is_cut_between_traces_in_the_order_bundles_are_written(
        many_small_traces: Path) -> None:
    index = scan([many_small_traces])
    try:
        parts = list(split(index, 8))
        assert len(parts) == 8
        order = close_order(index)
        assert [trace for part in parts for trace in part.traces.ids] == \
            [index.traces.ids[position] for position in order]
        for part in parts:  # each part holds its traces' units and no other
            assert set(part.pair_trace) == set(range(len(part.traces)))
            assert set(part.pair_unit) == set(range(len(part.unit_time)))
    finally:
        index.cleanup()


def test_the_export_has_the_rows_of_a_single_process(
        cluster: str, many_small_traces: Path, tmp_path: Path) -> None:
    alone = export(inputs(many_small_traces), tmp_path / "alone", run="r", parallel=False)
    parted = export(inputs(many_small_traces), tmp_path / "cluster", run="r", scheduler=cluster)
    assert parted.rows == alone.rows
    assert parted.rows["computations"] > 3000
    for table in alone.rows:
        one = pq.read_table(tmp_path / "alone" / table / "run=r")
        other = pq.read_table(tmp_path / "cluster" / table / "run=r")
        order = [(name, "ascending") for name in one.column_names
                 if not str(one.schema.field(name).type).startswith("list")]
        assert other.sort_by(order).equals(one.sort_by(order)), table
    assert len(list((tmp_path / "cluster" / "attempts" / "run=r").iterdir())) > 2, \
        "a file per part"
    assert not list((tmp_path / "cluster").glob(".*")), "nothing staged is left"


def summarize(paths: list[str], scheduler: str | None, work: Path,
              attempts_kept: int) -> dict[str, Any]:
    summary = RunSummaryWriter(attempts_kept=attempts_kept)
    run(list(paths), lambda: summary, False, parallel=False, scheduler=scheduler, work=work)
    data = summary.data()
    names = [group["name"] for group in data["groups"]]
    totals = {name: value for name, value in data["run"].items() if name != "threads"}
    return {
        "run": totals,
        "groups": sorted(data["groups"], key=lambda group: group["name"]),
        "edges": sorted((names[a], names[b], count) for a, b, count in data["group_edges"]),
        "processes": sorted(process["id"] for process in data["processes"]),
        "failed": sorted(attempt["id"] for attempt in data["attempts"]
                         if attempt["outcome"] not in ("success", "memory")),
        "kept": len(data["attempts"]),
        "computations": len(data["computations"]),
    }


def test_the_report_is_the_one_of_a_single_process(
        cluster: str, many_small_traces: Path, tmp_path: Path) -> None:
    everything = 1_000_000
    alone = summarize(inputs(many_small_traces), None, tmp_path, everything)
    parted = summarize(inputs(many_small_traces), cluster, tmp_path, everything)
    assert parted == alone


def test_the_report_joins_the_samples_of_the_parts(
        cluster: str, many_small_traces: Path, tmp_path: Path) -> None:
    """Sampled, the attempts shown differ from run to run, the totals do not: the
    threads of the timeline are those of the attempts shown."""
    alone = summarize(inputs(many_small_traces), None, tmp_path, 500)
    parted = summarize(inputs(many_small_traces), cluster, tmp_path, 500)
    assert parted == alone
    assert alone["kept"] == 500 + len(alone["failed"]), "a sample, and every failure"


def test_the_commands_take_the_scheduler(cluster: str, many_small_traces: Path,
                                         tmp_path: Path) -> None:
    for arguments in (["convert", *inputs(many_small_traces), "-o", str(tmp_path / "run.json")],
                      ["export", *inputs(many_small_traces), "-o", str(tmp_path / "dataset")],
                      ["report", *inputs(many_small_traces), "-o", str(tmp_path / "run.html")]):
        assert main([*arguments, "--scheduler", cluster, "-q"]) == 0
    assert (tmp_path / "run.html").stat().st_size > 100_000


def test_what_cannot_run_on_a_cluster_says_so(cluster: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(OptionError, match="--scheduler converts to json or provn, not flattened"):
        convert(RECORDED, tmp_path / "flat.json", flatten=True, scheduler=cluster)
    with pytest.raises(OptionError, match="json or provn"):
        convert(RECORDED, tmp_path / "run.xml", scheduler=cluster)
    assert main(["convert", *map(str, RECORDED), "-o", str(tmp_path / "run.json"),
                 "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not (tmp_path / "run.json").exists()


def test_zstd_trace_files_convert_on_the_cluster_as_in_one_process(
        cluster: str, many_small_traces: Path, tmp_path: Path) -> None:
    """The local default's files: zstd frames, read in place by the cluster's workers too."""
    encoding = LineEncoding("jsonl.zst")
    compressed = tmp_path / "zstd"
    compressed.mkdir()
    for path in sorted(many_small_traces.iterdir()):
        with path.open(encoding="utf-8") as lines:
            (compressed / f"{path.stem}.jsonl.zst").write_bytes(
                b"".join(encoding.encode(line) for line in lines))
    alone = convert([str(compressed)], tmp_path / "alone.json", parallel=False)
    parted = convert([str(compressed)], tmp_path / "cluster.json", scheduler=cluster)
    assert (tmp_path / "cluster.json").read_bytes() == (tmp_path / "alone.json").read_bytes()
    assert (parted.traces, parted.records) == (alone.traces, alone.records)
    assert alone.traces >= 3000
