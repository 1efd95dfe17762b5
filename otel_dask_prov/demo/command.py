"""``otel-prov demo``: trace a realistic workload on a real, local Dask cluster.

Starts ``dask scheduler`` and two ``dask worker`` processes with ``--preload
otel_dask_prov``, runs a dask.array computation, a delayed pipeline and a task
that fails once and succeeds on retry, stops the cluster (which flushes every
span), prints where the traces are with a summary, and writes the HTML report
of the run (``<workdir>/report.html``, :mod:`otel_dask_prov.report`). With no ``OTEL_*``
endpoint set, the traces are OTLP JSON lines files in ``<workdir>/traces``;
with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set they go to that collector instead.

With ``--jaeger`` (from a source checkout) the demo builds, or finds in its
cache, the real OpenTelemetry Collector, Jaeger and Jaeger's web UI
(:mod:`otel_dask_prov.demo.jaeger_services`), starts them, traces the workload
through the collector into Jaeger, prints the UI address of each computation's
trace and keeps both services up until Ctrl-C.
"""

from __future__ import annotations

import shutil
import time
from collections import defaultdict
from pathlib import Path

import click

from .. import attributes as attr
from ..convert.readers import decode_attributes, file_spans
from ..errors import OtelDaskProvError
from ..report import write_report
from . import jaeger_services
from .local_cluster import DaskProcesses
from .trace_summary import summarize


def load_partition(index: int) -> list[float]:
    """A partition of made-up measurements."""
    return [((index * 7919 + i * 104729) % 1000) / 10.0 for i in range(5000)]


def clean(values: list[float]) -> list[float]:
    """Drop the outliers."""
    return [value for value in values if 1.0 <= value <= 99.0]


def partition_mean(values: list[float]) -> tuple[float, int]:
    return sum(values), len(values)


def combine(parts: list[tuple[float, int]]) -> float:
    total = sum(part[0] for part in parts)
    count = sum(part[1] for part in parts)
    return total / count


def flaky_download(marker: str) -> str:
    """Fails on its first call, as a download from a busy server might."""
    path = Path(marker)
    if not path.exists():
        path.write_text("tried once")
        raise ConnectionError("server busy, try again")
    return "downloaded"


def run_workload(cluster: DaskProcesses) -> dict[str, object]:
    """The demo's three computations; returns their results."""
    try:
        import dask.array as da
    except ImportError as error:  # numpy missing
        raise OtelDaskProvError(
            f"the demo needs dask.array ({error}); install it with: pip install 'otel-dask-prov[demo]'"
        ) from None
    import dask

    results: dict[str, object] = {}
    # the client sends the code that submits each computation (the report shows it)
    with dask.config.set({"distributed.diagnostics.computations.nframes": 1}), \
            cluster.client() as client:
        x = da.random.default_rng(42).random((2000, 2000), chunks=(500, 500))
        results["array"] = float((x + x.T).mean(axis=0).sum().compute())

        parts = [dask.delayed(partition_mean)(dask.delayed(clean)(dask.delayed(load_partition)(i)))
                 for i in range(8)]
        results["pipeline"] = client.compute(dask.delayed(combine)(parts)).result()

        marker = cluster.workdir / "flaky-download.marker"
        marker.unlink(missing_ok=True)
        results["retry"] = client.submit(flaky_download, str(marker), retries=2).result()
    return results


REPORT_TITLE = "otel-prov demo: an array, a delayed pipeline and a retried task"


@click.command(name="demo")
@click.option("--workdir", type=click.Path(path_type=Path), default=Path("otel-dask-prov-demo"),
              show_default=True, help="Where the cluster's logs and trace files go (emptied first).")
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True,
              help="Number of dask worker processes.")
@click.option("--jaeger", "with_jaeger", is_flag=True,
              help="Build (cached) and start the OpenTelemetry Collector and Jaeger with its web UI, "
                   "trace through them, print each computation's address in the UI and keep them up "
                   "until Ctrl-C. Needs the source checkout, Go, Node and npm.")
@click.option("--jaeger-port", type=click.IntRange(0, 65535), default=16686, show_default=True,
              help="Port of Jaeger's UI with --jaeger (any free port if it is taken, or 0).")
def demo_command(workdir: Path, workers: int, with_jaeger: bool, jaeger_port: int) -> None:
    """Trace a realistic workload on a local cluster and summarize the traces."""
    if workdir.exists():
        shutil.rmtree(workdir)
    if with_jaeger:
        demo_with_jaeger(workdir, workers, jaeger_port)
        return
    cluster = DaskProcesses(workdir.resolve(), n_workers=workers)
    click.echo(f"starting dask scheduler and {workers} dask workers with --preload otel_dask_prov")
    started = time.monotonic()
    with cluster:
        results = run_workload(cluster)
        cluster.stop()
    click.echo(f"workload done in {time.monotonic() - started:.1f} s: {results}")
    if not any(cluster.trace_dir.glob("*.jsonl*")):
        click.echo("no trace files were written locally: spans went to the OTLP endpoint "
                   "configured in the environment")
        return
    click.echo(f"traces: {cluster.trace_dir}/ (one zstd-compressed OTLP JSON lines file per "
               "process; `otel-prov cat FILE` prints one)")
    for line in summarize([cluster.trace_dir]).lines():
        click.echo(f"  {line}")
    click.echo(f"logs: {cluster.log_dir}/")
    report = write_report([cluster.trace_dir], workdir / "report.html", title=REPORT_TITLE)
    click.echo(f"report: {report.output.resolve()} (open it in a browser)")
    click.echo(f"next: otel-prov convert {cluster.trace_dir} -o {workdir / 'provenance.json'}")


