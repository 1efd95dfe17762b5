"""``otel-prov demo``: trace a realistic workload on a real, local Dask cluster.

Starts ``dask scheduler`` and two ``dask worker`` processes with ``--preload
otel_dask_prov``, runs a dask.array computation, a delayed pipeline and a task
that fails once and succeeds on retry, stops the cluster (which flushes every
span), prints where the traces are with a summary, and writes the HTML report
of the run (``<workdir>/report.html``, :mod:`otel_dask_prov.report`). With no ``OTEL_*``
endpoint set, the traces are OTLP JSON lines files in ``<workdir>/traces``;
with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set they go to that collector instead.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import click

from ..errors import OtelDaskProvError
from ..report import write_report
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


@click.command(name="demo")
@click.option("--workdir", type=click.Path(path_type=Path), default=Path("otel-dask-prov-demo"),
              show_default=True, help="Where the cluster's logs and trace files go (emptied first).")
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True,
              help="Number of dask worker processes.")
def demo_command(workdir: Path, workers: int) -> None:
    """Trace a realistic workload on a local cluster and summarize the traces."""
    if workdir.exists():
        shutil.rmtree(workdir)
    cluster = DaskProcesses(workdir.resolve(), n_workers=workers)
    click.echo(f"starting dask scheduler and {workers} dask workers with --preload otel_dask_prov")
    started = time.monotonic()
    with cluster:
        results = run_workload(cluster)
        cluster.stop()
    click.echo(f"workload done in {time.monotonic() - started:.1f} s: {results}")
    if not any(cluster.trace_dir.glob("*.jsonl")):
        click.echo("no trace files were written locally: spans went to the OTLP endpoint "
                   "configured in the environment")
        return
    click.echo(f"traces: {cluster.trace_dir}/ (one OTLP JSON lines file per process)")
    for line in summarize([cluster.trace_dir]).lines():
        click.echo(f"  {line}")
    click.echo(f"logs: {cluster.log_dir}/")
    report = write_report([cluster.trace_dir], workdir / "report.html",
                          title="otel-prov demo: an array, a delayed pipeline and a retried task")
    click.echo(f"report: {report.output.resolve()} (open it in a browser)")
    click.echo(f"next: otel-prov convert {cluster.trace_dir} -o {workdir / 'provenance.json'}")
