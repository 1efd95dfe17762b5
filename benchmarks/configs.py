"""The tracing configurations the benchmarks compare.

* ``none``: no plugin at all (the baseline);
* ``file``: the default, OTLP JSON lines to a local file per process (zstd frames);
* ``file-jsonl``: the same uncompressed (``trace_file_format: jsonl``);
* ``otlp``: OTLP over gRPC to the real collector (``benchmarks/collector.yaml``);
* ``file-thread``: the default exported by a thread of each Dask process, not an
  exporter process; ``file-unjournaled``: without the journal either (before issue 13);
* ``all``: the default plus every optional feature that is off by default,
  found in :data:`otel_dask_prov.settings.SETTINGS` (so features added later
  are benchmarked without editing this file), except Yappi and Darshan;
* ``yappi``: the default plus per-task Yappi profiles, reported separately.

Darshan is left out: it needs the workers to run under the Darshan runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_dask_prov.settings import SETTINGS, SETTINGS_BY_NAME

SEPARATE_FEATURES = ("yappi", "darshan")
"""Optional boolean settings that ``all`` leaves out (measured apart, or needing a runtime)."""


def optional_features() -> dict[str, bool]:
    """Every boolean setting that is off by default, turned on (but :data:`SEPARATE_FEATURES`)."""
    return {
        setting.name: True
        for setting in SETTINGS
        if setting.type_name == "boolean" and setting.default is False
        and setting.name not in SEPARATE_FEATURES
    }


@dataclass(frozen=True)
class Configuration:
    """One way of running the cluster: with or without tracing, and which settings."""

    name: str
    description: str
    traced: bool = True
    otlp: bool = False
    """Export over OTLP/gRPC to a collector started for the run (else the local file)."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Settings beyond the defaults, as ``install()`` keyword arguments."""

    def environment(self) -> dict[str, str]:
        """The same settings as ``DASK_OTEL_DASK_PROV__<NAME>`` variables of Dask processes.

        (Not trailing ``--otel-...`` preload options: ``dask worker --scheduler-file``
        takes the first of them for its positional scheduler address.)
        """
        return {
            f"DASK_OTEL_DASK_PROV__{name.upper()}":
                str(value).lower() if isinstance(value, bool) else str(value)
            for name, value in self.settings.items()
        }


def configurations() -> dict[str, Configuration]:
    """Every configuration by name, in the order they are reported."""
    features = optional_features()
    found = [Configuration("none", "no tracing", traced=False),
             Configuration("file", "default: OTLP JSON lines to a local file, a zstd frame per batch"),
             Configuration("file-jsonl", "default with uncompressed JSON lines (trace_file_format "
                           "jsonl, before issue 19)", settings={"trace_file_format": "jsonl"}),
             Configuration("otlp", "OTLP/gRPC to the real collector", otlp=True),
             Configuration("file-thread", "default, exported by a thread of each Dask process "
                           "instead of an exporter process", settings={"export_process": False}),
             Configuration("file-unjournaled", "default without the journal (as before issue 13): "
                           "a thread of each Dask process exports from memory",
                           settings={"journal_max_bytes": 0}),
             Configuration("file-no-logs", "default without the per-attempt log records "
                           "(record_logs off)", settings={"record_logs": False}),
             Configuration("all", "local file + " + ", ".join(sorted(features)), settings=features)]
    if "yappi" in SETTINGS_BY_NAME:
        found.append(Configuration("yappi", "local file + yappi per-task profiles",
                                   settings={"yappi": True}))
    return {configuration.name: configuration for configuration in found}
