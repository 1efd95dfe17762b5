"""Data provenance: the files a task opens (opt-in: ``record_files``).

Python raises an ``open`` audit event (:pep:`578`) for ``open()``,
``io.open``, ``os.open``, ``pathlib`` and everything built on them (pandas,
numpy, xarray's Python-level I/O). An audit hook notes each one made by a
thread while that thread runs a task, and the task's execution span lists them
in ``dask.io.files`` (absolute paths) with the mode of each in
``dask.io.file_modes`` (``r``, ``w``, ``a``, ``r+``...; several modes of one
file joined with ``|``). Module imports (``.py``, ``.pyc``, ``.so`` files) are
left out.

Not seen: files opened by C or Fortran libraries directly (HDF5, netCDF-C,
GDAL...) and by processes or threads the task starts; Darshan (see
:mod:`.darshan_logs`) covers the former.

The hook is added to the process the first time a recorder needs it and, as
Python allows no removal, stays: on a thread that is not recording it costs one
comparison per audit event.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from ... import attributes as attr

MAX_FILES = 100
"""Files listed per task; more are counted in ``dask.io.files_omitted``."""
_IMPORTS = (".py", ".pyc", ".so", ".pth")
_local = threading.local()
_hook_lock = threading.Lock()
_hook_added = False


def _mode_from_flags(flags: int) -> str:
    access = flags & os.O_ACCMODE
    if access == os.O_RDONLY:
        return "r"
    if access == os.O_WRONLY:
        return "a" if flags & os.O_APPEND else "w"
    return "a+" if flags & os.O_APPEND else "r+"


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "open":
        return
    opened: dict[str, set[str]] | None = getattr(_local, "opened", None)
    if opened is None:
        return
    path, mode, flags = args
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str) or path.endswith(_IMPORTS):
        return
    if mode is None:
        mode = _mode_from_flags(flags)
    mode = mode.replace("b", "").replace("t", "")
    opened.setdefault(os.path.abspath(path), set()).add(mode)


def _ensure_hook() -> None:
    global _hook_added
    with _hook_lock:
        if not _hook_added:
            sys.addaudithook(_audit)
            _hook_added = True


class FileRecorder:
    """Notes the files the calling thread opens between :meth:`start` and :meth:`stop`."""

    def __init__(self) -> None:
        _ensure_hook()

    @staticmethod
    def start() -> None:
        _local.opened = {}

    @staticmethod
    def stop() -> dict[str, Any]:
        """Attributes listing the files opened since :meth:`start` (none: no attributes)."""
        opened: dict[str, set[str]] = getattr(_local, "opened", None) or {}
        _local.opened = None
        if not opened:
            return {}
        paths = list(opened)
        attributes: dict[str, Any] = {
            attr.IO_FILES: paths[:MAX_FILES],
            attr.IO_FILE_MODES: ["|".join(sorted(opened[path])) for path in paths[:MAX_FILES]],
        }
        if len(paths) > MAX_FILES:
            attributes[attr.IO_FILES_OMITTED] = len(paths) - MAX_FILES
        return attributes
