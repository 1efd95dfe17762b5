"""A progress bar on stderr, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import IO


class Progress:
    """Two phases (reading, converting), each a fraction of a known total.

    Silent unless *enabled* and *stream* is a terminal; redraws at most ten times
    a second, so that updating it per unit costs nothing measurable.
    """

    def __init__(self, enabled: bool = True, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self._label = ""
        self._total = 1
        self._done = 0
        self._drawn = 0.0

    def phase(self, label: str, total: int) -> None:
        self.end()
        self._label, self._total, self._done = label, max(total, 1), 0

    def advance(self, amount: int = 1) -> None:
        self._done += amount
        if self.enabled:
            now = time.monotonic()
            if now - self._drawn >= 0.1:
                self._drawn = now
                self._draw()

    def _draw(self) -> None:
        fraction = min(self._done / self._total, 1.0)
        filled = int(fraction * 30)
        self.stream.write(f"\r{self._label:<10} [{'#' * filled}{'.' * (30 - filled)}] "
                          f"{fraction:4.0%}")
        self.stream.flush()

    def end(self) -> None:
        if self.enabled and self._label:
            self._done = self._total
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
        self._label = ""
