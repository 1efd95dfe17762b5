"""Our own OTLP senders (gRPC, HTTP/protobuf) against the real collector, and the SDK's.

``grpc`` and ``http/protobuf`` are sent by default with our protobuf encoder and
senders (``otlp_exporter = "native"``); the OpenTelemetry SDK's exporters stay
selectable (``"sdk"``). The same spans (made with the plugins' records) are
sent both ways to the session's collector, under two ``service.namespace``
values, and must arrive the same, compressed or not. A collector that is not
there, or never answers, makes an export return ``False`` within its timeout
with a reason, with no retries and no sleeps (the pipeline spills and tries
again later); one that comes back is reached by the next export. TLS with a
bearer token: ``tests/test_pipeline_tls.py`` runs the Dask processes with
these senders, and the senders are checked here on their own.
"""

from __future__ import annotations

import base64
import dataclasses
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner
from opentelemetry.sdk.resources import Resource

from otel_dask_prov import attributes as attr
from otel_dask_prov.cli import cli
from otel_dask_prov.export import otlp_json
from otel_dask_prov.export.exporters import OtlpExporter, SdkExporter, create_exporter
from otel_dask_prov.export.span_data import SpanData
from otel_dask_prov.settings import Settings, resolve_settings
from tests.support.collector import SERVICE_NAMESPACE, Collector, CollectorShare, free_ports
from tests.support.span_batches import synthetic_batches
from tests.support.synthetic_traces import SyntheticTask, map_reduce
from tests.support.tls import make_tls_material
from tests.support.traces import Span

PROTOBUF_PROTOCOLS = ["grpc", "http/protobuf"]
TASKS = [*map_reduce(40, fan_in=5), SyntheticTask("div-1", failures=1),
         SyntheticTask("flaky-1", failures=1, retries=1)]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The collectors are on loopback: no proxy of the environment may stand in between."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def settings_for(endpoint: str, protocol: str, **options: Any) -> Settings:
    """Settings from these values alone (not from this machine's environment)."""
    return resolve_settings({}, endpoint=endpoint, protocol=protocol, **options)


def batches_for(namespace: str) -> list[tuple[Resource, list[SpanData]]]:
    """The synthetic run's batches, each process's resource in *namespace*."""
    return [(Resource({**attributes, SERVICE_NAMESPACE: namespace}), spans)
            for attributes, spans in synthetic_batches(TASKS, workers=2, seed=3, batch=64)]


def send(settings: Settings, batches: list[tuple[Resource, list[SpanData]]]) -> type:
    """Export every batch with the exporter *settings* choose; return its type."""
    kinds = set()
    for resource, spans in batches:
        exporter = create_exporter(settings, resource)
        kinds.add(type(exporter))
        try:
            assert exporter.export_data(spans), getattr(exporter, "last_error", "")
        finally:
            exporter.shutdown()
    (kind,) = kinds
    return kind


def comparable(spans: list[Span]) -> dict[str, Span]:
    """The spans by id, without the namespace that tells the two routes apart."""
    return {span.span_id: dataclasses.replace(
        span, resource={k: v for k, v in span.resource.items() if k != SERVICE_NAMESPACE})
        for span in spans}


