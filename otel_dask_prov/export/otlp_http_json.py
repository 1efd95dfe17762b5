"""OTLP over HTTP with JSON bodies (protocol ``http/json``), from our fast encoder.

The cheapest way to reach a collector: the request body is the same OTLP JSON
line the local-file default writes, so no SDK span objects or protobuf
messages are built. Any OpenTelemetry Collector's OTLP receiver accepts it on
``/v1/traces`` with ``Content-Type: application/json``.
"""

from __future__ import annotations

import gzip
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from .otlp_json import encode_line
from .span_data import SpanData


class OtlpHttpJsonExporter:
    """POST each batch as one ``ExportTraceServiceRequest`` JSON document."""

    def __init__(self, endpoint: str, prefix: str, headers: Mapping[str, str],
                 timeout: float, certificate: Path | None, gzip_body: bool) -> None:
        self.endpoint = endpoint
        self._prefix = prefix
        self._headers = {"Content-Type": "application/json", **headers}
        if gzip_body:
            self._headers["Content-Encoding"] = "gzip"
        self._gzip = gzip_body
        self._timeout = timeout
        self._context = (ssl.create_default_context(cafile=str(certificate))
                         if certificate is not None else None)
        self.last_error = ""
        """Why the last failed export failed (e.g. ``HTTP 401 Unauthorized``)."""

    def export_data(self, spans: Sequence[SpanData]) -> bool:
        return self.post(encode_line(self._prefix, spans))

    def post(self, request_json: str) -> bool:
        """Send one ``ExportTraceServiceRequest`` JSON document; whether it was accepted."""
        body = request_json.encode("utf-8")
        if self._gzip:
            body = gzip.compress(body)
        request = urllib.request.Request(self.endpoint, data=body, headers=self._headers,  # noqa: S310
                                         method="POST")
        try:
            # the endpoint is an http(s) URL: settings refuse any other scheme
            with urllib.request.urlopen(request, timeout=self._timeout,  # noqa: S310
                                        context=self._context) as response:
                status: int = response.status
                return 200 <= status < 300
        except urllib.error.HTTPError as error:
            self.last_error = f"HTTP {error.code} {error.reason}"
            return False
        except (OSError, ValueError) as error:
            self.last_error = str(getattr(error, "reason", error))
            return False

    def shutdown(self) -> None:
        """Nothing to close: every request opens its own connection."""
