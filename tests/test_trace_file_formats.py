"""Every trace file format gives the same provenance, read by content whatever its name.

The collector's file (``tests/fixtures/traces/formats/collector.jsonl``) is
written again here in each format a trace file can have: the zstd frames of our
local files (``trace_file_format: jsonl.zst``), and the length-prefixed messages
of the collector's file exporter with ``format: proto`` and/or ``compression:
zstd`` (4-byte big-endian length, then the message, compressed alone). The real
collector writing those is tried in ``tests/test_pipeline_collector.py``. A file
cut inside a frame converts up to the cut with a warning; damaged data before the
end is an error naming the file and the byte offset.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from click.testing import CliRunner
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_dask_prov import attributes as attr
from otel_dask_prov.cli import cli
from otel_dask_prov.convert import to_document
from otel_dask_prov.export.line_encoding import LineEncoding
from tests.support.synthetic_traces import generate, map_reduce
from tests.support.trace_files import otlp_requests
from tests.test_convert_inputs import bundles

COLLECTOR_FILE = Path(__file__).parent / "fixtures" / "traces" / "formats" / "collector.jsonl"
LINES = [line + "\n" for line in COLLECTOR_FILE.read_text().splitlines() if line.strip()]
BATCHES = [line for lines in generate(map_reduce(40), seed=1).values() for line in lines]
"""Many lines (batches of spans), to cut and damage between them."""


def zstd_frames(lines: list[str]) -> bytes:
    """Our local default: one zstd frame per line."""
    encoding = LineEncoding("jsonl.zst")
    return b"".join(encoding.encode(line) for line in lines)


def protobuf(line: str) -> bytes:
    """One OTLP JSON line as the serialized ``ExportTraceServiceRequest`` the collector writes."""
    request = json.loads(line)
    for resource_spans in request["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for item in (span, *span.get("links", ())):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if item.get(key):  # protobuf's JSON mapping has bytes in base64
                            item[key] = base64.b64encode(bytes.fromhex(item[key])).decode()
    message: Any = json_format.ParseDict(request, ExportTraceServiceRequest())
    return bytes(message.SerializeToString())


def length_prefixed(messages: list[bytes]) -> bytes:
    return b"".join(len(message).to_bytes(4, "big") + message for message in messages)


def compressed(message: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(message)


FORMATS: dict[str, Callable[[list[str]], bytes]] = {
    "local jsonl.zst": zstd_frames,
    "collector json + zstd": lambda lines: length_prefixed(
        [compressed(line.encode().rstrip(b"\n")) for line in lines]),
    "collector proto": lambda lines: length_prefixed([protobuf(line) for line in lines]),
    "collector proto + zstd": lambda lines: length_prefixed(
        [compressed(protobuf(line)) for line in lines]),
}


@pytest.fixture(scope="module")
def reference() -> dict[str, set[str]]:
    return bundles(to_document([COLLECTOR_FILE]))


@pytest.mark.parametrize("name", FORMATS)
def test_each_format_converts_to_the_same_bundles(
        name: str, reference: dict[str, set[str]], tmp_path: Path) -> None:
    path = tmp_path / "traces.bin"  # read by content, not by name
    path.write_bytes(FORMATS[name](LINES))
    assert bundles(to_document([path])) == reference


@pytest.mark.parametrize("name", FORMATS)
def test_cat_prints_each_format_as_otlp_json_lines(name: str, tmp_path: Path) -> None:
    path = tmp_path / "traces.bin"
    path.write_bytes(FORMATS[name](LINES))
    result = CliRunner().invoke(cli, ["cat", str(path)])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout_bytes.decode().splitlines()]
    assert printed == [json.loads(line) for line in LINES] or name.startswith("collector proto")
    # protobuf's JSON drops empty values and writes 64-bit integers as strings: compare spans
    assert ([span["spanId"] for request in printed for rs in request["resourceSpans"]
             for ss in rs["scopeSpans"] for span in ss["spans"]]
            == [span["spanId"] for line in LINES for rs in json.loads(line)["resourceSpans"]
                for ss in rs["scopeSpans"] for span in ss["spans"]])


def test_a_directory_finds_the_local_zstd_files(reference: dict[str, set[str]], tmp_path: Path) -> None:
    (tmp_path / "dask-scheduler-host-1-20261205T000000.jsonl.zst").write_bytes(zstd_frames(LINES))
    assert bundles(to_document([tmp_path])) == reference
    assert otlp_requests(tmp_path / "dask-scheduler-host-1-20261205T000000.jsonl.zst") == [
        json.loads(line) for line in LINES]


def run_convert(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "otel_dask_prov.cli", "convert", *arguments,
                           "-o", "run.json"], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", ["local jsonl.zst", "collector proto + zstd"])
def test_a_file_cut_inside_a_frame_converts_up_to_the_cut(name: str, tmp_path: Path) -> None:
    whole = FORMATS[name](BATCHES[:-1])
    last = FORMATS[name](BATCHES[-1:])
    (tmp_path / "cut.bin").write_bytes(whole + last[:len(last) // 2])
    (tmp_path / "whole.bin").write_bytes(whole)
    done = run_convert("cut.bin", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cut.bin" in done.stderr and "(was the writer stopped mid-write?)" in done.stderr
    assert bundles(to_document([tmp_path / "cut.bin"])) == bundles(to_document([tmp_path / "whole.bin"]))


@pytest.mark.parametrize(("name", "message"), [
    ("local jsonl.zst", "damaged zstd frame"),
    ("collector proto + zstd", "damaged message"),
])
def test_damaged_data_in_the_middle_names_the_file_and_byte(name: str, message: str, tmp_path: Path) -> None:
    first = FORMATS[name](BATCHES[:1])
    second = bytearray(FORMATS[name](BATCHES[1:2]))
    second[len(second) // 2:len(second) // 2 + 16] = bytes(16)
    (tmp_path / "damaged.bin").write_bytes(first + bytes(second) + FORMATS[name](BATCHES[2:]))
    done = run_convert("damaged.bin", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"otel-prov: damaged.bin: byte {len(first)}: {message}"), done.stderr
    assert "Traceback" not in done.stderr
    cat = subprocess.run([sys.executable, "-m", "otel_dask_prov.cli", "cat", "damaged.bin"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert cat.returncode == 2
    assert cat.stderr.strip().splitlines() == [done.stderr.strip().splitlines()[0]]


@pytest.mark.parametrize(("trace_file_format", "suffix"), [("jsonl", ".jsonl"), ("jsonl.zst", ".jsonl.zst")])
def test_the_setting_chooses_what_the_exporter_processes_write(
        trace_file_format: str, suffix: str, tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    import otel_dask_prov
    from tests.support.traces import read_spans
    from tests.support.workloads import inc

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as local, Client(local) as client:
        otel_dask_prov.install(client, output_dir=str(tmp_path), trace_file_format=trace_file_format)
        assert client.gather(client.map(inc, range(10))) == list(range(1, 11))
    files = sorted(tmp_path.glob("*.jsonl*"))
    assert [path.name.endswith(suffix) for path in files] == [True, True]  # scheduler, worker
    plain = [path.read_bytes().startswith(b"{") for path in files]
    assert plain == [trace_file_format == "jsonl"] * 2
    assert sum(span.kind == attr.RECORD_TASK_ATTEMPT for span in read_spans([tmp_path])) == 10


def test_report_and_export_read_the_local_zstd_files(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    pytest.importorskip("duckdb")
    traces = tmp_path / "traces"
    traces.mkdir()
    (traces / "dask-scheduler-host-1-20261205T000000.jsonl.zst").write_bytes(zstd_frames(BATCHES))
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "dask-scheduler-host-1-20261205T000000.jsonl").write_text("".join(BATCHES))
    runner = CliRunner()
    for directory in (traces, plain):
        report = runner.invoke(cli, ["report", str(directory), "-o", str(tmp_path / f"{directory.name}.html")])
        assert report.exit_code == 0, report.output
        export = runner.invoke(cli, ["export", str(directory), "-o", str(tmp_path / f"{directory.name}-dataset")])
        assert export.exit_code == 0, export.output
    assert sorted(p.name for p in (tmp_path / "traces-dataset").iterdir()) == sorted(
        p.name for p in (tmp_path / "plain-dataset").iterdir())
    import pyarrow.parquet

    attempts = [sum(pyarrow.parquet.ParquetFile(part).metadata.num_rows
                    for part in (tmp_path / f"{name}-dataset" / "attempts").rglob("*.parquet"))
                for name in ("traces", "plain")]
    assert attempts[0] == attempts[1] > 0
    assert (tmp_path / "traces.html").stat().st_size > 0


def test_cat_of_a_missing_file_says_so_in_one_line(tmp_path: Path) -> None:
    cat = subprocess.run([sys.executable, "-m", "otel_dask_prov.cli", "cat", "missing.jsonl.zst"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert cat.returncode == 2
    assert cat.stderr == "otel-prov: missing.jsonl.zst: cannot read: No such file or directory\n"


def test_skip_invalid_converts_what_came_before_damaged_data(tmp_path: Path) -> None:
    first = FORMATS["local jsonl.zst"](BATCHES[:1])
    rest = bytearray(FORMATS["local jsonl.zst"](BATCHES[1:]))
    rest[20:36] = bytes(16)
    (tmp_path / "damaged.bin").write_bytes(first + bytes(rest))
    (tmp_path / "first.bin").write_bytes(first)
    done = run_convert("--skip-invalid", "damaged.bin", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"damaged.bin: byte {len(first)}: damaged zstd frame" in done.stderr
    assert "converted what came before, skipped the rest" in done.stderr
    assert (bundles(to_document([tmp_path / "damaged.bin"], skip_invalid=True))
            == bundles(to_document([tmp_path / "first.bin"])))


WRITER = """
import sys
from pathlib import Path

