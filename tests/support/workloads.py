"""Small task functions for test workloads, importable by worker processes."""

from __future__ import annotations

import time
from pathlib import Path


def inc(x: int) -> int:
    return x + 1


def add(x: int, y: int) -> int:
    return x + y


def total(values: list[int]) -> int:
    return sum(values)


def div(x: float, y: float) -> float:
    return x / y


def fail_once(marker: str, value: int) -> int:
    """Raise on the first call (per *marker* file), succeed afterwards: for ``retries=``."""
    path = Path(marker)
    if not path.exists():
        path.write_text("failed once")
        raise RuntimeError(f"first attempt fails on purpose ({path.name})")
    return value


def slow(x: int, seconds: float) -> int:
    time.sleep(seconds)
    return x


def save(path: str, value: int) -> int:
    """Write *value* to the file *path*; return it."""
    Path(path).write_text(str(value))
    return value


def load(path: str) -> int:
    """The integer in the file *path*."""
    return int(Path(path).read_text())
