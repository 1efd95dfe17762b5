"""``otel-prov replay``: deliver spilled spans to a collector once it is back.

When a collector is unreachable, the plugins write the spans (and the tasks' log
records, as ``resourceLogs`` lines, sent to the logs endpoint) they could not
deliver to ``<output-dir>/spill/*.spill.jsonl`` (OTLP JSON lines). This command
reads such files (or any OTLP JSON lines file, e.g. the local-file default)
and exports every span with the same OTLP exporters, TLS and headers settings as
the plugins. A file that was delivered completely is renamed to ``*.replayed``
so it is not sent twice; on a failure the lines not yet delivered stay in the
file and the command exits with status 1.

    otel-prov replay otel-dask-prov-traces/spill/ --endpoint http://collector:4317
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
import msgspec
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from ..errors import ExportError, TraceFormatError
from ..settings import Settings, resolve_settings
from . import openlineage_emitter, otlp_json_decode
from .exporters import OtlpLogsExporter, RequestSender, request_sender, sdk_span_exporter
from .journal import dead_journals
from .line_encoding import LineEncoding
from .otlp_logs import LOGS_KEY
from .span_pipeline import recover_journal
from .trace_file_reader import PLAIN, DamagedDataError, detect_format, open_trace_lines

_STATUS = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def _attributes(raw: msgspec.Raw) -> dict[str, Any]:
    return otlp_json_decode.decode_key_values(otlp_json_decode.ATTRIBUTES.decode(raw))


def _id(value: str | None, what: str) -> int:
    if not value:
        raise ValueError(f"a span without a {what}")
    return int(value, 16)


def _context(trace_id: str | None, span_id: str | None) -> SpanContext:
    return SpanContext(_id(trace_id, "trace id"), _id(span_id, "span id"), is_remote=False,
                       trace_flags=_SAMPLED)


def _nanos(value: int | str | None, what: str) -> int:
    if value is None:
        raise ValueError(f"a span without a {what}")
    return int(value)


def decode_request(request: otlp_json_decode.Request) -> list[ReadableSpan]:
    """The spans of one decoded OTLP ``ExportTraceServiceRequest``, as SDK spans."""
    spans: list[ReadableSpan] = []
    for resource_spans in request.resource_spans:
        resource = Resource(otlp_json_decode.decode_key_values(resource_spans.resource.attributes)
                            if resource_spans.resource is not None else {})
        for scope_spans in resource_spans.scopes():
            scope_data = scope_spans.scope or otlp_json_decode.Scope()
            scope = InstrumentationScope(scope_data.name, scope_data.version)
            for raw in scope_spans.spans:
                code, message = otlp_json_decode.decode_status(raw.status)
                spans.append(ReadableSpan(
                    name=raw.name,
                    context=_context(raw.trace_id, raw.span_id),
                    parent=_context(raw.trace_id, raw.parent_span_id) if raw.parent_span_id else None,
                    resource=resource,
                    attributes=_attributes(raw.attributes),
                    events=[Event(event.name, _attributes(event.attributes),
                                  _nanos(event.time_unix_nano, "event time"))
                            for event in raw.events],
                    links=[Link(_context(link.trace_id, link.span_id), _attributes(link.attributes))
                           for link in otlp_json_decode.LINKS.decode(raw.links)],
                    kind=SpanKind(max(int(raw.kind) - 1, 0)),
                    status=Status(_STATUS.get(code, StatusCode.UNSET), message or None),
                    start_time=_nanos(raw.start_time_unix_nano, "start time"),
                    end_time=_nanos(raw.end_time_unix_nano, "end time"),
                    instrumentation_scope=scope,
                ))
    return spans


def spill_files(paths: Iterable[Path]) -> list[Path]:
    """The files to replay: files as given, directories searched for ``*.jsonl`` and ``*.jsonl.zst``."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(child for child in path.rglob("*.jsonl*")
                                if child.name.endswith((".jsonl", ".jsonl.zst"))))
        elif path.is_file():
            files.append(path)
        else:
            raise TraceFormatError(str(path), None, "no such file or directory")
    return files