from otel_dask_prov.export import otlp_json, otlp_logs
from otel_dask_prov.export.jsonl_files import JsonLinesExporter
from otel_dask_prov.export.line_encoding import LineEncoding
from tests.support.span_batches import recorded_batches

batches = recorded_batches()
resource = batches[0][0]
exporter = JsonLinesExporter(Path(sys.argv[1]), otlp_json.resource_prefix(resource),
                             otlp_logs.logs_prefix(resource), LineEncoding("jsonl.zst"))
print("writing", flush=True)
while True:
    for _, spans in batches:
        exporter.export_data(spans)
"""


def test_a_writer_killed_mid_run_leaves_a_file_that_reads_to_its_last_frame(tmp_path: Path) -> None:
    path = tmp_path / "killed.jsonl.zst"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                              cwd=Path(__file__).parent.parent)
    try:
        assert writer.stdout is not None and writer.stdout.readline() == b"writing\n"
        while not path.exists() or path.stat().st_size < 2 << 20:
            assert writer.poll() is None, "the writer stopped by itself"
            time.sleep(0.01)
        writer.kill()  # SIGKILL, wherever it is
    finally:
        writer.kill()
        writer.wait()
    frames = len(otlp_requests(path))
    assert frames > 100
    done = run_convert("killed.jsonl.zst", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_the_spill_bound_counts_bytes_on_disk(tmp_path: Path) -> None:
    from otel_dask_prov.export import otlp_json, otlp_logs
    from otel_dask_prov.export.jsonl_files import SpillFile
    from tests.support.span_batches import recorded_batches

    batches = recorded_batches()
    resource = batches[0][0]
    plain_size = sum(len(otlp_json.encode_line(otlp_json.resource_prefix(resource), spans).encode())
                     for _, spans in batches)
    spill = SpillFile(tmp_path / "dask-worker.spill.jsonl.zst", otlp_json.resource_prefix(resource),
                      otlp_logs.logs_prefix(resource), plain_size // 2, LineEncoding("jsonl.zst"))
    for _, spans in batches:
        spill.add(spans)
    spill.close()
    assert spill.dropped == 0  # half the JSON's size holds all of it compressed
    assert spill.spilled == sum(len(spans) for _, spans in batches)
    assert (tmp_path / "dask-worker.spill.jsonl.zst").stat().st_size <= plain_size // 2
    small = SpillFile(tmp_path / "small.spill.jsonl.zst", otlp_json.resource_prefix(resource),
                      otlp_logs.logs_prefix(resource), 2000, LineEncoding("jsonl.zst"))
    for _, spans in batches:
        small.add(spans)
    small.close()
    assert small.dropped > 0
    assert (tmp_path / "small.spill.jsonl.zst").stat().st_size <= 2000
