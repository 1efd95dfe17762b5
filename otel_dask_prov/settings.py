"""Settings of otel-dask-prov and where each one comes from.

Every setting is declared once, as a field of :class:`Settings`: its type and
default, and, through :func:`_setting`, its help text, its parser, the standard
``OTEL_*`` environment variables that set it (if any) and the JSON type of its
value in the Dask configuration. :data:`SETTINGS` is the table of those
declarations, read from the fields, one :class:`Setting` each, which adds its key
in the ``otel-dask-prov`` section of the Dask configuration and its
``--otel-...`` preload option. The preload options, the Dask config defaults,
``otel-prov settings`` and the configuration reference in the docs are all
generated from this table.

The dataclass is the source and the table is derived from it, not the reverse,
so that :class:`Settings` stays a plain dataclass: mypy and editors see the type
and default of every field, and ``help(Settings)`` lists them, where a class
built at run time from a table would show neither. Help texts name the constants
they speak of (such as :data:`BUSY_BACKLOG`) instead of repeating their values.

A value is resolved in this order, first found wins:

1. an explicit argument (:func:`resolve_settings` keyword, ``install(...)``
   keyword or a ``--otel-...`` preload option);
2. the standard OpenTelemetry environment variable(s);
3. the ``otel-dask-prov`` section of the Dask configuration (YAML files, or
   ``DASK_OTEL_DASK_PROV__<KEY>`` variables, see the Dask docs);
4. the default.

A value that cannot work raises :class:`~otel_dask_prov.errors.ConfigurationError`
naming the setting, at start-up, never in the middle of a computation.

>>> settings = resolve_settings(output_dir="/tmp/traces", protocol="http/protobuf")
>>> settings.protocol
'http/protobuf'
"""

from __future__ import annotations

import copy
import functools
import os
import tempfile
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import dask.config

from . import attributes as attr
from .errors import ConfigurationError

CONFIG_SECTION = "otel-dask-prov"
"""Name of the Dask configuration section (``dask.config.get("otel-dask-prov.endpoint")``)."""

PROTOCOLS = ("grpc", "http/protobuf", "http/json")
TRACE_FILE_FORMATS = ("jsonl.zst", "jsonl")
"""The values of the ``trace_file_format`` setting (:mod:`.export.line_encoding`), the default first."""
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
COMPRESSIONS = ("none", "gzip")
OTLP_EXPORTERS = ("native", "sdk")
YAPPI_CLOCKS = ("cpu", "wall")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

BUSY_BACKLOG = 20_000
"""Records a busy process holds back at most before exporting anyway: the bound on memory
beside ``max_export_delay``, the bound on time (used by
:class:`~otel_dask_prov.export.span_pipeline.SpanPipeline`; ``docs/performance.md``)."""

JOURNAL_DIR_NAME = "journal"
"""Directory inside ``output_dir`` for the record journals when ``journal_dir`` is unset."""
SPILL_DIR_NAME = "spill"
"""Directory inside ``output_dir`` for undeliverable spans when ``spill_dir`` is unset."""


# ---------------------------------------------------------------------------
# Parsers: text (environment, CLI, YAML) -> typed value; raise ValueError
# ---------------------------------------------------------------------------
def _parse_bool(text: Any) -> bool:
    if isinstance(text, bool):
        return text
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _parse_disabled(text: Any) -> bool:
    """``OTEL_SDK_DISABLED``: ``true`` means not enabled."""
    return not _parse_bool(text)


def _parse_optional_bool(text: Any) -> bool | None:
    return None if text is None else _parse_bool(text)


def _parse_optional_str(text: Any) -> str | None:
    if text is None:
        return None
    value = str(text).strip()
    return value or None


def _parse_positive_float(text: Any) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError("must be a number") from None
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def _parse_non_negative_float(text: Any) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError("must be a number") from None
    if not value >= 0:  # also refuses NaN
        raise ValueError("must be zero or more")
    return value