class _Sender:
    """Sends one OTLP JSON request line with the configured protocol.

    ``http/json`` posts the line as it is; ``grpc`` and ``http/protobuf`` send it
    serialized as protobuf with our senders, or with the SDK's exporters when
    ``otlp_exporter`` is ``sdk``.
    """

    def __init__(self, settings: Settings) -> None:
        self._json = settings.protocol == "http/json"
        self._native: RequestSender | None = None
        self._sdk: SpanExporter | None = None
        if self._json or settings.otlp_exporter == "native":
            self._native = request_sender(settings)
        else:
            self._sdk = sdk_span_exporter(settings)
        self._logs = OtlpLogsExporter(settings, Resource({}))
        self.logs_delivered = 0
        """Log records delivered (``resourceLogs`` lines)."""

    @property
    def last_error(self) -> str:
        native = self._native.last_error if self._native is not None else ""
        return native or self._logs.sender.last_error

    def send_logs(self, line: str) -> bool:
        """Send one ``resourceLogs`` line to the logs endpoint."""
        if not self._logs.post_line(line):
            return False
        self.logs_delivered += line.count('"severityNumber":')
        return True

    def send(self, line: str, spans: list[ReadableSpan]) -> bool:
        if self._native is not None:
            body = line.encode("utf-8") if self._json else encode_spans(spans).SerializeToString()
            return self._native.post(body)
        assert self._sdk is not None
        return self._sdk.export(spans) is SpanExportResult.SUCCESS

    def close(self) -> None:
        if self._native is not None:
            self._native.shutdown()
        if self._sdk is not None:
            self._sdk.shutdown()
        self._logs.shutdown()


def replay_file(path: Path, sender: _Sender) -> int:
    """Deliver every line of *path*; return the number of spans delivered.

    Raises :class:`~otel_dask_prov.errors.ExportError` when the collector refuses a
    batch; the lines not delivered are written back to *path* first.
    """
    try:
        with open_trace_lines(path) as stream:
            text = stream.read().decode("utf-8")
    except DamagedDataError as error:
        raise TraceFormatError(str(path), None, str(error)) from None
    lines = [line for line in text.splitlines() if line.strip()]
    delivered = 0
    for index, line in enumerate(lines):
        spans: list[ReadableSpan] = []
        try:
            if not line.startswith(LOGS_KEY):
                spans = decode_request(otlp_json_decode.FULL.decode(line))
        except (ValueError, TypeError) as error:  # msgspec's errors are ValueErrors
            raise TraceFormatError(str(path), index + 1, f"not an OTLP JSON line ({error})") from None
        if not (sender.send_logs(line) if line.startswith(LOGS_KEY) else sender.send(line, spans)):
            with open(path, "rb") as head:
                encoding = LineEncoding("jsonl" if detect_format(head.read(8)) == PLAIN
                                        else "jsonl.zst")
            path.write_bytes(encoding.encode("\n".join(lines[index:]) + "\n"))
            reason = f" ({sender.last_error})" if sender.last_error else ""
            raise ExportError(
                f"{path}: the collector did not accept the spans{reason}; delivered {delivered} spans, "
                f"{len(lines) - index} lines remain in the file"
            )
        delivered += len(spans)
    path.rename(path.with_name(path.name + ".replayed"))
    return delivered


def journal_roots(paths: Iterable[Path]) -> list[tuple[Path, Path | None]]:
    """The journal directories among *paths*: ``(directory of journals, the one journal or None)``."""
    roots: list[tuple[Path, Path | None]] = []
    for path in paths:
        if (path / "lock").is_file():
            roots.append((path.parent, path))
        elif path.is_dir() and any((child / "lock").is_file() for child in path.iterdir()):
            roots.append((path, None))
    return roots


