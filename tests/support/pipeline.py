"""The workload that the end-to-end pipeline tests ship through collectors.

A delayed tree of seven tasks, submitted as one graph, so one trace::

    inc-0  inc-1  inc-2  inc-3
       \\    /       \\    /
       add-0         add-1
            \\       /
              total

:func:`run_tree` runs it on a :class:`~tests.support.cluster.DaskProcesses`
cluster and stops the cluster gracefully (every process flushes its spans);
:func:`assert_tree_trace` checks that a list of spans is exactly that trace
(:func:`tree_is_complete`: that they hold at least that trace).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import dask
from dask.utils import key_split

from otel_dask_prov import attributes as attr

from .cluster import DaskProcesses
from .collector import Collector, Runner
from .jaeger import Jaeger
from .traces import Span
from .workloads import add, inc, total

TREE_KEYS = ("inc-0", "inc-1", "inc-2", "inc-3", "add-0", "add-1", "total")
PREFIX_OF = {key: key_split(key) for key in TREE_KEYS}
TREE_RESULT = 1 + 2 + 3 + 4

RESOURCE_ATTRIBUTES = (attr.SERVICE_NAME, attr.SERVICE_INSTANCE_ID, attr.HOST_NAME, attr.PROCESS_PID)
"""Resource attributes every span must arrive with, whatever the route."""


def otlp_env(endpoint: str, protocol: str, **extra: str) -> dict[str, str]:
    """Environment of the Dask processes for exporting to *endpoint* with *protocol*.

    The collectors of the tests are on loopback: no proxy of the environment
    must stand in between (gRPC and requests both honour ``http_proxy``).
    """
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "no_proxy": "127.0.0.1,localhost",
        "NO_PROXY": "127.0.0.1,localhost",
        **extra,
    }


def run_tree(cluster: DaskProcesses) -> None:
    """Start *cluster*, compute the tree, check its result, stop the cluster gracefully."""
    with cluster:
        with cluster.client() as client:
            leaves = [dask.delayed(inc)(i, dask_key_name=f"inc-{i}") for i in range(4)]
            pairs = [
                dask.delayed(add)(leaves[0], leaves[1], dask_key_name="add-0"),
                dask.delayed(add)(leaves[2], leaves[3], dask_key_name="add-1"),
            ]
            tree = dask.delayed(total)(pairs, dask_key_name="total")
            assert client.compute(tree).result() == TREE_RESULT
        cluster.stop()


def tree_is_complete(spans: list[Span]) -> bool:
    """Whether *spans* hold at least the tree's trace: for waiting until a collector wrote it."""
    kinds = Counter(span.kind for span in spans)
    computed = sum(span.kind == attr.RECORD_TASK_PHASE and span.attributes[attr.PHASE_ACTION] == "compute"
                   for span in spans)
    return (kinds[attr.RECORD_COMPUTATION] >= 1 and kinds[attr.RECORD_TASK_ATTEMPT] >= len(TREE_KEYS)
            and kinds[attr.RECORD_TASK_EXECUTION] >= len(TREE_KEYS) and computed >= len(TREE_KEYS))


def assert_tree_trace(spans: list[Span], resource: Mapping[str, str] | None = None) -> str:
    """Assert that *spans* are exactly the tree's trace, each span once; return its trace id.

    Exactly: one ``dask.computation`` root (scheduler), one ``task <prefix>``
    span per key under it (scheduler), one ``execute <prefix>`` span per key
    under its task span (worker), and under each execution exactly one
    ``compute <prefix>`` span plus any other phase spans (transfers depend on
    which worker ran what).  Nothing else.  Every span carries
    :data:`RESOURCE_ATTRIBUTES` and the *resource* attributes a collector adds.
    """
    duplicated = [span_id for span_id, count in Counter(span.span_id for span in spans).items() if count > 1]
    assert not duplicated, f"spans delivered more than once: {duplicated}"
    by_id = {span.span_id: span for span in spans}
    kinds = Counter(span.kind for span in spans)
    assert kinds[attr.RECORD_COMPUTATION] == 1, kinds
    assert kinds[attr.RECORD_TASK_ATTEMPT] == len(TREE_KEYS), kinds
    assert kinds[attr.RECORD_TASK_EXECUTION] == len(TREE_KEYS), kinds
    assert set(kinds) == {
        attr.RECORD_COMPUTATION, attr.RECORD_TASK_ATTEMPT, attr.RECORD_TASK_EXECUTION, attr.RECORD_TASK_PHASE,
    }, kinds

    (root,) = [span for span in spans if span.kind == attr.RECORD_COMPUTATION]
    assert root.name == attr.COMPUTATION_SPAN_NAME
    assert root.parent_span_id is None
    assert root.service == attr.SCHEDULER_SERVICE
    assert {span.trace_id for span in spans} == {root.trace_id}

    attempts = {span.key: span for span in spans if span.kind == attr.RECORD_TASK_ATTEMPT}
    assert sorted(attempts) == sorted(TREE_KEYS)
    for key, attempt in attempts.items():
        assert attempt.name == attr.task_span_name(PREFIX_OF[key])
        assert attempt.parent_span_id == root.span_id
        assert attempt.service == attr.SCHEDULER_SERVICE

    executions = [span for span in spans if span.kind == attr.RECORD_TASK_EXECUTION]
    assert sorted(span.key for span in executions) == sorted(TREE_KEYS)
    for execution in executions:
        assert execution.name == attr.execution_span_name(PREFIX_OF[execution.key])
        assert execution.parent_span_id == attempts[execution.key].span_id
        assert execution.service == attr.WORKER_SERVICE

    compute_phases: Counter[str] = Counter()
    for phase in (span for span in spans if span.kind == attr.RECORD_TASK_PHASE):
        parent = by_id[phase.parent_span_id or ""]
        assert parent.kind == attr.RECORD_TASK_EXECUTION, f"{phase.name} is not under an execution span"
        action = phase.attributes[attr.PHASE_ACTION]
        assert phase.name == attr.phase_span_name(action, PREFIX_OF[parent.key])
        if action == "compute":
            compute_phases[parent.span_id] += 1
    assert compute_phases == Counter({execution.span_id: 1 for execution in executions})

    for span in spans:
        missing = [name for name in RESOURCE_ATTRIBUTES if name not in span.resource]
        assert not missing, f"{span.name} arrived without resource attributes {missing}"
        for name, value in (resource or {}).items():
            assert span.resource.get(name) == value, f"{span.name}: {name}={span.resource.get(name)!r}"
    return root.trace_id


def run_tree_into_jaeger(jaeger: Jaeger, otelcol_runner: Runner, workdir: Path) -> list[Span]:
    """Compute the tree through a collector of its own (``local.yaml``) that feeds *jaeger*.

    Returns every span the collector wrote (the collector is stopped, so that
    is all it accepted); the tree's trace is checked by :func:`assert_tree_trace`.
    """
    collector = Collector(
        otelcol_runner, "local.yaml", workdir / "collector",
        {"OTEL_DASK_PROV_JAEGER_ENDPOINT": jaeger.otlp_grpc_address},
    )
    collector.start()
    try:
        run_tree(DaskProcesses(workdir / "dask", n_workers=2, env=otlp_env(collector.grpc_endpoint, "grpc")))
    finally:
        collector.stop()
    return collector.spans()
