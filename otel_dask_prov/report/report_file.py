"""The library call behind ``otel-prov report``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..convert.atomic_output import replaced_atomically
from ..convert.pipeline import ConversionReport, run
from ..convert.progress import Progress
from ..convert.run_summary import FAILED, RunSummaryWriter
from .page import render

PathLike = str | os.PathLike[str]


@dataclass
class ReportResult:
    """What a report holds, for the command's summary line."""

    output: Path
    size: int
    """Bytes of the HTML file."""
    conversion: ConversionReport
    tasks: int
    attempts: int
    failed_attempts: int
    computations: int
    sampled: bool
    """Whether the timeline and task lists show a sample of the attempts."""
    attempts_shown: int

    def summary(self) -> str:
        """One line: where the report is and what it covers."""
        text = (f"wrote {self.output} ({_size(self.size)}): {self.attempts} attempt(s) of "
                f"{self.tasks} task(s) in {self.computations} computation(s)")
        if self.failed_attempts:
            text += f", {self.failed_attempts} failed"
        if self.sampled:
            text += f"; the timeline and task lists show {self.attempts_shown} of them"
        if self.conversion.skipped_lines:
            text += f"; skipped {self.conversion.skipped_lines} invalid line(s)"
        return text


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def write_report(paths: Sequence[PathLike], output: PathLike = "report.html",
                 title: str | None = None, skip_invalid: bool = False,
                 progress: bool = False, parallel: bool | None = None,
                 scheduler: str | None = None) -> ReportResult:
    """Write the HTML report of the trace files (or directories) *paths* to *output*.

    The inputs are read as ``otel-prov convert`` reads them (the same formats,
    *skip_invalid*, *parallel* and *scheduler*: on a Dask cluster, each part of
    the run is summarized by a task and the summaries joined); the file is
    replaced only once complete.
    """
    summary = RunSummaryWriter()
    target = Path(output)
    conversion = run(list(paths), lambda: summary, False, skip_invalid,
                     Progress(enabled=progress), parallel, scheduler, target.parent)
    shown_title = title or f"Dask run report: {', '.join(map(str, paths))}"
    data = summary.data(shown_title)
    page = render(data, shown_title)
    with replaced_atomically(target) as stream:
        stream.write(page)
    run_data = data["run"]
    failed = sum(count for outcome, count in run_data["outcomes"].items() if outcome in FAILED)
    return ReportResult(
        output=target, size=target.stat().st_size, conversion=conversion,
        tasks=run_data["tasks"], attempts=run_data["attempts"], failed_attempts=failed,
        computations=run_data["computations"], sampled=data["limits"]["sampled"],
        attempts_shown=data["limits"]["attempts_kept"])
