"""Dask processes -> OTLP -> our collector -> trace file, against the real binaries.

The scheduler and two workers run as separate processes with
``--preload otel_dask_prov`` and the standard ``OTEL_EXPORTER_OTLP_*``
variables; the collector runs ``collector-config/local.yaml`` (one tier) or
``agent.yaml`` in front of ``gateway.yaml`` (two tiers, TLS and a bearer token
between them).  Each test checks that the trace file holds exactly the trace
of the workload, with its resource attributes.  The one-tier test uses the
session's collector (its spans told apart by their ``service.namespace``); the
two tiers are started for their test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from otel_dask_prov import attributes as attr
from otel_dask_prov.convert import to_document
from tests.support.cluster import DaskProcesses
from tests.support.collector import Collector, CollectorShare, Runner
from tests.support.jaeger import Jaeger, same_trace_id
from tests.support.pipeline import assert_tree_trace, otlp_env, run_tree, tree_is_complete
from tests.support.tls import make_tls_material

pytestmark = [pytest.mark.collector, pytest.mark.slow]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_spans_reach_the_trace_file_through_the_collector(
    protocol: str, collector: CollectorShare, tmp_path: Path
) -> None:
    endpoint = collector.grpc_endpoint if protocol == "grpc" else collector.http_endpoint
    env = otlp_env(endpoint, protocol, **collector.resource_env)
    cluster = DaskProcesses(tmp_path / "dask", n_workers=2, env=env)

    run_tree(cluster)

    spans = collector.wait_for_spans(tree_is_complete)
    assert_tree_trace(spans, {attr.DEPLOYMENT_ENVIRONMENT_NAME: "local"})  # local.yaml's default
    assert not list(cluster.trace_dir.rglob("*.jsonl*")), "spans were spilled instead of delivered"


@pytest.mark.jaeger
def test_an_agent_forwards_to_a_gateway_that_writes_the_file_and_feeds_jaeger(
    start_collector: Callable[..., Collector], jaeger: Jaeger, tmp_path: Path
) -> None:
    tls = make_tls_material(tmp_path / "tls")
    token = "agent-to-gateway-token"
    gateway = start_collector(
        "gateway.yaml",
        {
            "OTEL_DASK_PROV_TLS_CERT_FILE": str(tls.server_cert),
            "OTEL_DASK_PROV_TLS_KEY_FILE": str(tls.server_key),
            "OTEL_DASK_PROV_BEARER_TOKEN": token,
            "OTEL_DASK_PROV_JAEGER_ENDPOINT": jaeger.otlp_grpc_address,
        },
        name="gateway",
    )
    agent = start_collector(
        "agent.yaml",
        {
            "OTEL_DASK_PROV_GATEWAY_ENDPOINT": f"127.0.0.1:{gateway.grpc_port}",
            "OTEL_DASK_PROV_GATEWAY_CA_FILE": str(tls.ca_cert),
            "OTEL_DASK_PROV_BEARER_TOKEN": token,
            "OTEL_DASK_PROV_ENVIRONMENT": "two-tier-test",
        },
        name="agent",
    )
    cluster = DaskProcesses(tmp_path / "dask", n_workers=2, env=otlp_env(agent.grpc_endpoint, "grpc"))

    run_tree(cluster)
    agent.stop()  # drains its queue into the gateway
    gateway.stop()  # writes the file and drains its queue into Jaeger

    assert not agent.traces_file.exists(), "the agent keeps nothing on disk"
    spans = gateway.spans()
    trace_id = assert_tree_trace(spans, {attr.DEPLOYMENT_ENVIRONMENT_NAME: "two-tier-test"})
    in_jaeger = jaeger.wait_for_trace(
        attr.WORKER_SERVICE,
        lambda trace: same_trace_id(trace["traceID"], trace_id) and len(trace["spans"]) == len(spans),
    )
    assert {span["spanID"] for span in in_jaeger["spans"]} == {span.span_id for span in spans}


def test_the_collectors_protobuf_file_converts_like_its_json(otelcol_runner: Runner, tmp_path: Path) -> None:
    """``format: proto`` (with local.yaml's ``compression: zstd``): length-prefixed,
    zstd-compressed ``ExportTraceServiceRequest`` messages, read by content."""
    collector = Collector(otelcol_runner, "local.yaml", tmp_path / "collector",
                          overrides={"exporters.file.format": "proto"})
    collector.start()
    try:
        cluster = DaskProcesses(tmp_path / "dask", n_workers=2,
                                env=otlp_env(collector.grpc_endpoint, "grpc"))
        run_tree(cluster)
    finally:
        collector.stop()

    assert collector.traces_file.read_bytes()[4:8] == b"\x28\xb5\x2f\xfd"  # a zstd frame
    assert_tree_trace(collector.spans(), {attr.DEPLOYMENT_ENVIRONMENT_NAME: "local"})
    document = to_document([collector.traces_file])
    assert len(list(document.bundles)) == 1