# -- which exporter ------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf", "http/json"])
def test_our_senders_are_the_default_and_the_sdk_is_a_setting_away(
        protocol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    resource = Resource({attr.SERVICE_NAME: "dask-worker"})
    native = create_exporter(settings_for("http://127.0.0.1:4317", protocol), resource)
    assert isinstance(native, OtlpExporter)
    monkeypatch.setenv("OTEL_DASK_PROV_OTLP_EXPORTER", "sdk")
    chosen = create_exporter(resolve_settings(endpoint="http://127.0.0.1:4317", protocol=protocol),
                             resource)
    # http/json has no SDK exporter: it is always ours
    assert isinstance(chosen, OtlpExporter if protocol == "http/json" else SdkExporter)
    for exporter in (native, chosen):
        exporter.shutdown()


# -- no collector --------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf", "http/json"])
def test_an_unreachable_collector_fails_at_once_with_a_reason(protocol: str) -> None:
    (nobody,) = free_ports(1)
    exporter = create_exporter(settings_for(f"http://127.0.0.1:{nobody}", protocol, timeout=10),
                               Resource({attr.SERVICE_NAME: "dask-worker"}))
    (_, spans), *_ = synthetic_batches(TASKS[:3])
    try:
        for _ in range(2):  # and again, as the pipeline's next probe would
            started = time.monotonic()
            assert exporter.export_data(spans) is False
            assert time.monotonic() - started < 1.0  # no retries, no back-off sleeps
            reason = getattr(exporter, "last_error", "")
            if protocol == "grpc":
                assert reason.startswith("UNAVAILABLE: failed to connect"), reason
            else:
                assert "Connection refused" in reason, reason
    finally:
        exporter.shutdown()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_collector_that_never_answers_costs_one_timeout(protocol: str, silent_port: int) -> None:
    exporter = create_exporter(settings_for(f"http://127.0.0.1:{silent_port}", protocol, timeout=0.5),
                               Resource({attr.SERVICE_NAME: "dask-worker"}))
    (_, spans), *_ = synthetic_batches(TASKS[:3])
    try:
        started = time.monotonic()
        assert exporter.export_data(spans) is False
        assert 0.4 < time.monotonic() - started < 2.0
        reason = getattr(exporter, "last_error", "")
        assert reason.startswith("DEADLINE_EXCEEDED") if protocol == "grpc" else "timed out" in reason
    finally:
        exporter.shutdown()


class _Proxy(socketserver.StreamRequestHandler):
    """Records the head of each request; answers 204 to a request, 403 to a CONNECT."""

    heads: ClassVar[list[str]] = []

    def handle(self) -> None:
        lines = []
        while (line := self.rfile.readline().decode("latin-1").rstrip("\r\n")):
            lines.append(line)
        self.heads.append("\n".join(lines))
        refused = lines[0].startswith("CONNECT")
        self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n" if refused
                         else b"HTTP/1.1 204 No Content\r\n\r\n")


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """An HTTP proxy named by ``http_proxy`` and ``https_proxy``: the heads of what it got."""
    _Proxy.heads = []
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Proxy) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        address = f"http://user:p%40ss@127.0.0.1:{server.server_address[1]}"
        for name in ("http_proxy", "https_proxy"):
            monkeypatch.setenv(name, address)
        monkeypatch.setenv("no_proxy", "localhost")
        monkeypatch.setenv("NO_PROXY", "localhost")
        yield _Proxy.heads
        server.shutdown()


def test_http_goes_through_the_proxy_of_the_environment(proxy: list[str]) -> None:
    (_, spans), *_ = synthetic_batches(TASKS[:3])
    resource = Resource({attr.SERVICE_NAME: "dask-worker"})
    plain = create_exporter(settings_for("http://collector.invalid:4318", "http/protobuf"), resource)
    assert plain.export_data(spans), getattr(plain, "last_error", "")
    secure = create_exporter(settings_for("https://collector.invalid:4318", "http/protobuf"), resource)
    assert not secure.export_data(spans)  # the proxy refuses the tunnel
    assert "403" in getattr(secure, "last_error", "")
    credentials = "Proxy-Authorization: Basic " + base64.b64encode(b"user:p@ss").decode()
    assert proxy[0].splitlines()[0] == "POST http://collector.invalid:4318/v1/traces HTTP/1.1"
    assert credentials in proxy[0].splitlines()
    assert proxy[1].splitlines()[0].startswith("CONNECT collector.invalid:4318 HTTP/")
    assert credentials in proxy[1].splitlines()


# -- the real collector --------------------------------------------------------------------
@pytest.mark.collector
@pytest.mark.parametrize("compression", ["none", "gzip"])
@pytest.mark.parametrize("protocol", PROTOBUF_PROTOCOLS)
def test_our_senders_deliver_what_the_sdk_delivers(
        protocol: str, compression: str, collector: CollectorShare) -> None:
    via_sdk = CollectorShare(collector.collector, collector.namespace + "-sdk")
    endpoint = collector.grpc_endpoint if protocol == "grpc" else collector.http_endpoint
    native = batches_for(collector.namespace)
    expected = sum(len(spans) for _, spans in native)

    assert send(settings_for(endpoint, protocol, compression=compression), native) is OtlpExporter
    assert send(settings_for(endpoint, protocol, compression=compression, otlp_exporter="sdk"),
                batches_for(via_sdk.namespace)) is SdkExporter

    ours = collector.wait_for_spans(lambda spans: len(spans) >= expected)
    theirs = via_sdk.wait_for_spans(lambda spans: len(spans) >= expected)
    assert len(ours) == len(theirs) == expected  # each span once
    assert comparable(ours) == comparable(theirs)
    sent = {f"{span.span_id:016x}" for _, spans in native for span in spans}
    assert set(comparable(ours)) == sent
    kinds = {span.kind for span in ours}
    assert kinds == {attr.RECORD_COMPUTATION, attr.RECORD_TASK_ATTEMPT, attr.RECORD_TASK_EXECUTION,
                     attr.RECORD_TASK_PHASE}
    assert any(span.status_code == 2 and span.status_message for span in ours)
    assert any(span.links for span in ours) and any(span.events for span in ours)


