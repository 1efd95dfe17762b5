"""Settings of otel-dask-prov and where each one comes from.

Every setting is declared once, in :data:`SETTINGS`. The declaration gives its
name, type, default, documentation, the standard ``OTEL_*`` environment
variables that set it (if any), its key in the ``otel-dask-prov`` section of the
Dask configuration, and its ``--otel-...`` preload option. The preload options,
the Dask config defaults and the configuration reference in the docs are all
generated from this table.

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

import os
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import dask.config

from .errors import ConfigurationError

CONFIG_SECTION = "otel-dask-prov"
"""Name of the Dask configuration section (``dask.config.get("otel-dask-prov.endpoint")``)."""

PROTOCOLS = ("grpc", "http/protobuf", "http/json")
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
COMPRESSIONS = ("none", "gzip")


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


def _parse_positive_int(text: Any) -> int:
    try:
        value = int(str(text).strip())
    except (TypeError, ValueError):
        raise ValueError("must be a whole number") from None
    if value <= 0:
        raise ValueError("must be greater than zero")
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
        parsed.port
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


YAPPI_CLOCKS = ("cpu", "wall")
DEFAULT_REDACT = ("password", "passwd", "secret", "token", "credential", "auth",
                  "api_key", "apikey", "access_key", "private_key", "cookie", "session")


# ---------------------------------------------------------------------------
# The table
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


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "enabled",
        True,
        "Record and export spans at all. `OTEL_SDK_DISABLED=true` turns tracing off.",
        _parse_bool,
        env=("OTEL_SDK_DISABLED",),
        env_parse=lambda text: not _parse_bool(text),
        type_name="boolean",
    ),
    Setting(
        "service_name",
        None,
        "`service.name` of this process; default `dask-scheduler` or `dask-worker`.",
        _parse_optional_str,
        env=("OTEL_SERVICE_NAME",),
    ),
    Setting(
        "resource_attributes",
        {},
        "Extra resource attributes, `key=value,key=value`.",
        _parse_key_values,
        env=("OTEL_RESOURCE_ATTRIBUTES",),
        type_name="object",
    ),
    Setting(
        "endpoint",
        None,
        "OTLP endpoint URL of a collector. Unset: write OTLP JSON lines to `output-dir`. "
        "For the HTTP protocols, `/v1/traces` is appended when the URL has no path.",
        _parse_endpoint,
        env=("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ),
    Setting(
        "protocol",
        "grpc",
        "OTLP transport: `grpc`, `http/protobuf`, or `http/json` (the cheapest: spans are "
        "encoded once, as the local files are, with no SDK span objects).",
        _parse_choice(PROTOCOLS),
        env=("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
    ),
    Setting(
        "headers",
        {},
        "Headers sent with every export, `key=value,key=value` (e.g. `authorization=Bearer%20T`).",
        _parse_key_values,
        env=("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"),
        type_name="object",
    ),
    Setting(
        "certificate",
        None,
        "PEM file of the CA that signed the collector's TLS certificate.",
        _parse_optional_path,
        env=("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE"),
    ),
    Setting(
        "insecure",
        None,
        "gRPC only: connect without TLS. Default: TLS for `https://` endpoints only.",
        lambda text: None if text is None else _parse_bool(text),
        env=("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE"),
        type_name="boolean",
    ),
    Setting(
        "compression",
        "none",
        "Compression of OTLP exports: `none` or `gzip`.",
        _parse_choice(COMPRESSIONS),
        env=("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"),
    ),
    Setting(
        "timeout",
        10.0,
        "Seconds one export may take before its spans are spilled to disk.",
        _parse_positive_float,
        env=("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"),
        type_name="number",
    ),
    Setting(
        "output_dir",
        Path("otel-dask-prov-traces"),
        "Directory of the local OTLP JSON lines files (one per process) used when no "
        "endpoint is set.",
        _parse_path,
        env=("OTEL_DASK_PROV_OUTPUT_DIR",),
    ),
    Setting(
        "spill_dir",
        None,
        "Directory for spans that could not be delivered to the endpoint; "
        "default `<output-dir>/spill`. Deliver them later with `otel-prov replay`.",
        _parse_optional_path,
        env=("OTEL_DASK_PROV_SPILL_DIR",),
    ),
    Setting(
        "spill_max_bytes",
        1 << 30,
        "Largest size of this process's spill file; spans past it are dropped and counted.",
        _parse_positive_int,
        type_name="integer",
    ),
    Setting(
        "sampler",
        "parentbased_always_on",
        "Which computations are traced: " + ", ".join(f"`{s}`" for s in SAMPLERS) + ". "
        "The decision is made once per computation, so a trace is always complete.",
        _parse_choice(SAMPLERS),
        env=("OTEL_TRACES_SAMPLER",),
    ),
    Setting(
        "sampler_arg",
        None,
        "Ratio for the `traceidratio` samplers (0 to 1).",
        _parse_ratio,
        env=("OTEL_TRACES_SAMPLER_ARG",),
        type_name="number",
    ),
    Setting(
        "export_interval",
        1.0,
        "Seconds between two exports of the spans recorded meanwhile.",
        _parse_positive_float,
        env=("OTEL_BSP_SCHEDULE_DELAY",),
        env_parse=_milliseconds_to_seconds,
        type_name="number",
    ),
    Setting(
        "max_export_delay",
        30.0,
        "While this process is busy (new task records keep coming), hold the export back "
        "for up to this many seconds, or until 20,000 records wait, so that the work runs "
        "first; a quiet process exports every `export-interval`. 0 exports on schedule "
        "even when busy.",
        _parse_non_negative_float,
        type_name="number",
    ),
    Setting(
        "max_export_batch_size",
        2048,
        "Most spans in one export request.",
        _parse_positive_int,
        env=("OTEL_BSP_MAX_EXPORT_BATCH_SIZE",),
        type_name="integer",
    ),
    Setting(
        "max_queue_size",
        200_000,
        "Finished task records held in memory before an export starts early (without "
        "waiting for `export-interval`). Records are never dropped here.",
        _parse_positive_int,
        env=("OTEL_BSP_MAX_QUEUE_SIZE",),
        type_name="integer",
    ),
    Setting(
        "record_transitions",
        True,
        "Record every scheduler state transition as a span event on the task attempt span.",
        _parse_bool,
        type_name="boolean",
    ),
    Setting(
        "record_tracebacks",
        False,
        "Add `exception.stacktrace` to failed tasks (tracebacks may hold data values).",
        _parse_bool,
        type_name="boolean",
    ),
    # -- provenance (docs/provenance.md) ---------------------------------
    Setting(
        "record_code",
        True,
        "Code provenance: the submitting code and notebook cell on the computation span; "
        "each task's `code.function.name`, file, line and a digest of its source.",
        _parse_bool,
        type_name="boolean",
    ),
    Setting(
        "record_environment",
        True,
        "Deployment provenance in each process's resource: OS, Python, versions of key "
        "packages, a digest of the installed packages, Kubernetes pod, namespace and node.",
        _parse_bool,
        type_name="boolean",
    ),
    Setting(
        "environment_allowlist",
        (),
        "Environment variables recorded as `dask.deployment.env.<NAME>`: comma-separated "
        "names or shell patterns (`SLURM_JOB_*`). Names matching `redact` are never recorded.",
        _parse_names,
        type_name="array",
    ),
    Setting(
        "record_packages",
        False,
        "Also record the full installed package list (`name==version`), not only its digest.",
        _parse_bool,
        type_name="boolean",
    ),
    Setting(
        "record_dask_config",
        False,
        "Record the Dask config values that differ from Dask's defaults (keys matching "
        "`redact` are masked).",
        _parse_bool,
        type_name="boolean",
    ),
    Setting(
        "task_io",
        True,
        "Per-task I/O of the executing thread (Linux): bytes and calls read and written.",
        _parse_bool,
        type_name="boolean",
    ),
    Setting(
        "record_arguments",
        False,
        "Record the literal argument values of each task (size-capped, redacted).",
        _parse_bool,
        type_name="boolean",
    ),
    Setting(
        "argument_max_bytes",
        256,
        "Longest text recorded for one argument value; longer values are cut.",
        _parse_positive_int,
        type_name="integer",
    ),
    Setting(
        "redact",
        DEFAULT_REDACT,
        "Name fragments (case-insensitive) of keyword arguments, environment variables and "
        "config keys whose values are replaced by `<redacted>`.",
        _parse_names,
        type_name="array",
    ),
    Setting(
        "record_files",
        False,
        "Record the files each task opens from Python (paths and modes).",
        _parse_bool,
        type_name="boolean",
    ),
    Setting(
        "result_hash",
        False,
        "Record a content hash of each task result (`dask.base.tokenize`).",
        _parse_bool,
        type_name="boolean",
    ),
    Setting(
        "yappi",
        False,
        "Profile each task on its executing thread with Yappi (one task at a time per "
        "worker process; needs `pip install yappi`).",
        _parse_bool,
        type_name="boolean",
    ),
    Setting(
        "yappi_clock",
        "cpu",
        "Clock of the Yappi profiles: `cpu` (the thread's CPU time) or `wall`.",
        _parse_choice(YAPPI_CLOCKS),
    ),
    Setting(
        "yappi_top",
        20,
        "Functions kept in each task profile, by total time.",
        _parse_positive_int,
        type_name="integer",
    ),
    Setting(
        "darshan",
        False,
        "Read the worker's Darshan log at teardown (workers run under the Darshan runtime; "
        "needs `pip install darshan`).",
        _parse_bool,
        type_name="boolean",
    ),
)
SETTINGS_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Resolved, validated settings of one process. Build with :func:`resolve_settings`."""

    enabled: bool = True
    service_name: str | None = None
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    endpoint: str | None = None
    protocol: str = "grpc"
    headers: Mapping[str, str] = field(default_factory=dict)
    certificate: Path | None = None
    insecure: bool | None = None
    compression: str = "none"
    timeout: float = 10.0
    output_dir: Path = Path("otel-dask-prov-traces")
    spill_dir: Path | None = None
    spill_max_bytes: int = 1 << 30
    sampler: str = "parentbased_always_on"
    sampler_arg: float | None = None
    export_interval: float = 1.0
    max_export_delay: float = 30.0
    max_export_batch_size: int = 2048
    max_queue_size: int = 200_000
    record_transitions: bool = True
    record_tracebacks: bool = False
    record_code: bool = True
    record_environment: bool = True
    environment_allowlist: tuple[str, ...] = ()
    record_packages: bool = False
    record_dask_config: bool = False
    task_io: bool = True
    record_arguments: bool = False
    argument_max_bytes: int = 256
    redact: tuple[str, ...] = DEFAULT_REDACT
    record_files: bool = False
    result_hash: bool = False
    yappi: bool = False
    yappi_clock: str = "cpu"
    yappi_top: int = 20
    darshan: bool = False

    @property
    def effective_spill_dir(self) -> Path:
        """Where undeliverable spans go."""
        return self.spill_dir if self.spill_dir is not None else self.output_dir / "spill"



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
