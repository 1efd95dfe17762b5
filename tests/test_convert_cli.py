"""``otel-prov convert`` as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import prov

from otel_dask_prov.convert import convert

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
RUN = FIXTURES / "plain"
COMMAND = [sys.executable, "-m", "otel_dask_prov.cli"]


def otel_prov(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *arguments], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_prov_json_goes_to_stdout_and_a_summary_to_stderr() -> None:
    done = otel_prov("convert", str(RUN))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document["prefix"]) == {"dask", "run"}
    assert len(document["bundle"]) == 2
    assert done.stderr.startswith("otel-prov: converted 2 trace(s) from 3 file(s) into ")
    assert "\r" not in done.stderr  # no progress bar: stderr is not a terminal


def test_the_output_file_name_chooses_the_format(tmp_path: Path) -> None:
    done = otel_prov("convert", str(RUN), "-o", str(tmp_path / "run.provn"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    text = (tmp_path / "run.provn").read_text()
    assert text.startswith("document\n") and text.count("  bundle run:trace.") == 2
    assert prov.read(str(tmp_path / "run.provn"), format="provn").has_bundles()


def test_the_output_file_gets_the_permissions_the_umask_gives(tmp_path: Path) -> None:
    done = subprocess.run(["sh", "-c", 'umask 022 && exec "$@"', "sh", *COMMAND, "convert",
                           str(RUN), "-o", str(tmp_path / "run.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run.json").stat().st_mode & 0o777 == 0o644  # not the temporary's 0600


def test_flatten_and_quiet(tmp_path: Path) -> None:
    done = otel_prov("convert", str(RUN), "--flatten", "-f", "provn", "--quiet")
    assert done.returncode == 0
    assert done.stderr == ""
    assert "bundle" not in done.stdout and "activity(run:task.inc-" in done.stdout


def test_help_lists_the_formats() -> None:
    assert "convert" in otel_prov("--help").stdout
    help_text = otel_prov("convert", "--help").stdout
    for word in ("--flatten", "--skip-invalid", "--quiet", "json, provn, xml, jsonld"):
        assert word in help_text


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """With stderr on a terminal, the phases show as a bar; the document still goes to -o."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([*COMMAND, "convert", str(RUN), "-o", str(tmp_path / "run.json")],
                              stderr=follower, stdout=subprocess.DEVNULL, timeout=120)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal is closed once everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert b"\rreading" in shown and b"\rconverting" in shown and b"100%" in shown
    assert json.loads((tmp_path / "run.json").read_text())["bundle"]


def test_converted_runs_pass_otel_prov_validate(tmp_path: Path) -> None:
    """Every real run, bundled and flattened, as PROV-JSON and PROV-N, is valid PROV."""
    documents = []
    for scenario in ("plain", "erred", "retry", "worker-killed", "fused"):
        for flatten, suffix in ((False, "json"), (True, "provn")):
            path = tmp_path / f"{scenario}-{'flat' if flatten else 'bundled'}.{suffix}"
            convert([FIXTURES / scenario], path, flatten=flatten)
            documents.append(str(path))
    done = otel_prov("validate", *documents)
    assert done.returncode == 0, done.stdout + done.stderr

