"""Where a process's spans go: the exporter chosen by the settings.

* with an endpoint: OTLP to a collector, the requests written by our own
  encoders straight from the span data, for every protocol: protobuf
  (:mod:`.otlp_protobuf`) sent over gRPC (:mod:`.otlp_grpc`) or HTTP
  (:mod:`.otlp_http`) for ``grpc`` and ``http/protobuf``, JSON
  (:mod:`.otlp_json`) over HTTP for ``http/json``. With ``otlp_exporter =
  "sdk"``, ``grpc`` and ``http/protobuf`` go through the OpenTelemetry SDK's
  OTLP exporters instead (:class:`SdkExporter`: SDK span objects and protobuf
  messages, several times the CPU per span, and retries that sleep);
* without one: OTLP JSON lines to a file of this process in ``output_dir``.

Every exporter has the :class:`SpanDataExporter` interface: ``export_data``
(spans) and ``export_logs`` (the tasks' log records, to the collector's logs
endpoint: ``/v1/logs`` or ``LogsService/Export``, through our sender whatever
``otlp_exporter`` says) return whether the collector (or file) took them, and
never raise for a peer that is down; the :class:`~otel_dask_prov.export.span_pipeline.SpanPipeline`
spills what was not taken, and tries again later.
"""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Protocol

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .. import attributes as attr
from ..settings import Settings
from . import otlp_logs, otlp_protobuf
from .jsonl_files import JsonLinesExporter, process_file_name
from .line_encoding import LineEncoding
from .log_data import LogData
from .otlp_http import JSON, PROTOBUF, OtlpHttpSender
from .otlp_json import encode_line, resource_prefix
from .span_data import SpanData, to_readable_span


class SpanDataExporter(Protocol):
    """Delivers finished spans somewhere; ``export_data`` returns whether it worked."""

    def export_data(self, spans: Sequence[SpanData]) -> bool: ...

    def export_logs(self, logs: Sequence[LogData]) -> bool: ...

    def shutdown(self) -> None: ...


class RequestSender(Protocol):
    """Sends one serialized OTLP request (:mod:`.otlp_grpc`, :mod:`.otlp_http`)."""

    last_error: str
    """Why the last failed request failed."""

    def post(self, body: bytes) -> bool: ...

    def shutdown(self) -> None: ...


class OtlpLogsExporter:
    """Sends batches of log records to the collector's logs endpoint: the OTLP JSON line
    as it is (``http/json``), or made protobuf (:mod:`.otlp_logs`)."""

    def __init__(self, settings: Settings, resource: Resource) -> None:
        self.sender = request_sender(settings, LOGS)
        self.json = settings.protocol == "http/json"
        self.prefix = otlp_logs.logs_prefix(resource.attributes)

    def export_logs(self, logs: Sequence[LogData]) -> bool:
        return self.post_line(otlp_logs.encode_logs_line(self.prefix, logs))

    def post_line(self, line: str) -> bool:
        """Send one OTLP JSON logs line; whether the collector took it."""
        return self.sender.post(line.encode("utf-8") if self.json
                                else otlp_logs.protobuf_request(line))

    def shutdown(self) -> None:
        self.sender.shutdown()


class OtlpExporter:
    """Encodes each batch with one of our encoders and sends it with a :class:`RequestSender`."""

    def __init__(self, sender: RequestSender,
                 encode: Callable[[Sequence[SpanData]], bytes], logs: OtlpLogsExporter) -> None:
        self.sender = sender
        self.encode = encode
        self.logs = logs

    @property
    def last_error(self) -> str:
        """Why the last failed export failed (the pipeline's warning says it)."""
        return self.sender.last_error or self.logs.sender.last_error

    def export_data(self, spans: Sequence[SpanData]) -> bool:
        return self.sender.post(self.encode(spans))

    def export_logs(self, logs: Sequence[LogData]) -> bool:
        return self.logs.export_logs(logs)

    def shutdown(self) -> None:
        self.sender.shutdown()
        self.logs.shutdown()


class SdkExporter:
    """Adapts an OpenTelemetry SDK ``SpanExporter`` (OTLP gRPC, HTTP/protobuf): ``otlp_exporter = "sdk"``.

    Log records go through our own sender (*logs*).
    """

    def __init__(self, exporter: SpanExporter, resource: Resource, logs: OtlpLogsExporter) -> None:
        self.exporter = exporter
        self.resource = resource
        self.logs = logs

    def export_data(self, spans: Sequence[SpanData]) -> bool:
        readable = [to_readable_span(span, self.resource) for span in spans]
        return self.exporter.export(readable) is SpanExportResult.SUCCESS

    def export_logs(self, logs: Sequence[LogData]) -> bool:
        return self.logs.export_logs(logs)

    def shutdown(self) -> None:
        self.exporter.shutdown()
        self.logs.shutdown()


