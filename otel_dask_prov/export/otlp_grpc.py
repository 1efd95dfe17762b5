"""OTLP over gRPC: the ``TraceService/Export`` call, with bodies our encoder wrote.

The request is the serialized ``ExportTraceServiceRequest`` of
:mod:`~otel_dask_prov.export.otlp_protobuf`, sent as it is: the call is made on a
``grpc`` channel with no (de)serializer, so no protobuf message object is built
on either side of it.

A call that fails (collector down, refusing, timing out) is not retried here,
and nothing sleeps: the sender says so, sets :attr:`OtlpGrpcSender.last_error`
(``UNAVAILABLE: failed to connect to all addresses; ...``), and the
:class:`~otel_dask_prov.export.span_pipeline.SpanPipeline` spills the spans and
tries again later, with back-off. After ``UNAVAILABLE`` the next call opens a
new channel, so a collector that is back is reached at once rather than after
gRPC's own reconnection back-off.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc

from ..version import __version__

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS_EXPORT_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
"""The call of log records (a serialized ``ExportLogsServiceRequest``)."""
USER_AGENT = f"otel-dask-prov/{__version__}"
_MAX_ERROR = 300
"""Longest ``last_error`` kept (gRPC's details can list every address tried)."""


class OtlpGrpcSender:
    """Calls ``TraceService/Export`` on one collector with serialized requests.

    *target* is ``host:port``. With *secure*, the channel uses TLS and trusts
    the CA in the PEM file *certificate* (default: the system's CAs). *headers*
    are sent as call metadata (keys lowercased, as gRPC wants them); *gzip*
    compresses the requests; *timeout* is the deadline of each call in seconds; *method*
    is :data:`LOGS_EXPORT_METHOD` for log records.
    """

    def __init__(self, target: str, *, secure: bool, certificate: Path | None,
                 headers: Mapping[str, str], timeout: float, gzip: bool,
                 method: str = EXPORT_METHOD) -> None:
        self.target = target
        self._method = method
        self._secure = secure
        self._root_certificates = certificate.read_bytes() if certificate is not None else None
        self._metadata = tuple((name.lower(), value) for name, value in headers.items())
        self._timeout = timeout
        self._compression = grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression
        self._lock = threading.Lock()
        self._channel: Any = None
        self._export: Any = None
        self.last_error = ""
        """Why the last failed call failed: the gRPC status and its details."""

    def _connect(self) -> Any:
        """The ``Export`` callable, on a channel opened now if none is open."""
        with self._lock:
            if self._export is None:
                options = [("grpc.primary_user_agent", USER_AGENT)]
                if self._secure:
                    credentials = grpc.ssl_channel_credentials(self._root_certificates)
                    self._channel = grpc.secure_channel(self.target, credentials, options=options,
                                                        compression=self._compression)
                else:
                    self._channel = grpc.insecure_channel(self.target, options=options,
                                                          compression=self._compression)
                self._export = self._channel.unary_unary(
                    self._method, request_serializer=None, response_deserializer=None)
            return self._export

    def _disconnect(self) -> None:
        with self._lock:
            channel, self._channel, self._export = self._channel, None, None
        if channel is not None:
            channel.close()

    def post(self, body: bytes) -> bool:
        """Send one serialized ``ExportTraceServiceRequest``; whether the collector accepted it."""
        try:
            self._connect()(body, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            code = error.code()
            self.last_error = f"{code.name}: {error.details()}"[:_MAX_ERROR]
            if code is grpc.StatusCode.UNAVAILABLE:
                self._disconnect()
            return False
        except ValueError as error:  # e.g. a header value gRPC cannot send
            self.last_error = str(error)[:_MAX_ERROR]
            return False
        return True

    def shutdown(self) -> None:
        """Close the channel."""
        self._disconnect()
