"""Encode log records as OTLP: one ``ExportLogsServiceRequest`` per JSON line, or protobuf.

The JSON layout is that of the spans (:mod:`.otlp_json`: lowercase hex ids,
64-bit integers as decimal strings), ``{"resourceLogs": [...]}`` with the
process's resource and the instrumentation scope of its spans, so that a
process's log lines can sit in its trace file beside its span lines. Logs are few
(at most ``log_max_records`` per task), so the protobuf body of the ``grpc`` and
``http/protobuf`` protocols is made from that JSON line with the generated classes
of ``opentelemetry-proto`` rather than by a hand encoder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .log_data import LogData
from .otlp_json import _SCOPE_JSON, _string, encode_attributes

LOGS_KEY = '{"resourceLogs":'
"""How a line holding log records starts (span lines start ``{"resourceSpans":``)."""


def logs_prefix(resource_attributes: Mapping[str, Any]) -> str:
    """The start of every logs request line of one process, up to its list of log records."""
    return (LOGS_KEY + '[{"resource":{"attributes":' + encode_attributes(resource_attributes)
            + '},"scopeLogs":[{"scope":' + _SCOPE_JSON + ',"logRecords":[')


def encode_log(log: LogData) -> str:
    """One OTLP ``LogRecord`` as JSON text."""
    return (f'{{"timeUnixNano":"{log.time}","observedTimeUnixNano":"{log.observed}"'
            f',"severityNumber":{log.severity_number}'
            ',"severityText":' + _string(log.severity_text)
            + ',"body":{"stringValue":' + _string(log.body) + "}"
            + ',"attributes":' + encode_attributes(log.attributes)
            + f',"traceId":"{log.trace_id:032x}","spanId":"{log.span_id:016x}"}}')


def encode_logs_line(prefix: str, logs: Sequence[LogData]) -> str:
    """One ``ExportLogsServiceRequest`` line (newline included); *prefix* from :func:`logs_prefix`."""
    return prefix + ",".join([encode_log(log) for log in logs]) + "]}]}]}\n"


def protobuf_request(line: str) -> bytes:
    """The serialized protobuf ``ExportLogsServiceRequest`` of one OTLP JSON logs line."""
    import base64
    import json

    from google.protobuf import json_format  # type: ignore[import-untyped]
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    request = json.loads(line)
    for resource_logs in request.get("resourceLogs", ()):
        for scope_logs in resource_logs.get("scopeLogs", ()):
            for record in scope_logs.get("logRecords", ()):
                for field in ("traceId", "spanId"):  # OTLP JSON ids are hex, protobuf's JSON base64
                    if record.get(field):
                        record[field] = base64.b64encode(bytes.fromhex(record[field])).decode()
    body: bytes = json_format.ParseDict(request, ExportLogsServiceRequest()).SerializeToString()
    return body
