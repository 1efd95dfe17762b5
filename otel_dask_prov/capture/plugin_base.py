"""What the scheduler and worker plugins share: their options and how they report errors."""

from __future__ import annotations

import logging
from typing import Any

from ..settings import resolve_settings

logger = logging.getLogger("otel_dask_prov")


class TracingPluginBase:
    """Holds the plugin's explicit settings and counts its own errors.

    Settings are checked when the plugin is created (on the client, so a bad
    option fails at once) and resolved again where the plugin runs, with that
    process's environment and Dask config.
    """

    name = "otel-dask-prov"
    idempotent = True

    def __init__(self, **options: Any) -> None:
        resolve_settings(_check_filesystem=False, **options)  # fail early on bad options
        self._options = options
        self._active = False
        self.errors = 0
        """Tracing errors so far; the first is logged at WARNING, the rest only counted."""

    def _record_error(self, error: BaseException, where: str) -> None:
        self.errors += 1
        if self.errors == 1:
            logger.warning(
                "otel-dask-prov: tracing error on %s (the computation is not affected; "
                "further errors are only counted): %r", where, error, exc_info=error,
            )

    def _report_errors(self, where: str) -> None:
        if self.errors:
            logger.warning("otel-dask-prov: %d tracing errors on %s", self.errors, where)
