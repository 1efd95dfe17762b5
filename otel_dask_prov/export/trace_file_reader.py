"""Read any trace file as OTLP JSON lines, whatever its format, detected by content.

The formats, told apart by their first bytes (never by the file name):

* OTLP JSON lines, as written uncompressed (``trace_file_format: jsonl``) and by
  the collector's file exporter with ``format: json``;
* gzip-compressed JSON lines (all members);
* zstd frames of JSON lines, the local default (``jsonl.zst``): one frame per
  exported batch, each decodable alone;
* the collector's file exporter with ``format: proto`` or with ``compression:
  zstd``: messages each preceded by its length (4 bytes, big-endian), each an
  OTLP JSON request or an ``Export{Trace,Logs}ServiceRequest`` protobuf,
  zstd-compressed or not. Protobuf messages become OTLP JSON lines (hex ids).

A file cut short by a killed writer ends early and :attr:`TraceLines.truncated`
says so; data that is damaged before the end raises :class:`DamagedDataError`
with its byte offset in the file.
"""

from __future__ import annotations

import base64
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import zstandard
from google.protobuf import json_format  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

GZIP_MAGIC: Final = b"\x1f\x8b"
"""The first two bytes of a gzip stream."""
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
"""The first four bytes of a zstd frame."""

PLAIN: Final = "jsonl"
GZIP: Final = "gzip"
ZSTD: Final = "zstd"
LENGTH_PREFIXED: Final = "length-prefixed"

MAX_MESSAGE: Final = 1 << 30
"""A length prefix above this is damage, not a message."""

_CHUNK: Final = 1 << 16


class DamagedDataError(ValueError):
    """Data inside a trace file that cannot be decoded, at byte :attr:`offset` of the file."""

    def __init__(self, offset: int, reason: str) -> None:
        self.offset = offset
        self.reason = reason
        super().__init__(f"byte {offset}: {reason}")


def detect_format(head: bytes) -> str:
    """The format of a file whose first bytes are *head* (8 are enough)."""
    if head.startswith(GZIP_MAGIC):
        return GZIP
    if head.startswith(ZSTD_MAGIC):
        return ZSTD
    # A length prefix starts with a zero byte below 16 MiB; JSON text never does.
    if len(head) >= 5 and head[0] < 0x20 and head[:1] not in (b"\t", b"\n", b"\r"):
        return LENGTH_PREFIXED
    return PLAIN


class TraceLines(io.RawIOBase):
    """The OTLP JSON lines in the binary stream *raw* of format *kind* (:func:`detect_format`)."""

    def __init__(self, raw: IO[bytes], kind: str) -> None:
        self.raw = raw
        self.kind = kind
        self.truncated = False
        """The data ended inside a frame or message (the writer was stopped mid-write)."""
        chunks = {GZIP: self._gzip_chunks, ZSTD: self._framed_chunks,
                  LENGTH_PREFIXED: self._framed_chunks}.get(kind, self._plain_chunks)
        self._chunks = chunks()
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        view = memoryview(buffer)
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _plain_chunks(self) -> Iterator[bytes]:
        while chunk := self.raw.read(_CHUNK):
            yield chunk

    def _gzip_chunks(self) -> Iterator[bytes]:
        # zlib rather than gzip.GzipFile, which raises on a cut file before handing
        # out what it did decompress.
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while True:
            if decompressor.eof:
                rest = decompressor.unused_data
                decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                if not rest.strip(b"\0"):
                    rest = self.raw.read(_CHUNK)
                    if not rest:
                        return
                data = rest
            else:
                data = self.raw.read(_CHUNK)
                if not data:
                    self.truncated = True
                    yield decompressor.flush()
                    return
            try:
                yield decompressor.decompress(data)
            except zlib.error:
                self.truncated = True
                return

    def _framed_chunks(self) -> Iterator[bytes]:
        frames = Frames(self.raw, self.kind)
        for _, _, data in frames:
            yield data
        self.truncated = frames.truncated