TRACES = "traces"
LOGS = "logs"
"""The OTLP signals sent: their HTTP paths are ``/v1/traces`` and ``/v1/logs``."""


def traces_endpoint(settings: Settings) -> str:
    """The endpoint URL to send to: the HTTP protocols get ``/v1/traces`` when it has no path."""
    assert settings.endpoint is not None
    endpoint = settings.endpoint
    if settings.protocol != "grpc" and urllib.parse.urlsplit(endpoint).path in ("", "/"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return endpoint


def logs_endpoint(settings: Settings) -> str:
    """The URL of log records for the HTTP protocols: the traces endpoint with ``/v1/logs``
    in place of ``/v1/traces``, or ``/v1/logs`` added to another path.

    >>> from otel_dask_prov.settings import resolve_settings
    >>> logs_endpoint(resolve_settings(endpoint="http://c:4318", protocol="http/json"))
    'http://c:4318/v1/logs'
    >>> logs_endpoint(resolve_settings(endpoint="https://c/otlp/v1/traces", protocol="http/json"))
    'https://c/otlp/v1/logs'
    """
    url = urllib.parse.urlsplit(traces_endpoint(settings))
    path = url.path.rstrip("/")
    path = path[: -len("/v1/traces")] if path.endswith("/v1/traces") else path
    return urllib.parse.urlunsplit(url._replace(path=path + "/v1/logs"))


def grpc_insecure(settings: Settings) -> bool:
    """Whether gRPC goes without TLS: never to ``https://``; else the ``insecure`` setting,
    by default for ``http://`` (the OpenTelemetry SDK's rule)."""
    assert settings.endpoint is not None
    scheme = urllib.parse.urlsplit(settings.endpoint).scheme
    if scheme == "https":
        return False
    return settings.insecure if settings.insecure is not None else scheme == "http"


def request_sender(settings: Settings, signal: str = TRACES) -> RequestSender:
    """The sender of serialized OTLP requests of *signal* (:data:`TRACES` or :data:`LOGS`)
    for the endpoint and protocol of *settings*."""
    gzip = settings.compression == "gzip"
    if settings.protocol == "grpc":
        from .otlp_grpc import EXPORT_METHOD, LOGS_EXPORT_METHOD, OtlpGrpcSender

        assert settings.endpoint is not None
        return OtlpGrpcSender(urllib.parse.urlsplit(settings.endpoint).netloc,
                              secure=not grpc_insecure(settings), certificate=settings.certificate,
                              headers=settings.headers, timeout=settings.timeout, gzip=gzip,
                              method=LOGS_EXPORT_METHOD if signal == LOGS else EXPORT_METHOD)
    content_type = JSON if settings.protocol == "http/json" else PROTOBUF
    endpoint = logs_endpoint(settings) if signal == LOGS else traces_endpoint(settings)
    return OtlpHttpSender(endpoint, content_type, settings.headers,
                          settings.timeout, settings.certificate, gzip)


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
        return GrpcExporter(
            endpoint=endpoint,
            insecure=grpc_insecure(settings),
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


def _json_encoder(prefix: str) -> Callable[[Sequence[SpanData]], bytes]:
    def encode(spans: Sequence[SpanData]) -> bytes:
        return encode_line(prefix, spans).encode("utf-8")

    return encode


def create_exporter(settings: Settings, resource: Resource) -> SpanDataExporter:
    """The exporter of a process with *resource*: the local JSON lines file, or OTLP."""
    if settings.endpoint is None:
        service_name = str(resource.attributes.get(attr.SERVICE_NAME, "dask"))
        encoding = LineEncoding(settings.trace_file_format)
        return JsonLinesExporter(settings.output_dir / process_file_name(service_name,
                                                                         encoding.suffix),
                                 resource_prefix(resource.attributes),
                                 otlp_logs.logs_prefix(resource.attributes), encoding)
    logs = OtlpLogsExporter(settings, resource)
    if settings.protocol == "http/json":
        return OtlpExporter(request_sender(settings),
                            _json_encoder(resource_prefix(resource.attributes)), logs)
    if settings.otlp_exporter == "sdk":
        return SdkExporter(sdk_span_exporter(settings), resource, logs)
    return OtlpExporter(request_sender(settings), functools.partial(
        otlp_protobuf.encode_request, otlp_protobuf.resource_prefix(resource.attributes)), logs)