def _parse_whole_number(text: Any) -> int:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        raise ValueError("must be a whole number") from None


def _parse_positive_int(text: Any) -> int:
    value = _parse_whole_number(text)
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def _parse_non_negative_int(text: Any) -> int:
    value = _parse_whole_number(text)
    if value < 0:
        raise ValueError("must be zero or more")
    return value


def _parse_key_values(text: Any) -> dict[str, str]:
    """Parse ``k1=v1,k2=v2`` (URL-encoded, as in the OTel spec) or a mapping."""
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return {str(k): str(v) for k, v in text.items()}
    pairs: dict[str, str] = {}
    for item in str(text).split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{item.strip()!r} is not of the form key=value")
        pairs[urllib.parse.unquote(name.strip())] = urllib.parse.unquote(value.strip())
    return pairs


def _parse_name(text: Any) -> str:
    value = _parse_optional_str(text)
    if value is None:
        raise ValueError("must not be empty")
    return value


def _parse_choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(text: Any) -> str:
        value = str(text).strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of: {', '.join(choices)}")
        return value

    return parse


def _parse_endpoint(text: Any) -> str | None:
    value = _parse_optional_str(text)
    if value is None:
        return None
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError("must be a URL such as http://localhost:4317")
    try:
        _ = parsed.port  # reading it checks it
    except ValueError:
        raise ValueError("has an invalid port") from None
    return value


def _parse_path(text: Any) -> Path:
    value = _parse_optional_str(text)
    if value is None:
        raise ValueError("must be a directory path")
    return Path(value).expanduser()


def _parse_optional_path(text: Any) -> Path | None:
    value = _parse_optional_str(text)
    return None if value is None else Path(value).expanduser()


def _parse_ratio(text: Any) -> float | None:
    if text is None or str(text).strip() == "":
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError("must be a number between 0 and 1") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be a number between 0 and 1")
    return value


def _milliseconds_to_seconds(text: Any) -> float:
    return _parse_positive_float(text) / 1000.0


def _parse_names(text: Any) -> tuple[str, ...]:
    """``A,B*,C`` (or a YAML list) -> ``("A", "B*", "C")``."""
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else text
    if not isinstance(items, (list, tuple)):
        raise ValueError("must be a comma-separated list of names")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _one_of(choices: tuple[str, ...]) -> str:
    """*choices* quoted as code and joined for a help text: a, b, or c."""
    quoted = [f"`{choice}`" for choice in choices]
    if len(quoted) == 2:
        return " or ".join(quoted)
    return ", ".join(quoted[:-1]) + ", or " + quoted[-1]


# ---------------------------------------------------------------------------
# The declarations
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    """Declaration of one setting: where it comes from and how it is parsed."""

    name: str
    """Attribute of :class:`Settings` and key in the ``otel-dask-prov`` Dask config section
    (with ``_`` written as ``-``)."""
    default: Any
    help: str
    parse: Callable[[Any], Any]
    env: tuple[str, ...] = ()
    """Standard environment variables, most specific first."""
    env_parse: Callable[[Any], Any] | None = None
    """Parser for the environment value when its unit differs (e.g. milliseconds)."""
    type_name: str = "string"
    """JSON-schema type of the Dask config value."""

    @property
    def config_key(self) -> str:
        return self.name.replace("_", "-")

    @property
    def option(self) -> str:
        """The preload option, e.g. ``--otel-output-dir``."""
        return "--otel-" + self.name.replace("_", "-")


_T = TypeVar("_T")
_DECLARATION = "otel_dask_prov.setting"
"""Key of a :class:`Settings` field's metadata holding its :class:`Setting` without the
name and default (which are the field's own)."""