@pytest.mark.collector
@pytest.mark.parametrize("protocol", PROTOBUF_PROTOCOLS)
def test_replay_sends_spill_files_with_our_senders(
        protocol: str, collector: CollectorShare, tmp_path: Path) -> None:
    spill = tmp_path / "dask-worker-1.spill.jsonl"
    batches = batches_for(collector.namespace)
    spill.write_text("".join(otlp_json.encode_line(otlp_json.resource_prefix(resource.attributes), spans)
                             for resource, spans in batches), encoding="utf-8")
    endpoint = collector.grpc_endpoint if protocol == "grpc" else collector.http_endpoint
    expected = sum(len(spans) for _, spans in batches)

    result = CliRunner().invoke(cli, ["replay", str(spill), "--endpoint", endpoint,
                                      "--protocol", protocol])

    assert result.exit_code == 0, result.output
    assert f"delivered {expected} spans" in result.output
    spans = collector.wait_for_spans(lambda spans: len(spans) >= expected)
    assert sorted(span.span_id for span in spans) == sorted(
        f"{span.span_id:016x}" for _, spans in batches for span in spans)


@pytest.mark.collector
@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOBUF_PROTOCOLS)
def test_a_collector_that_comes_back_is_reached_by_the_next_export(
        protocol: str, start_collector: Callable[..., Collector]) -> None:
    collector = start_collector("local.yaml")  # its own: it is stopped
    endpoint = collector.grpc_endpoint if protocol == "grpc" else collector.http_endpoint
    (resource, spans), *_ = batches_for("comes-back")
    exporter = create_exporter(settings_for(endpoint, protocol, timeout=5), resource)
    try:
        assert exporter.export_data(spans[:10])
        collector.stop()
        assert not exporter.export_data(spans[10:20])
        collector.start()
        started = time.monotonic()
        assert exporter.export_data(spans[10:20]), getattr(exporter, "last_error", "")
        assert time.monotonic() - started < 2.0  # no reconnection back-off of a stale channel
    finally:
        exporter.shutdown()
    collector.stop()
    assert sorted(span.span_id for span in collector.spans()) == sorted(
        f"{span.span_id:016x}" for span in spans[:20])


@pytest.mark.collector
@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOBUF_PROTOCOLS)
def test_tls_and_a_bearer_token(
        protocol: str, start_collector: Callable[..., Collector], tmp_path: Path) -> None:
    tls = make_tls_material(tmp_path / "tls")
    token = "the-gateway-token"
    gateway = start_collector("gateway.yaml", {
        "OTEL_DASK_PROV_TLS_CERT_FILE": str(tls.server_cert),
        "OTEL_DASK_PROV_TLS_KEY_FILE": str(tls.server_key),
        "OTEL_DASK_PROV_BEARER_TOKEN": token,
    }, name="gateway")
    endpoint = gateway.grpc_endpoint if protocol == "grpc" else gateway.http_endpoint
    assert endpoint.startswith("https://")
    (resource, spans), *_ = batches_for("tls")

    def exporter(token: str, **options: Any) -> Any:
        return create_exporter(settings_for(endpoint, protocol, certificate=str(tls.ca_cert),
                                            headers=f"Authorization=Bearer%20{token}", **options),
                               resource)

    refused = exporter("not-the-token")
    assert not refused.export_data(spans)
    assert refused.last_error.startswith("UNAUTHENTICATED" if protocol == "grpc" else "HTTP 401")
    untrusted = create_exporter(settings_for(endpoint, protocol, headers=f"authorization=Bearer%20{token}"),
                                resource)  # the system's CAs do not know ours
    assert not untrusted.export_data(spans)
    accepted = exporter(token, compression="gzip")
    assert accepted.export_data(spans), accepted.last_error
    for each in (refused, untrusted, accepted):
        each.shutdown()
    gateway.stop()
    assert sorted(span.span_id for span in gateway.spans()) == sorted(
        f"{span.span_id:016x}" for span in spans)
