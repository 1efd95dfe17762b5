"""Real dask processes for tests: the package's own launcher, made importable by workers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from otel_dask_prov.demo.local_cluster import DaskProcesses as _DaskProcesses
from otel_dask_prov.demo.local_cluster import dask_command

REPO_ROOT = Path(__file__).resolve().parents[2]

__all__ = ["REPO_ROOT", "DaskProcesses", "dask_command"]


class DaskProcesses(_DaskProcesses):
    """:class:`otel_dask_prov.demo.local_cluster.DaskProcesses` whose workers can import ``tests``."""

    def __init__(self, workdir: Path, *args: Any, env: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        super().__init__(workdir, *args, env={"PYTHONPATH": python_path, **(env or {})}, **kwargs)