def _setting(
    default: _T,
    help: str,
    parse: Callable[[Any], _T],
    *,
    env: tuple[str, ...] = (),
    env_parse: Callable[[Any], _T] | None = None,
    type_name: str = "string",
) -> _T:
    """A field of :class:`Settings` whose default is *default*, declared with the rest of its
    :class:`Setting`.

    Typed as its default, so mypy checks *default* and *parse* against the field's
    annotation. It returns a ``dataclasses.field()`` (pyproject.toml tells ruff so).
    """
    declaration = functools.partial(
        Setting, help=help, parse=parse, env=env, env_parse=env_parse, type_name=type_name
    )
    metadata = {_DECLARATION: declaration}
    if type(default).__hash__ is None:  # a mapping: each Settings gets its own copy
        return field(default_factory=lambda: copy.copy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """Resolved, validated settings of one process. Build with :func:`resolve_settings`.

    Each field is one setting, declared with its default, help text, parser and
    sources (see :data:`SETTINGS` and ``docs/configuration.md``).
    """

    enabled: bool = _setting(
        True,
        "Record and export spans at all. `OTEL_SDK_DISABLED=true` turns tracing off.",
        _parse_bool,
        env=("OTEL_SDK_DISABLED",),
        env_parse=_parse_disabled,
        type_name="boolean",
    )
    service_name: str | None = _setting(
        None,
        f"`{attr.SERVICE_NAME}` of this process; "
        f"default `{attr.SCHEDULER_SERVICE}` or `{attr.WORKER_SERVICE}`.",
        _parse_optional_str,
        env=("OTEL_SERVICE_NAME",),
    )
    resource_attributes: Mapping[str, str] = _setting(
        {},
        "Extra resource attributes, `key=value,key=value`.",
        _parse_key_values,
        env=("OTEL_RESOURCE_ATTRIBUTES",),
        type_name="object",
    )
    endpoint: str | None = _setting(
        None,
        "OTLP endpoint URL of a collector. Unset: write OTLP JSON lines to `output-dir`. "
        "For the HTTP protocols, `/v1/traces` is appended when the URL has no path.",
        _parse_endpoint,
        env=("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    protocol: str = _setting(
        "grpc",
        f"OTLP transport: {_one_of(PROTOCOLS)}. Our own encoders write the requests "
        "straight from the recorded spans, with no SDK span objects (see `otlp-exporter`).",
        _parse_choice(PROTOCOLS),
        env=("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
    )
    headers: Mapping[str, str] = _setting(
        {},
        "Headers sent with every export, `key=value,key=value` (e.g. `authorization=Bearer%20T`).",
        _parse_key_values,
        env=("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"),
        type_name="object",
    )
    certificate: Path | None = _setting(
        None,
        "PEM file of the CA that signed the collector's TLS certificate.",
        _parse_optional_path,
        env=("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE"),
    )
    insecure: bool | None = _setting(
        None,
        "gRPC only: connect without TLS. Default: TLS for `https://` endpoints only.",
        _parse_optional_bool,
        env=("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE"),
        type_name="boolean",
    )
    compression: str = _setting(
        "none",
        f"Compression of OTLP exports: {_one_of(COMPRESSIONS)}.",
        _parse_choice(COMPRESSIONS),
        env=("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"),
    )
    timeout: float = _setting(
        10.0,
        "Seconds one export may take before its spans are spilled to disk.",
        _parse_positive_float,
        env=("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"),
        type_name="number",
    )
    otlp_exporter: str = _setting(
        "native",
        "What sends `grpc` and `http/protobuf`: `native` (our protobuf encoder and senders, "
        "about as cheap as `http/json`) or `sdk` (the OpenTelemetry SDK's OTLP exporters, "
        "several times the CPU per span, and retries that hold a batch up to `timeout`).",
        _parse_choice(OTLP_EXPORTERS),
        env=("OTEL_DASK_PROV_OTLP_EXPORTER",),
    )
    output_dir: Path = _setting(
        Path("otel-dask-prov-traces"),
        "Directory of the local OTLP JSON lines files (one per process) used when no "
        "endpoint is set.",
        _parse_path,
        env=("OTEL_DASK_PROV_OUTPUT_DIR",),
    )
    spill_dir: Path | None = _setting(
        None,
        "Directory for spans that could not be delivered to the endpoint; "
        f"default `<output-dir>/{SPILL_DIR_NAME}`. Deliver them later with `otel-prov replay`.",
        _parse_optional_path,
        env=("OTEL_DASK_PROV_SPILL_DIR",),
    )
    spill_max_bytes: int = _setting(
        1 << 30,
        "Largest size of this process's spill file; spans past it are dropped and counted.",
        _parse_positive_int,
        type_name="integer",
    )
    trace_file_format: str = _setting(
        "jsonl.zst",
        f"How local trace files (without an endpoint) and spill files are written: "
        f"{_one_of(TRACE_FILE_FORMATS)}. `jsonl.zst` is OTLP JSON lines, each batch one zstd "
        "frame (a tenth of the bytes; a file cut by a killed process reads to its last whole "
        "frame); `jsonl` the same uncompressed. Every reader takes both; `otel-prov cat` prints "
        "either as text.",
        _parse_choice(TRACE_FILE_FORMATS),
    )
    journal_dir: Path | None = _setting(
        None,
        "Directory of the record journals (one per process, written as each record is made, "
        f"so a killed process loses nothing); default `<output-dir>/{JOURNAL_DIR_NAME}`. What a "
        "dead process did not export is delivered by the next process started with the same "
        "directory on the same host, or by `otel-prov replay`.",
        _parse_optional_path,
        env=("OTEL_DASK_PROV_JOURNAL_DIR",),
    )
    journal_max_bytes: int = _setting(
        1 << 30,
        "Largest size of this process's journal not yet exported; past it, records are kept "
        "in memory only (still exported, but lost if the process is killed) and counted. "
        "0 turns the journal off.",
        _parse_non_negative_int,
        type_name="integer",
    )
    export_process: bool = _setting(
        True,
        "Build, encode and export spans in a separate exporter process that follows the "
        "journal, so that this work never takes the GIL from Dask's event loop and a killed "
        "Dask process's records are delivered at once; off, or without a journal, the "
        "export runs on a thread of the Dask process.",
        _parse_bool,
        type_name="boolean",
    )
    sampler: str = _setting(
        "parentbased_always_on",
        "Which computations are traced: " + ", ".join(f"`{s}`" for s in SAMPLERS) + ". "
        "The decision is made once per computation, so a trace is always complete.",
        _parse_choice(SAMPLERS),
        env=("OTEL_TRACES_SAMPLER",),
    )
    sampler_arg: float | None = _setting(
        None,
        "Ratio for the `traceidratio` samplers (0 to 1).",
        _parse_ratio,
        env=("OTEL_TRACES_SAMPLER_ARG",),
        type_name="number",
    )
    export_interval: float = _setting(
        1.0,
        "Seconds between two exports of the spans recorded meanwhile.",
        _parse_positive_float,
        env=("OTEL_BSP_SCHEDULE_DELAY",),
        env_parse=_milliseconds_to_seconds,
        type_name="number",
    )
    max_export_delay: float = _setting(
        30.0,
        "When the export runs in the Dask process (`export-process` off): while it is busy "
        "(new task records keep coming), hold the export back "
        f"for up to this many seconds, or until {BUSY_BACKLOG:,} records wait, so that the work "
        "runs first; a quiet process exports every `export-interval`. 0 exports on schedule "
        "even when busy.",
        _parse_non_negative_float,
        type_name="number",
    )
    max_export_batch_size: int = _setting(
        2048,
        "Most spans in one export request.",
        _parse_positive_int,
        env=("OTEL_BSP_MAX_EXPORT_BATCH_SIZE",),
        type_name="integer",
    )
    max_queue_size: int = _setting(
        200_000,
        "Finished task records held in memory before an export starts early (without "
        "waiting for `export-interval`). Records are never dropped here.",
        _parse_positive_int,
        env=("OTEL_BSP_MAX_QUEUE_SIZE",),
        type_name="integer",
    )
    record_transitions: bool = _setting(
        True,
        "Record every scheduler state transition as a span event on the task attempt span.",
        _parse_bool,
        type_name="boolean",
    )
    record_tracebacks: bool = _setting(
        False,
        f"Add `{attr.EXCEPTION_STACKTRACE}` to failed tasks (tracebacks may hold data values).",
        _parse_bool,
        type_name="boolean",
    )
    # -- provenance (docs/provenance.md) ---------------------------------
    record_code: bool = _setting(
        True,
        "Code provenance: the submitting code and notebook cell on the computation span; "
        f"each task's `{attr.CODE_FUNCTION_NAME}`, file, line and a digest of its source.",
        _parse_bool,
        type_name="boolean",
    )
    record_environment: bool = _setting(
        True,
        "Deployment provenance in each process's resource: OS, Python, versions of key "
        "packages, a digest of the installed packages, Kubernetes pod, namespace and node.",
        _parse_bool,
        type_name="boolean",
    )
    environment_allowlist: tuple[str, ...] = _setting(
        (),
        f"Environment variables recorded as `{attr.ENVIRONMENT_PREFIX}<NAME>`: comma-separated "
        "names or shell patterns (`SLURM_JOB_*`). Names matching `redact` are never recorded.",
        _parse_names,
        type_name="array",
    )
    record_packages: bool = _setting(
        False,
        "Also record the full installed package list (`name==version`), not only its digest.",
        _parse_bool,
        type_name="boolean",
    )
    record_dask_config: bool = _setting(
        False,
        "Record the Dask config values that differ from Dask's defaults (keys matching "
        "`redact` are masked).",
        _parse_bool,
        type_name="boolean",
    )
    task_io: bool = _setting(
        True,
        "Per-task I/O of the executing thread (Linux): bytes and calls read and written.",
        _parse_bool,
        type_name="boolean",
    )
    record_arguments: bool = _setting(
        False,
        "Record the literal argument values of each task (size-capped, redacted).",
        _parse_bool,
        type_name="boolean",
    )
    argument_max_bytes: int = _setting(
        256,
        "Longest text recorded for one argument value; longer values are cut.",
        _parse_positive_int,
        type_name="integer",
    )
    redact: tuple[str, ...] = _setting(
        ("password", "passwd", "secret", "token", "credential", "auth",
         "api_key", "apikey", "access_key", "private_key", "cookie", "session"),
        "Name fragments (case-insensitive) of keyword arguments, environment variables and "
        "config keys whose values are replaced by `<redacted>`.",
        _parse_names,
        type_name="array",
    )
    record_files: bool = _setting(
        False,
        "Record the files each task opens from Python (paths and modes).",
        _parse_bool,
        type_name="boolean",
    )
    result_hash: bool = _setting(
        False,
        "Record a content hash of each task result (`dask.base.tokenize`).",
        _parse_bool,
        type_name="boolean",
    )
    yappi: bool = _setting(
        False,
        "Profile each task on its executing thread with Yappi (one task at a time per "
        "worker process; needs `pip install yappi`).",
        _parse_bool,
        type_name="boolean",
    )
    yappi_clock: str = _setting(
        "cpu",
        "Clock of the Yappi profiles: `cpu` (the thread's CPU time) or `wall`.",
        _parse_choice(YAPPI_CLOCKS),
    )
    yappi_top: int = _setting(
        20,
        "Functions kept in each task profile, by total time.",
        _parse_positive_int,
        type_name="integer",
    )
    darshan: bool = _setting(
        False,
        "Read each worker's Darshan log once the worker process has exited, and attribute "
        "its DXT segments to the tasks (workers run under the Darshan runtime; "
        "needs `pip install darshan`).",
        _parse_bool,
        type_name="boolean",
    )
    # -- per-attempt logs (docs/provenance.md) ---------------------------
    record_logs: bool = _setting(
        True,
        "Keep the `logging` records a task emits on its executing thread (at `log-level` "
        "and above) and the worker's own record of its failure, as OpenTelemetry log records "
        "on its execution span.",
        _parse_bool,
        type_name="boolean",
    )
    log_level: str = _setting(
        "warning",
        "Lowest level of the `logging` records kept: debug, info, warning, error or critical "
        "(records the process's logging configuration filters out are never seen).",
        _parse_choice(LOG_LEVELS),
    )
    log_max_records: int = _setting(
        100,
        "Log records kept per task attempt; the last one kept says how many more were "
        f"dropped (`{attr.LOG_DROPPED}`).",
        _parse_positive_int,
        type_name="integer",
    )
    log_max_process_records: int = _setting(
        50_000,
        "Log records kept per worker process over its life; past it records are counted, "
        "not kept (one warning says so).",
        _parse_positive_int,
        type_name="integer",
    )
    record_output: bool = _setting(
        False,
        "Also keep what a task writes to `sys.stdout` and `sys.stderr`, one log record per "
        "line (still written to the worker's own output).",
        _parse_bool,
        type_name="boolean",
    )
    # -- OpenLineage (docs/standards.md) ---------------------------------
    openlineage_url: str | None = _setting(
        None,
        "Send an OpenLineage START and COMPLETE/FAIL run event per computation (never per "
        "task) to this HTTP receiver (e.g. Marquez, `http://localhost:5000`; the path "
        "defaults to `/api/v1/lineage`), from the scheduler, through the `openlineage-python` "
        "client's HTTP transport on a background thread (needs "
        "`pip install \"otel-dask-prov[openlineage]\"`). Events the receiver does not take "
        "wait in `<spill-dir>/openlineage-*.lineage` and are sent again once it is back.",
        _parse_endpoint,
        env=("OTEL_DASK_PROV_OPENLINEAGE_URL", "OPENLINEAGE_URL"),
    )
    openlineage_namespace: str = _setting(
        "dask",
        "The `job.namespace` of the OpenLineage events (live and `otel-prov convert -f "
        "openlineage`).",
        _parse_name,
        env=("OTEL_DASK_PROV_OPENLINEAGE_NAMESPACE", "OPENLINEAGE_NAMESPACE"),
    )

    @property
    def effective_journal_dir(self) -> Path:
        """Where this process's record journal goes."""
        return (self.journal_dir if self.journal_dir is not None
                else self.output_dir / JOURNAL_DIR_NAME)

    @property
    def effective_spill_dir(self) -> Path:
        """Where undeliverable spans go."""
        return self.spill_dir if self.spill_dir is not None else self.output_dir / SPILL_DIR_NAME


def _default_of(settings_field: Field[Any]) -> Any:
    if settings_field.default_factory is not MISSING:
        return settings_field.default_factory()
    return settings_field.default


SETTINGS: tuple[Setting, ...] = tuple(
    settings_field.metadata[_DECLARATION](name=settings_field.name, default=_default_of(settings_field))
    for settings_field in fields(Settings)
)
"""Every setting, in the order of the fields of :class:`Settings`."""
SETTINGS_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}


def config_defaults() -> dict[str, Any]:
    """The ``otel-dask-prov`` Dask config section with every default (for YAML/schema)."""
    defaults: dict[str, Any] = {}
    for setting in SETTINGS:
        value = setting.default
        if isinstance(value, Mapping):
            # Registered as null: dask.config.update_defaults would otherwise replace a
            # user's "key=value,..." string (DASK_OTEL_DASK_PROV__HEADERS) by the mapping.
            value = None
        defaults[setting.config_key] = str(value) if isinstance(value, Path) else value
    return defaults


def config_schema() -> dict[str, Any]:
    """JSON schema of the ``otel-dask-prov`` Dask config section."""
    properties: dict[str, Any] = {}
    for setting in SETTINGS:
        entry: dict[str, Any] = {"description": setting.help}
        entry["type"] = [setting.type_name, "null"] if setting.default is None else setting.type_name
        if setting.type_name == "object":
            entry["type"] = ["object", "string", "null"]  # a mapping, or "key=value,..." text
            entry["additionalProperties"] = {"type": "string"}
        properties[setting.config_key] = entry
    return {
        "type": "object",
        "properties": {CONFIG_SECTION: {"type": "object", "properties": properties,
                                        "additionalProperties": False}},
    }


_DEFAULTS_REGISTERED = False


def register_config_defaults() -> None:
    """Make ``dask.config.get("otel-dask-prov.<key>")`` return the defaults."""
    global _DEFAULTS_REGISTERED
    if not _DEFAULTS_REGISTERED:
        dask.config.update_defaults({CONFIG_SECTION: config_defaults()})
        _DEFAULTS_REGISTERED = True


def _from_environment(setting: Setting, environ: Mapping[str, str]) -> tuple[str, Any] | None:
    for variable in setting.env:
        text = environ.get(variable)
        if text is not None and text.strip() != "":
            return variable, text
    return None


def _from_dask_config(setting: Setting) -> tuple[str, Any] | None:
    section = dask.config.get(CONFIG_SECTION, default={}) or {}
    for key in (setting.config_key, setting.name):
        if key in section and section[key] is not None:
            value = section[key]
            if value == setting.default or (
                isinstance(setting.default, Path) and str(value) == str(setting.default)
            ):
                return None  # a registered default, not a user choice
            return f"{CONFIG_SECTION}.{setting.config_key}", value
    return None


def resolve_settings(
    environ: Mapping[str, str] | None = None,
    *,
    _check_filesystem: bool = True,
    **explicit: Any,
) -> Settings:
    """Resolve every setting from *explicit* values, the environment and the Dask config.

    ``None`` among *explicit* means "not given". ``_check_filesystem=False`` skips the
    checks that touch files (used where the settings are only parsed, e.g. on the
    client, before being resolved again in the Dask process that uses them). Raises
    :class:`~otel_dask_prov.errors.ConfigurationError` for an unknown setting name or a
    value that cannot work (unknown protocol, malformed endpoint, unwritable directory...).
    """
    environ = os.environ if environ is None else environ
    unknown = sorted(set(explicit) - set(SETTINGS_BY_NAME))
    if unknown:
        raise ConfigurationError(unknown[0], explicit[unknown[0]], "unknown setting")
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        source: tuple[str, Any] | None = None
        parse = setting.parse
        if explicit.get(setting.name) is not None:
            source = (setting.option, explicit[setting.name])
        else:
            source = _from_environment(setting, environ)
            if source is not None and setting.env_parse is not None:
                parse = setting.env_parse
            if source is None:
                source = _from_dask_config(setting)
        if source is None:
            values[setting.name] = setting.default
            continue
        where, raw = source
        try:
            values[setting.name] = parse(raw)
        except ValueError as error:
            raise ConfigurationError(where, raw, str(error)) from None
    settings = Settings(**values)
    if _check_filesystem:
        _check_files(settings)
    return settings


def _check_files(settings: Settings) -> None:
    """Checks that touch the file system of the process that will use the settings."""
    if not settings.enabled:
        return
    if settings.certificate is not None and not settings.certificate.is_file():
        raise ConfigurationError(
            "certificate", str(settings.certificate), "no such file (expected a PEM CA file)"
        )
    if settings.endpoint is None:
        _check_writable_directory("output-dir", settings.output_dir)


def _check_writable_directory(setting: str, directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise ConfigurationError(
            setting, str(directory), f"cannot write there ({error.strerror or error})"
        ) from None
