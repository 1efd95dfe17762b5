"""The filesystem paths of the machine that records an example, and the neutral ones shown instead.

A real run's spans hold paths of the machine that ran it: ``code.file.path`` under
the checkout, ``process.executable.path`` under the Python installation, files
under the home directory. Examples kept in the repository (``docs/data/``, the
trace fixtures) are passed through :func:`neutralize` when they are recorded
(``scripts/gen-docs --record``, ``scripts/record-fixtures``), so that they read
``/home/user/project/...`` and ``/usr/bin/python3.11`` wherever they were made;
``tests/test_docs.py`` checks that no file under ``docs/`` holds one of
:func:`machine_paths`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

NEUTRAL_PROJECT = "/home/user/project"
NEUTRAL_HOME = "/home/user"
NEUTRAL_PYTHON = "/usr"
NEUTRAL_SCRATCH = "/home/user/scratch"
"""What a recording's temporary directory is shown as."""
SHARED_DIRECTORIES = frozenset({"/", "/usr", "/usr/local", "/opt", "/tmp", "/home"})
"""Directories every machine has: a path there says nothing about the machine."""


def machine_paths(scratch: Mapping[str | Path, str] | None = None) -> dict[str, str]:
    """This machine's paths that a recording may hold, each with its neutral replacement.

    The checkout, the Python installation (``sys.prefix``, ``sys.base_prefix``), the
    home directory, and the recording's own *scratch* directories (path: neutral
    path), each as given and as resolved (through symbolic links). Longest first,
    so that a checkout or a Python under the home directory keeps its own name.
    """
    candidates: list[tuple[str | Path, str]] = [
        (REPO_ROOT, NEUTRAL_PROJECT),
        (sys.prefix, NEUTRAL_PYTHON),
        (sys.base_prefix, NEUTRAL_PYTHON),
        (sys.exec_prefix, NEUTRAL_PYTHON),
        (Path.home(), NEUTRAL_HOME),
        *(scratch or {}).items(),
    ]
    found: dict[str, str] = {}
    for path, neutral in candidates:
        for form in (str(path), str(Path(path).resolve())):
            if form not in SHARED_DIRECTORIES and form != neutral and form not in found:
                found[form] = neutral
    return dict(sorted(found.items(), key=lambda item: -len(item[0])))


def path_pattern(paths: Mapping[str, str] | list[str]) -> re.Pattern[str]:
    """Matches any of *paths* as a whole path or a path's leading directories
    (``/work/main`` in ``/work/main/x.py``, not in ``/work/mainline``)."""
    alternatives = "|".join(re.escape(path) for path in sorted(paths, key=len, reverse=True))
    return re.compile(rf"(?:{alternatives})(?![\w.-])")


def neutralize(text: str, scratch: Mapping[str | Path, str] | None = None) -> str:
    """*text* with every path of :func:`machine_paths` replaced by its neutral path."""
    paths = machine_paths(scratch)
    return path_pattern(paths).sub(lambda match: paths[match.group(0)], text)
