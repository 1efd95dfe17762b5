"""Auto-instrumentation: ``opentelemetry-instrument dask scheduler|worker`` traces with no ``--preload``.

The end-to-end tests start the real ``opentelemetry-instrument`` command, which
finds :class:`~otel_dask_prov.capture.instrumentor.DaskInstrumentor` through the
``opentelemetry_instrumentor`` entry point of the installed package
(``pip install -e .``); the unit tests check the Dask config it writes.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import dask
import dask.config
import pytest
import tomllib

from otel_dask_prov import attributes as attr
from otel_dask_prov.capture.instrumentor import PRELOAD_MODULE, DaskInstrumentor, add_preload, remove_preload
from tests.support.cluster import REPO_ROOT, DaskProcesses, dask_command
from tests.support.traces import read_spans
from tests.support.workloads import add, inc


def opentelemetry_instrument() -> str:
    """The ``opentelemetry-instrument`` command of the interpreter running the tests."""
    candidate = Path(sys.executable).with_name("opentelemetry-instrument")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("opentelemetry-instrument")
    if found is None:
        pytest.skip("the opentelemetry-instrument command is missing (pip install opentelemetry-instrumentation)")
    return found


def instrumented(role: str) -> list[str]:
    """``opentelemetry-instrument dask <role>``."""
    return [opentelemetry_instrument(), *dask_command(), role]


def require_entry_point() -> None:
    registered = {ep.name: ep.value for ep in entry_points(group="opentelemetry_instrumentor")}
    if "dask" not in registered:
        pytest.skip("otel-dask-prov is not installed, so its entry point is not registered (pip install -e .)")


def tracing_plugins(cluster: DaskProcesses) -> tuple[list[str], dict[str, list[str]]]:
    """Names of the plugins on the scheduler and on each worker."""
    with cluster.client() as client:
        on_scheduler = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.plugins))
        on_workers = client.run(lambda dask_worker: sorted(dask_worker.plugins))
    return on_scheduler, on_workers


def tracebacks_through_tracing(logs: str) -> list[str]:
    """The tracebacks in *logs* that pass through OpenTelemetry or this package.

    Dask itself may log one when a worker closes while the scheduler still
    writes to it (``CommClosedError`` in ``batched.py``, seen under load); that
    is not the instrumentation's doing.
    """
    blocks = re.findall(r"Traceback \(most recent call last\):\n(?:[ \t].*\n)*.*", logs)
    return [block for block in blocks if re.search(r"opentelemetry|otel_dask_prov", block)]


# ---------------------------------------------------------------------------
# The real command
# ---------------------------------------------------------------------------
def test_the_package_registers_its_instrumentor() -> None:
    require_entry_point()
    registered = {ep.name: ep for ep in entry_points(group="opentelemetry_instrumentor")}
    assert registered["dask"].load() is DaskInstrumentor


@pytest.mark.slow
def test_opentelemetry_instrument_traces_scheduler_and_nanny_workers(tmp_path: Path) -> None:
    require_entry_point()
    cluster = DaskProcesses(
        tmp_path, n_workers=2, nanny=True, preload=False,
        scheduler_command=instrumented("scheduler"), worker_command=instrumented("worker"),
        env={"OTEL_TRACES_EXPORTER": "none"},
    )
    with cluster:
        on_scheduler, on_workers = tracing_plugins(cluster)
        with cluster.client() as client:
            leaves = [dask.delayed(inc)(i, dask_key_name=f"inc-{i}") for i in range(2)]
            result = dask.delayed(add)(*leaves, dask_key_name="add")
            assert client.compute(result).result() == 3
        cluster.stop()

    assert "otel-dask-prov" in on_scheduler
    assert len(on_workers) == 2 and all("otel-dask-prov" in names for names in on_workers.values())
    spans = read_spans([cluster.trace_dir])
    services = {span.service for span in spans}
    assert services == {attr.SCHEDULER_SERVICE, attr.WORKER_SERVICE}, cluster.logs()
    attempts = {span.key for span in spans if span.kind == attr.RECORD_TASK_ATTEMPT}
    executions = {span.key for span in spans if span.kind == attr.RECORD_TASK_EXECUTION}
    assert attempts == executions == {"inc-0", "inc-1", "add"}
    assert len({span.trace_id for span in spans}) == 1
    logs = cluster.logs()
    assert not re.search(r"Failed to auto initialize|Instrumenting of dask failed", logs)
    assert not tracebacks_through_tracing(logs)


@pytest.mark.slow
def test_disabling_the_instrumentation_by_name_leaves_dask_untraced(tmp_path: Path) -> None:
    require_entry_point()
    cluster = DaskProcesses(
        tmp_path, n_workers=1, preload=False,
        scheduler_command=instrumented("scheduler"), worker_command=instrumented("worker"),
        env={"OTEL_TRACES_EXPORTER": "none", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "dask"},
    )
    with cluster:
        on_scheduler, on_workers = tracing_plugins(cluster)
    assert "otel-dask-prov" not in on_scheduler
    assert all("otel-dask-prov" not in names for names in on_workers.values())


# ---------------------------------------------------------------------------
# What instrument() / uninstrument() do to the Dask config
# ---------------------------------------------------------------------------
@pytest.fixture
def instrumentor() -> Iterator[DaskInstrumentor]:
    keys = ("distributed.scheduler", "distributed.worker", "distributed.diagnostics.computations")
    saved = {key: dask.config.get(key) for key in keys}
    instance = DaskInstrumentor()
    try:
        yield instance
    finally:
        instance.uninstrument()
        dask.config.set(saved)


def test_instrument_adds_the_preload_for_scheduler_and_worker_and_uninstrument_removes_it(
    instrumentor: DaskInstrumentor,
) -> None:
    with dask.config.set({"distributed.scheduler.preload": ["my_setup"],
                          "distributed.diagnostics.computations.nframes": 0}):
        instrumentor.instrument()
        assert dask.config.get("distributed.scheduler.preload") == ["my_setup", PRELOAD_MODULE]
        assert dask.config.get("distributed.worker.preload") == [PRELOAD_MODULE]
        assert dask.config.get("distributed.nanny.preload") == []
        assert dask.config.get("distributed.diagnostics.computations.nframes") == 1

        instrumentor.uninstrument()
        assert dask.config.get("distributed.scheduler.preload") == ["my_setup"]
        assert dask.config.get("distributed.worker.preload") == []
        assert dask.config.get("distributed.diagnostics.computations.nframes") == 0


def test_instrumenting_twice_preloads_once(instrumentor: DaskInstrumentor) -> None:
    instrumentor.instrument()
    DaskInstrumentor().instrument()  # a singleton: the second call is a no-op
    updates = add_preload(dask.config.get("distributed.worker"), "worker")
    assert updates == {}
    assert dask.config.get("distributed.worker.preload").count(PRELOAD_MODULE) == 1


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        pytest.param({"preload": [], "preload-argv": []},
                     {"distributed.worker.preload": [PRELOAD_MODULE]}, id="nothing-before"),
        pytest.param({"preload": "my_setup", "preload-argv": []},
                     {"distributed.worker.preload": ["my_setup", PRELOAD_MODULE]}, id="single-string"),
        pytest.param({"preload": ["a", "b"], "preload-argv": ["--flag"]},
                     {"distributed.worker.preload": ["a", "b", PRELOAD_MODULE],
                      "distributed.worker.preload-argv": [["--flag"], ["--flag"], []]},
                     id="flat-argv-is-split-so-ours-gets-none"),
        pytest.param({"preload": ["a"], "preload-argv": [["--x", "1"]]},
                     {"distributed.worker.preload": ["a", PRELOAD_MODULE],
                      "distributed.worker.preload-argv": [["--x", "1"], []]},
                     id="argv-per-preload"),
    ],
)
def test_the_preload_argv_stays_aligned_with_the_preloads(section: dict[str, Any], expected: dict[str, Any]) -> None:
    assert add_preload(section, "worker") == expected
    after = {"preload": expected["distributed.worker.preload"],
             "preload-argv": expected.get("distributed.worker.preload-argv", section["preload-argv"])}
    removed = remove_preload(after, "worker")
    assert removed["distributed.worker.preload"] == [p for p in after["preload"] if p != PRELOAD_MODULE]


def test_the_preloads_argv_list_works_with_dask(tmp_path: Path) -> None:
    from distributed.preloading import process_preloads

    module = tmp_path / "my_setup.py"
    module.write_text("import click\n@click.command()\n@click.option('--flag', is_flag=True)\n"
                      "def dask_setup(server, flag):\n    server.flag = flag\n")
    updates = add_preload({"preload": [str(module)], "preload-argv": ["--flag"]}, "worker")
    manager = process_preloads(object(), updates["distributed.worker.preload"],  # type: ignore[arg-type]
                               updates["distributed.worker.preload-argv"])
    assert [preload.argv for preload in manager] == [["--flag"], []]


def test_instrumentation_dependencies_follow_the_declared_lower_bound() -> None:
    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    distributed = next(dep for dep in declared if re.match(r"distributed\b", dep))
    bound = re.search(r">=\s*([0-9.]+)", distributed)
    assert bound is not None
    assert list(DaskInstrumentor().instrumentation_dependencies()) == [f"distributed >= {bound.group(1)}"]
