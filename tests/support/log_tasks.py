"""Task functions that log, print and fail, for the per-attempt log tests.

Workers import them from ``tests.support`` (the test clusters put the repository
on ``PYTHONPATH``). Two of them meet through files so that they run at the same
time on the two threads of one worker.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

logger = logging.getLogger("science.pipeline")


class CalibrationError(RuntimeError):
    """What a failing task of these tests raises."""


def _wait_for(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def warn_then_fail(meeting: str) -> None:
    """Wait until the quiet task runs, log a warning while it does, then fail."""
    folder = Path(meeting)
    _wait_for(folder / "quiet-started")
    logger.warning("calibration file %s is stale", "cal-2026.nc")
    (folder / "warned").touch()
    raise CalibrationError("calibration failed")


def quiet_while_the_other_logs(meeting: str) -> int:
    """Log nothing, running while :func:`warn_then_fail` logs on the other thread."""
    folder = Path(meeting)
    (folder / "quiet-started").touch()
    _wait_for(folder / "warned")
    return 1


def fail_the_first_time(marker: str) -> str:
    """Log which attempt this is; the first attempt (no *marker* yet) fails."""
    path = Path(marker)
    attempt = 2 if path.exists() else 1
    logger.warning("attempt %d starting", attempt)
    if attempt == 1:
        path.touch()
        raise CalibrationError("first attempt fails")
    return "second attempt succeeded"


def log_in_a_loop(times: int) -> int:
    """Log *times* warnings (more than an attempt keeps)."""
    for number in range(times):
        logger.warning("step %d of %d", number, times)
    return times


def log_at_every_level() -> str:
    """One record per level from DEBUG to ERROR, the last with the exception being handled."""
    logger.setLevel(logging.DEBUG)  # the task's own logger lets everything through
    logger.debug("debug detail")
    logger.info("info progress")
    logger.warning("warning: unusual input")
    try:
        {}["missing"]
    except KeyError:
        logger.exception("error: lookup failed")
    return "logged"


def print_progress() -> str:
    """Print two lines and an unfinished third one, and one line to stderr."""
    import sys

    print("reading input.nc")
    print("wrote output.nc\nunfinished", end="")
    print("disk almost full", file=sys.stderr)
    return "printed"
