"""Per-task I/O: the Linux I/O counters of the thread that executes a task.

Linux keeps I/O counters per thread in ``/proc/self/task/<tid>/io``. Reading
them on the executing thread just before and just after the task function gives
what that thread did during the task:

* ``dask.io.read_bytes`` (``rchar``): bytes returned by read-like system calls
  (files, pipes, sockets; page-cache hits included);
* ``dask.io.write_bytes`` (``wchar``): bytes passed to write-like system calls;
* ``dask.io.read_calls`` / ``dask.io.write_calls`` (``syscr`` / ``syscw``): how
  many such calls;
* ``dask.io.storage_read_bytes`` (``read_bytes``): bytes the thread caused to be
  fetched from storage (0 when the page cache served them);
* ``dask.io.storage_write_bytes`` (``write_bytes``): bytes the thread dirtied for
  storage (page granularity; 0 on tmpfs).

It is an approximation: I/O done by threads or processes the task starts
itself, or by Dask on other threads (transfers, spilling), is not counted, and
the counters include whatever else the executing thread does inside the task
(imports, logging).

Cost: each thread keeps its counters file open and re-reads it with one
``pread``; our own first read is subtracted from the counts, so a task that does
no I/O records zeros. Measured in ``docs/provenance.md``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ... import attributes as attr

# Positions of the values we use in ``data.split()`` of the counters file:
# rchar, wchar, syscr, syscw, read_bytes, write_bytes.
_ATTRIBUTES = (
    (1, attr.IO_READ_BYTES),
    (3, attr.IO_WRITE_BYTES),
    (5, attr.IO_READ_CALLS),
    (7, attr.IO_WRITE_CALLS),
    (9, attr.IO_STORAGE_READ_BYTES),
    (11, attr.IO_STORAGE_WRITE_BYTES),
)
_BUFFER = 512


def supported() -> bool:
    """Whether this system has per-thread I/O counters (Linux with task accounting)."""
    return os.path.exists(f"/proc/self/task/{threading.get_native_id()}/io")


class _ThreadCounters:
    """The open counters file of one thread, closed when the thread goes away."""

    __slots__ = ("fd",)

    def __init__(self) -> None:
        self.fd = os.open(f"/proc/self/task/{threading.get_native_id()}/io", os.O_RDONLY)

    def __del__(self) -> None:
        os.close(self.fd)


class ThreadIO:
    """Snapshots of the calling thread's I/O counters, and their difference."""

    def __init__(self) -> None:
        self._local = threading.local()

    def snapshot(self) -> bytes:
        """The raw counters of the calling thread now."""
        counters = getattr(self._local, "counters", None)
        if counters is None:
            counters = self._local.counters = _ThreadCounters()
        return os.pread(counters.fd, _BUFFER, 0)

    @staticmethod
    def delta(before: bytes, after: bytes) -> dict[str, Any]:
        """Attributes of the I/O between two snapshots of one thread.

        The counters seen by *after* include the read that took *before*: one
        read call of ``len(before)`` bytes, subtracted here.
        """
        old = before.split()
        new = after.split()
        attributes = {name: int(new[index]) - int(old[index]) for index, name in _ATTRIBUTES}
        attributes[attr.IO_READ_BYTES] -= len(before)
        attributes[attr.IO_READ_CALLS] -= 1
        return attributes
