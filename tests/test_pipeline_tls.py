"""Exporting to a collector that wants TLS and a bearer token (``gateway.yaml``).

The test makes its own certificate authority and server certificate; the Dask
processes trust it through ``OTEL_EXPORTER_OTLP_CERTIFICATE`` and authenticate
with ``OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20<token>``.  With the
right token every span arrives; with a wrong one the collector refuses them,
the computation still completes with the right result, and the refused spans
are kept in the processes' spill files rather than lost.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cluster import DaskProcesses
from tests.support.collector import Collector
from tests.support.pipeline import assert_tree_trace, otlp_env, run_tree
from tests.support.tls import TLSMaterial, make_tls_material
from tests.support.traces import read_spans

pytestmark = [pytest.mark.collector, pytest.mark.slow]

TOKEN = "the-gateway-token"
REFUSAL = {
    "grpc": "(UNAUTHENTICATED: ",
    "http/protobuf": "(HTTP 401 Unauthorized)",
    "http/json": "(HTTP 401 Unauthorized)",
}
"""The reason the pipeline logs when the collector refuses the token (our exporters' ``last_error``)."""


@pytest.fixture
def tls(tmp_path: Path) -> TLSMaterial:
    return make_tls_material(tmp_path / "tls")


@pytest.fixture
def gateway(start_collector: Callable[..., Collector], tls: TLSMaterial) -> Collector:
    """A gateway of the test's own: it checks the token, and a test stops it to read its file."""
    return start_collector(
        "gateway.yaml",
        {
            "OTEL_DASK_PROV_TLS_CERT_FILE": str(tls.server_cert),
            "OTEL_DASK_PROV_TLS_KEY_FILE": str(tls.server_key),
            "OTEL_DASK_PROV_BEARER_TOKEN": TOKEN,
        },
        name="gateway",
    )


def secured_cluster(
    workdir: Path, gateway: Collector, tls: TLSMaterial, protocol: str, token: str
) -> DaskProcesses:
    endpoint = gateway.grpc_endpoint if protocol == "grpc" else gateway.http_endpoint
    assert endpoint.startswith("https://")
    env = otlp_env(
        endpoint,
        protocol,
        OTEL_EXPORTER_OTLP_CERTIFICATE=str(tls.ca_cert),
        OTEL_EXPORTER_OTLP_HEADERS=f"authorization=Bearer%20{token}",
    )
    return DaskProcesses(workdir, n_workers=2, env=env)


# http/json too: our own exporter must trust the configured CA as well.
PROTOCOLS = ["grpc", "http/protobuf", "http/json"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_spans_arrive_over_tls_with_the_right_token(
    protocol: str, gateway: Collector, tls: TLSMaterial, tmp_path: Path
) -> None:
    cluster = secured_cluster(tmp_path / "dask", gateway, tls, protocol, TOKEN)

    run_tree(cluster)
    gateway.stop()

    assert_tree_trace(gateway.spans())
    assert not list(cluster.trace_dir.rglob("*.jsonl*")), f"spans were spilled:\n{cluster.logs()}"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_wrong_token_is_refused_and_the_computation_still_completes(
    protocol: str, gateway: Collector, tls: TLSMaterial, tmp_path: Path
) -> None:
    cluster = secured_cluster(tmp_path / "dask", gateway, tls, protocol, "not-the-token")

    run_tree(cluster)  # asserts the result
    gateway.stop()

    assert gateway.spans() == []
    assert REFUSAL[protocol] in cluster.logs()  # refused for the token, not for TLS
    assert_tree_trace(read_spans([cluster.trace_dir]))  # every refused span was spilled
