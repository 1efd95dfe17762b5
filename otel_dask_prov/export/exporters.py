"""Where a process's spans go: the exporter chosen by the settings.

* with an endpoint: OTLP over gRPC or HTTP/protobuf through the OpenTelemetry
  SDK exporters, or OTLP/HTTP with JSON bodies written by our own encoder
  (``http/json``, the cheapest);
* without one: OTLP JSON lines to a file of this process in ``output_dir``.

Every exporter has the :class:`SpanDataExporter` interface: ``export_data``
returns whether the collector (or file) took the spans, and never raises for a
peer that is down; the :class:`~otel_dask_prov.export.span_pipeline.SpanPipeline`
spills what was not taken.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import Protocol

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .. import attributes as attr
from ..settings import Settings
from .jsonl_files import JsonLinesExporter, process_file_name
from .otlp_http_json import OtlpHttpJsonExporter
from .otlp_json import resource_prefix
from .span_data import SpanData, to_readable_span


class SpanDataExporter(Protocol):
    """Delivers finished spans somewhere; ``export_data`` returns whether it worked."""

    def export_data(self, spans: Sequence[SpanData]) -> bool: ...

    def shutdown(self) -> None: ...


class SdkExporter:
    """Adapts an OpenTelemetry SDK ``SpanExporter`` (OTLP gRPC, HTTP/protobuf)."""

    def __init__(self, exporter: SpanExporter, resource: Resource) -> None:
        self.exporter = exporter
        self.resource = resource

    def export_data(self, spans: Sequence[SpanData]) -> bool:
        readable = [to_readable_span(span, self.resource) for span in spans]
        return self.exporter.export(readable) is SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.exporter.shutdown()


def traces_endpoint(settings: Settings) -> str:
    """The endpoint URL to send to: the HTTP protocols get ``/v1/traces`` when it has no path."""
    assert settings.endpoint is not None
    endpoint = settings.endpoint
    if settings.protocol != "grpc" and urllib.parse.urlsplit(endpoint).path in ("", "/"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return endpoint


def sdk_span_exporter(settings: Settings) -> SpanExporter:
    """The OpenTelemetry SDK's OTLP exporter for the ``grpc`` or ``http/protobuf`` protocol."""
    endpoint = traces_endpoint(settings)
    gzip = settings.compression == "gzip"
    headers = dict(settings.headers) or None
    if settings.protocol == "grpc":
        import grpc
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        credentials = None
        if settings.certificate is not None:
            credentials = grpc.ssl_channel_credentials(settings.certificate.read_bytes())
        insecure = settings.insecure
        if insecure is None:
            insecure = urllib.parse.urlsplit(endpoint).scheme == "http"
        return GrpcExporter(
            endpoint=endpoint,
            insecure=insecure,
            credentials=credentials,
            headers=headers,
            timeout=settings.timeout,
            compression=grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression,
        )
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    certificate = str(settings.certificate) if settings.certificate else None
    return HttpExporter(
        endpoint=endpoint,
        certificate_file=certificate,
        headers=headers,
        timeout=settings.timeout,
        compression=Compression.Gzip if gzip else Compression.NoCompression,
        session=_session_trusting(certificate),
    )


def _session_trusting(certificate: str | None):  # type: ignore[no-untyped-def]
    """A ``requests`` session that keeps *certificate* as its CA.

    ``requests`` lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` in the environment
    replace a session's ``verify`` file on every request, which would silently
    ignore the configured ``OTEL_EXPORTER_OTLP_CERTIFICATE``.
    """
    import requests

    class CertificateSession(requests.Session):
        def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
            merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if certificate is not None:
                merged["verify"] = certificate
            return merged

    return CertificateSession()


def create_exporter(settings: Settings, resource: Resource) -> SpanDataExporter:
    """The exporter of a process with *resource*: the local JSON lines file, or OTLP."""
    prefix = resource_prefix(resource.attributes)
    if settings.endpoint is None:
        service_name = str(resource.attributes.get(attr.SERVICE_NAME, "dask"))
        return JsonLinesExporter(settings.output_dir / process_file_name(service_name), prefix)
    if settings.protocol == "http/json":
        return OtlpHttpJsonExporter(traces_endpoint(settings), prefix, settings.headers,
                                    settings.timeout, settings.certificate,
                                    settings.compression == "gzip")
    return SdkExporter(sdk_span_exporter(settings), resource)
