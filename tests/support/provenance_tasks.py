"""Task functions whose I/O, code, arguments and failures the provenance tests know."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path


class ProvenanceTestError(ValueError):
    """The exception :func:`write_then_fail` raises."""


def write_known_bytes(path: str, size: int) -> int:
    """Write exactly *size* bytes to *path* with one ``write`` system call."""
    with open(path, "wb", buffering=0) as handle:
        handle.write(b"p" * size)
    return size


def read_whole_file(path: str) -> int:
    with open(path, "rb") as handle:
        return len(handle.read())


def copy_file(source: str, destination: str) -> int:
    """Read *source* and write it to *destination*: two files, two modes."""
    data = Path(source).read_bytes()
    Path(destination).write_bytes(data)
    return len(data)


def write_then_fail(path: str, size: int, message: str) -> int:
    write_known_bytes(path, size)
    raise ProvenanceTestError(message)


def measure_length(value: str, password: str = "") -> int:
    """Takes a secret as an argument, logs it (a careless warning), returns nothing secret."""
    logging.getLogger(__name__).warning("measuring %s with password %s", value, password)
    return len(value) + len(password)


def square(x: int) -> int:
    return x * x


def sum_of_squares(n: int) -> int:
    """Calls :func:`square` exactly *n* times: a known call count for profiles."""
    return sum(square(i) for i in range(n))


def cube(x: int) -> int:
    return x * x * x


def sum_of_cubes_slowly(n: int, seconds: float) -> int:
    """Calls :func:`cube` for about *seconds*, at least *n* times."""
    total, calls, deadline = 0, 0, time.monotonic() + seconds
    while calls < n or time.monotonic() < deadline:
        total += cube(calls)
        calls += 1
    return total


def squares_slowly(n: int, seconds: float) -> int:
    """Calls :func:`square` for about *seconds*, at least *n* times."""
    total, calls, deadline = 0, 0, time.monotonic() + seconds
    while calls < n or time.monotonic() < deadline:
        total += square(calls)
        calls += 1
    return total


def arange(n: int) -> list[int]:
    return list(range(n))


def wait_for(event_file: str, timeout: float) -> str:
    """Block until *event_file* exists (or *timeout*): a task that is still running."""
    deadline = time.monotonic() + timeout
    while not Path(event_file).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return threading.current_thread().name