class Frames:
    """The frames of a zstd-frames or length-prefixed file as ``(offset, length, data)``:
    where each starts in the file, its length there, and its OTLP JSON line(s).

    The converter indexes a frame by its place in the file and reads it back with
    :func:`decode_frame`. A cut last frame ends the iteration and sets :attr:`truncated`.
    """

    def __init__(self, raw: IO[bytes], kind: str) -> None:
        self.raw = raw
        self.kind = kind
        self.truncated = False

    def __iter__(self) -> Iterator[tuple[int, int, bytes]]:
        return self._zstd_frames() if self.kind == ZSTD else self._messages()

    def _zstd_frames(self) -> Iterator[tuple[int, int, bytes]]:
        offset = fed = 0
        pieces: list[bytes] = []
        decompressor = zstandard.ZstdDecompressor().decompressobj()
        while data := self.raw.read(_CHUNK):
            while data:
                fed += len(data)
                try:
                    pieces.append(decompressor.decompress(data))
                except zstandard.ZstdError as error:
                    raise DamagedDataError(offset, f"damaged zstd frame ({error})") from None
                if not decompressor.eof:
                    break
                data = decompressor.unused_data
                length = fed - len(data)
                yield offset, length, b"".join(pieces)
                offset, fed, pieces = offset + length, 0, []
                decompressor = zstandard.ZstdDecompressor().decompressobj()
                if not data.strip(b"\0"):
                    offset += len(data)
                    data = b""
        if fed:
            self.truncated = True

    def _messages(self) -> Iterator[tuple[int, int, bytes]]:
        offset = 0
        while prefix := self.raw.read(4):
            size = int.from_bytes(prefix, "big")
            if len(prefix) < 4:
                self.truncated = True
                return
            if size > MAX_MESSAGE:
                raise DamagedDataError(offset, f"a message length of {size} bytes is not plausible")
            body = self.raw.read(size)
            if len(body) < size:
                self.truncated = True
                return
            try:
                line = message_line(body)
            except (zstandard.ZstdError, DecodeError, ValueError) as error:
                raise DamagedDataError(offset, f"damaged message ({error})") from None
            yield offset, 4 + size, line
            offset += 4 + size


def decode_frame(data: bytes, kind: str) -> bytes:
    """The OTLP JSON line(s) of one frame of a file of format *kind*, as :class:`Frames` found it."""
    if kind == ZSTD:
        decompressor = zstandard.ZstdDecompressor().decompressobj()
        lines = decompressor.decompress(data)
        if not decompressor.eof:
            raise ValueError("the zstd frame is incomplete")
        return lines
    return message_line(data[4:])


def open_trace_lines(path: Path) -> IO[bytes]:
    """*path* as OTLP JSON lines (a buffered binary stream), whatever its format."""
    raw = open(path, "rb")  # noqa: SIM115 - returned open, or wrapped by what is returned
    kind = detect_format(raw.read(8))
    raw.seek(0)
    if kind == PLAIN:
        return raw
    return io.BufferedReader(TraceLines(raw, kind), 1 << 20)


# --------------------------------------------------------------------------
# The collector's length-prefixed messages
# --------------------------------------------------------------------------
def message_line(body: bytes) -> bytes:
    """One message of a collector file (zstd or not, JSON or protobuf) as one OTLP JSON line."""
    if body.startswith(ZSTD_MAGIC):
        body = decode_frame(body, ZSTD)
    text = body.strip()
    if text[:1] in (b"{", b"["):
        return text + b"\n"
    return protobuf_json(body).encode("utf-8") + b"\n"


def protobuf_json(body: bytes) -> str:
    """An ``Export{Trace,Logs}ServiceRequest`` protobuf as its OTLP JSON text (one line)."""
    traces = ExportTraceServiceRequest.FromString(body)
    if _are_spans(traces):
        value = json_format.MessageToDict(traces, use_integers_for_enums=True)
        for resource_spans in value.get("resourceSpans", ()):
            for scope_spans in resource_spans.get("scopeSpans", ()):
                for span in scope_spans.get("spans", ()):
                    _hex_ids(span)
                    for link in span.get("links", ()):
                        _hex_ids(link)
    else:
        value = json_format.MessageToDict(ExportLogsServiceRequest.FromString(body),
                                       use_integers_for_enums=True)
        for resource_logs in value.get("resourceLogs", ()):
            for scope_logs in resource_logs.get("scopeLogs", ()):
                for record in scope_logs.get("logRecords", ()):
                    _hex_ids(record)
    return json.dumps(value, separators=(",", ":"))


def _are_spans(request: ExportTraceServiceRequest) -> bool:
    """Whether *request* holds spans: the logs request has the same first field, but a
    log record read as a span lacks a 16-byte trace id and an 8-byte span id."""
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if len(span.trace_id) != 16 or len(span.span_id) != 8 or not span.name:
                    return False
    return True


def _hex_ids(value: dict[str, Any]) -> None:
    """Ids as OTLP JSON writes them (lowercase hex), not protobuf JSON's base64."""
    for key in ("traceId", "spanId", "parentSpanId"):
        if key in value:
            value[key] = base64.b64decode(value[key]).hex()