def replay_journals(roots: list[tuple[Path, Path | None]], settings: Settings) -> int:
    """Deliver the journals of dead processes under *roots*; return the records delivered."""
    total = 0
    for root, only in roots:
        for dead in dead_journals(root, any_host=True):
            if only is not None and dead.directory != only:
                dead.release()
                continue
            stats = recover_journal(dead, settings)
            total += stats.records
            where = f"spilled {stats.spilled} to {settings.effective_spill_dir}" if stats.spilled \
                else f"exported {stats.exported} spans"
            click.echo(f"{dead.directory}: delivered {stats.records} records ({where})", err=True)
    return total


@click.command(name="replay")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--endpoint", default=None,
              help="OTLP endpoint URL, e.g. http://localhost:4317. Needed for spill files; "
                   "without it, journals become OTLP JSON lines in --output-dir.")
@click.option("--output-dir", default=None, type=click.Path(path_type=Path),
              help="Where journals go without --endpoint (default: the output-dir setting).")
@click.option("--protocol", default=None, help="grpc (default), http/protobuf or http/json.")
@click.option("--headers", default=None, help="key=value,key=value (OTEL_EXPORTER_OTLP_HEADERS form).")
@click.option("--certificate", default=None, help="PEM CA file for a TLS endpoint.")
@click.option("--insecure/--secure", default=None, help="gRPC only: plaintext or TLS.")
@click.option("--timeout", default=None, type=float, help="Seconds per export request.")
@click.option("--openlineage-url", default=None,
              help="OpenLineage receiver for the OpenLineage spill files (*.lineage); default: "
                   "the openlineage-url setting.")
def replay_command(paths: tuple[Path, ...], endpoint: str | None, output_dir: Path | None,
                   protocol: str | None, headers: str | None, certificate: str | None,
                   insecure: bool | None, timeout: float | None,
                   openlineage_url: str | None) -> None:
    """Deliver what did not reach its destination (PATHS: files or directories).

    Spill files (spans a collector did not take) go to --endpoint. Record
    journals of processes that died and never came back (``<output-dir>/journal``
    or one journal in it) go to --endpoint, or without one to OTLP JSON lines in
    --output-dir. OpenLineage events the scheduler could not send (*.lineage) go to
    --openlineage-url. Delivered files are marked or removed, so replaying twice
    delivers nothing twice.
    """
    settings = resolve_settings(
        endpoint=endpoint, output_dir=output_dir, protocol=protocol, headers=headers,
        certificate=certificate, insecure=insecure, timeout=timeout,
        openlineage_url=openlineage_url,
    )
    lineage = openlineage_emitter.spill_files(list(paths))
    if lineage:
        if settings.openlineage_url is None:
            raise click.UsageError("OpenLineage spill files (*.lineage) need --openlineage-url")
        sent = sum(openlineage_emitter.replay_file(path, settings) for path in lineage)
        click.echo(f"sent {sent} OpenLineage events to {settings.openlineage_url}")
        paths = tuple(path for path in paths if path not in lineage)
        if not paths:
            return
    roots = journal_roots(paths)
    journals = {only or root for root, only in roots}
    spills = spill_files([path for path in paths if path not in journals])
    if spills and endpoint is None:
        raise click.UsageError("spill files need --endpoint (the collector to deliver them to)")
    records = replay_journals(roots, settings)
    if roots:
        click.echo(f"delivered {records} journaled records")
    if not spills:
        if not roots and not lineage:
            click.echo("nothing to deliver: no journal of a dead process and no spill file in "
                       + ", ".join(str(path) for path in paths))
        return
    sender = _Sender(settings)
    total = 0
    try:
        for path in spills:
            count = replay_file(path, sender)
            total += count
            click.echo(f"{path}: delivered {count} spans", err=True)
    finally:
        sender.close()
    logs = f" and {sender.logs_delivered} log records" if sender.logs_delivered else ""
    click.echo(f"delivered {total} spans{logs} to {endpoint}")
