"""OTLP over HTTP: POST each request to the collector's ``/v1/traces``.

One sender for both HTTP protocols; what differs is the body and its content
type:

* ``http/protobuf``: the ``ExportTraceServiceRequest`` of our protobuf encoder
  (:mod:`~otel_dask_prov.export.otlp_protobuf`), ``application/x-protobuf``;
* ``http/json``: the OTLP JSON line of our JSON encoder
  (:mod:`~otel_dask_prov.export.otlp_json`, the layout of the local files),
  ``application/json``.

Any OpenTelemetry Collector's OTLP receiver accepts both. A request that fails
(collector down, refusing, timing out) is not retried here: the sender says
so, sets :attr:`OtlpHttpSender.last_error`, and the
:class:`~otel_dask_prov.export.span_pipeline.SpanPipeline` spills the spans and
tries again later.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import ssl
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from ..version import __version__

PROTOBUF = "application/x-protobuf"
"""Content type of ``http/protobuf`` bodies."""
JSON = "application/json"
"""Content type of ``http/json`` bodies."""
USER_AGENT = f"otel-dask-prov/{__version__}"

_Proxy = tuple[str, int, dict[str, str]]
"""``(host, port, headers for it)`` of an HTTP proxy."""


def _proxy_for(url: urllib.parse.SplitResult) -> _Proxy | None:
    """The proxy the environment (``https_proxy``, ``http_proxy``, ``no_proxy``) names for *url*."""
    proxy = urllib.request.getproxies().get(url.scheme)
    if not proxy or urllib.request.proxy_bypass(url.hostname or ""):
        return None
    parsed = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
    headers = {}
    if parsed.username is not None:
        credentials = f"{urllib.parse.unquote(parsed.username)}:{urllib.parse.unquote(parsed.password or '')}"
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    return parsed.hostname or "", parsed.port or 80, headers


class OtlpHttpSender:
    """POSTs request bodies of one content type to one OTLP/HTTP endpoint.

    *certificate* is the PEM file of the CA to trust for an ``https://``
    endpoint (default: the system's CAs); *headers* go with every request
    (``authorization``, ...); *gzip_body* compresses the bodies
    (``Content-Encoding: gzip``); *timeout* bounds each network operation
    (connecting, sending, waiting for the answer), in seconds. The proxy
    variables of the environment (``https_proxy``, ``http_proxy``,
    ``no_proxy``) are honoured.

    Each request opens its own connection, and asks for no ``Connection:
    close``: a collector that refuses a request (a wrong token: HTTP 401)
    answers before reading the body, and then reads the rest of it only on a
    connection it may keep open; on one it must close, the body still being
    sent would break the connection before the answer could be read.
    """

    def __init__(self, endpoint: str, content_type: str, headers: Mapping[str, str],
                 timeout: float, certificate: Path | None, gzip_body: bool) -> None:
        self.endpoint = endpoint
        url = urllib.parse.urlsplit(endpoint)
        self._https = url.scheme == "https"
        self._host = url.hostname or ""
        self._port = url.port or (443 if self._https else 80)
        self._target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self._headers = {"Content-Type": content_type, "User-Agent": USER_AGENT, **headers}
        if gzip_body:
            self._headers["Content-Encoding"] = "gzip"
        self._gzip = gzip_body
        self._timeout = timeout
        self._context = (ssl.create_default_context(cafile=str(certificate) if certificate else None)
                         if self._https else None)
        self._proxy = _proxy_for(url)
        if self._proxy is not None and not self._https:
            self._target = urllib.parse.urlunsplit((url.scheme, url.netloc, url.path or "/", url.query, ""))
            self._headers.update(self._proxy[2])
        self.last_error = ""
        """Why the last failed request failed (e.g. ``HTTP 401 Unauthorized``)."""

    def _connection(self) -> http.client.HTTPConnection:
        if self._proxy is None:
            if self._https:
                return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                                   context=self._context)
            return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        proxy_host, proxy_port, proxy_headers = self._proxy
        if self._https:  # a CONNECT tunnel through the proxy
            connection = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=self._timeout,
                                                     context=self._context)
            connection.set_tunnel(self._host, self._port, headers=proxy_headers)
            return connection
        return http.client.HTTPConnection(proxy_host, proxy_port, timeout=self._timeout)

    def post(self, body: bytes) -> bool:
        """Send one request body; whether the collector accepted it (a 2xx answer)."""
        if self._gzip:
            body = gzip.compress(body, compresslevel=6)
        connection = self._connection()
        try:
            try:
                connection.request("POST", self._target, body, self._headers)
            except OSError as send_error:
                if connection.sock is None:  # not connected: nobody to answer
                    raise
                # A collector may answer (401, 413...) and close before it read the whole body.
                try:
                    response = connection.getresponse()
                except (OSError, http.client.HTTPException):
                    raise send_error from None
            else:
                response = connection.getresponse()
            response.read()
            if 200 <= response.status < 300:
                return True
            self.last_error = f"HTTP {response.status} {response.reason}"
            return False
        except (OSError, http.client.HTTPException, ValueError) as error:
            self.last_error = str(error) or type(error).__name__
            return False
        finally:
            connection.close()

    def shutdown(self) -> None:
        """Nothing to close: every request opens its own connection."""
