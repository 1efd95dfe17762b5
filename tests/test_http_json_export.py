"""``OTEL_EXPORTER_OTLP_PROTOCOL=http/json``: our own encoder straight to a real collector."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dask
import pytest

from otel_dask_prov import attributes as attr
from tests.support.cluster import DaskProcesses
from tests.support.collector import CollectorShare
from tests.support.traces import Span
from tests.support.workloads import inc, total

pytestmark = [pytest.mark.slow, pytest.mark.collector]


def test_http_json_delivers_the_same_spans_as_the_local_files(
    tmp_path: Path, collector: CollectorShare
) -> None:
    cluster = DaskProcesses(tmp_path / "dask", env={
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.http_endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        **collector.resource_env,
    })
    with cluster:
        with cluster.client() as client:
            leaves = [dask.delayed(inc)(i) for i in range(5)]
            assert client.compute(dask.delayed(total)(leaves)).result() == 15
        cluster.stop()
    expected_attempts = 6
    def complete(spans: list[Span]) -> bool:
        kinds = Counter(s.kind for s in spans)
        return (kinds[attr.RECORD_COMPUTATION] == 1
                and kinds[attr.RECORD_TASK_ATTEMPT] == kinds[attr.RECORD_TASK_EXECUTION]
                == expected_attempts)

    spans = collector.wait_for_spans(complete)
    assert not list(cluster.trace_dir.glob("*.jsonl*"))  # nothing went to local files
    by_id = {s.span_id: s for s in spans}
    executions = [s for s in spans if s.kind == attr.RECORD_TASK_EXECUTION]
    assert len(executions) == expected_attempts
    for execution in executions:
        assert by_id[execution.parent_span_id].kind == attr.RECORD_TASK_ATTEMPT
    root = next(s for s in spans if s.kind == attr.RECORD_COMPUTATION)
    assert root.resource[attr.SERVICE_NAME] == attr.SCHEDULER_SERVICE
    assert root.resource["deployment.environment.name"] == "local"  # added by the collector
    assert collector.spans() == spans