def demo_with_jaeger(workdir: Path, workers: int, jaeger_port: int) -> None:
    """The demo through the real collector into Jaeger; Jaeger's UI stays up until Ctrl-C."""
    workdir = workdir.resolve()
    click.echo("building (or finding in the cache) the collector, Jaeger and Jaeger's UI")
    services = jaeger_services.prepare(workdir, jaeger_port)
    click.echo(f"built or found in {services.build_seconds:.1f} s")
    services.start()
    try:
        click.echo(f"collector: {services.otlp_grpc_endpoint} (OTLP/gRPC), writing {services.traces_file}")
        click.echo(f"Jaeger UI: {services.ui_url}/")
        cluster = DaskProcesses(workdir, n_workers=workers, env=services.dask_env)
        click.echo(f"starting dask scheduler and {workers} dask workers with --preload otel_dask_prov, "
                   "exporting to the collector")
        started = time.monotonic()
        with cluster:
            results = run_workload(cluster)
            cluster.stop()  # every span is flushed to the collector, which wrote it before acknowledging
        click.echo(f"workload done in {time.monotonic() - started:.1f} s: {results}")
        computations = computations_in(services.traces_file)
        in_jaeger = services.wait_for_traces({c.trace_id: c.spans for c in computations})
        click.echo(f"computations in Jaeger ({len(computations)} traces; open one in a browser):")
        for computation in computations:
            missing = computation.spans - in_jaeger[computation.trace_id]
            note = f"; only {in_jaeger[computation.trace_id]} in Jaeger yet" if missing > 0 else ""
            click.echo(f"  {services.trace_url(computation.trace_id)}")
            click.echo(f"      {computation.describe()}{note}")
        click.echo(f"search: {services.ui_url}/search?service={attr.SCHEDULER_SERVICE}"
                   f"&operation={attr.COMPUTATION_SPAN_NAME}")
        for line in summarize([services.traces_file]).lines():
            click.echo(f"  {line}")
        report = write_report([services.traces_file], workdir / "report.html", title=REPORT_TITLE)
        click.echo(f"report: {report.output} (the same traces as the collector wrote them)")
        click.echo(f"logs: {cluster.log_dir}/")
        click.echo("the collector and Jaeger keep running: press Ctrl-C to stop them")
        reason = jaeger_services.serve_until_interrupted(services)
        click.echo(f"{reason}: stopping the collector and Jaeger")
    finally:
        services.stop()


class Computation:
    """What the collector's file says of one computation's trace."""

    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id
        self.spans = 0
        self.start = 0
        self.end = 0
        self.tasks = 0
        self.prefixes: list[str] = []
        self.submitted_at = ""

    def describe(self) -> str:
        seconds = (self.end - self.start) / 1e9
        what = ", ".join(self.prefixes[:4]) + (", ..." if len(self.prefixes) > 4 else "")
        where = f", submitted at {self.submitted_at}" if self.submitted_at else ""
        return f"{self.spans} spans, {self.tasks} tasks ({what}), {seconds:.2f} s{where}"


def computations_in(traces_file: Path) -> list[Computation]:
    """The computations (traces with a ``dask.computation`` root) of *traces_file*, by start time."""
    traces: dict[str, Computation] = defaultdict(lambda: Computation(""))
    for _, span in file_spans([traces_file]):
        computation = traces[span.trace_id or ""]
        computation.trace_id = (span.trace_id or "").lower()
        computation.spans += 1
        if span.name == attr.COMPUTATION_SPAN_NAME:
            attributes = decode_attributes(span.attributes)
            computation.start = int(span.start_time_unix_nano or 0)
            computation.end = int(span.end_time_unix_nano or 0)
            computation.tasks = int(attributes.get(attr.COMPUTATION_TASK_COUNT) or 0)
            computation.prefixes = [str(prefix) for prefix in attributes.get(attr.COMPUTATION_PREFIXES) or ()]
            filename = attributes.get(attr.COMPUTATION_CODE_FILENAME)
            if filename:
                line = attributes.get(attr.COMPUTATION_CODE_LINENO)
                computation.submitted_at = f"{Path(filename).name}:{line}"
    return sorted((c for c in traces.values() if c.start), key=lambda c: c.start)
