"""Write an output file whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ..errors import OutputError


@contextmanager
def replaced_atomically(path: Path, binary: bool = False) -> Iterator[IO[Any]]:
    """A stream whose content replaces *path* once the block ends without an exception.

    It is written under a temporary name beside *path* and renamed at the end,
    so that a failed run never leaves half a file (nor overwrites a good one).
    Raises :class:`~otel_dask_prov.errors.OutputError` if the directory cannot
    be written.
    """
    directory = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as error:
        raise OutputError(str(path), error.strerror or str(error)) from None
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # a temporary file is private; the output is not
        with os.fdopen(handle, "wb" if binary else "w", encoding=None if binary else "utf-8",
                       errors=None if binary else "backslashreplace") as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it, then back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
