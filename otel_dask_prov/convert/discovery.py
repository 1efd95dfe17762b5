"""Which files a conversion reads: files as given, directories searched for trace files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..errors import TraceFormatError

TRACE_SUFFIXES: Final = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz",
                         ".zst", ".binpb")
"""``.zst`` also finds the collector's rotated ``traces.jsonl-<time>.zst``."""
"""Files a directory is searched for; files named explicitly are read whatever their name."""


@dataclass
class InputFile:
    """One input file and what the first pass (:mod:`.scan`) learned about it."""

    path: Path
    shown: str
    """The path as the user would recognize it (as given, or under the given directory)."""
    explicit: bool
    """Named on the command line (an unreadable one is an error, not a warning)."""
    size: int = 0
    """Bytes read, compressed as they are on disk."""
    sha256: str = ""
    compressed: bool = False
    layout: str = "lines"
    """``lines`` (a JSON value per line) or ``document`` (the whole file is one unit)."""
    store: Path | None = None
    """Decompressed copy of the useful lines of a gzip-compressed file."""
    framed: str = ""
    """The format of a file read frame by frame in place (zstd frames, length-prefixed
    messages): its units are frames, decoded again when read back."""


def discover(paths: list[str | os.PathLike[str]]) -> list[InputFile]:
    """The files to read: files as given, directories searched recursively, sorted."""
    found: list[InputFile] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(
                (child for child in path.rglob("*")
                 if child.is_file() and child.name.lower().endswith(TRACE_SUFFIXES)),
                key=lambda child: child.relative_to(path).as_posix(),
            )
            candidates = [(child, str(child), False) for child in files]
        elif path.exists():
            candidates = [(path, str(given), True)]
        else:
            raise TraceFormatError(str(given), None, "no such file or directory")
        for file, shown, explicit in candidates:
            resolved = file.resolve()
            if resolved not in seen:
                seen.add(resolved)
                found.append(InputFile(file, shown, explicit))
    return found


def size_on_disk(file: InputFile) -> int:
    """The size of *file* now, 0 if it cannot be read (the scan reports why)."""
    try:
        return file.path.stat().st_size
    except OSError:
        return 0
