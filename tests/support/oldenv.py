"""The oldest supported dask/distributed in its own virtualenv, and a client program to run in it.

:func:`old_distributed_env` builds (once) a virtualenv with ``dask`` and
``distributed`` pinned to :data:`OLDEST_DISTRIBUTED` and this project installed
into it (not editable, resolved together with the pins, so the lower bounds in
``pyproject.toml`` are checked too). It is cached in
``${OTEL_DASK_PROV_CACHE:-~/.cache/otel-dask-prov}/venv-distributed-<version>-<hash>``,
where the hash covers the pins and the interpreter; when the project's sources
change, only the project is reinstalled.

Run with the virtualenv's interpreter, this file is the client of the old cluster
(a client of the current ``distributed`` cannot talk to an old scheduler)::

    <venv>/bin/python tests/support/oldenv.py SCHEDULER_FILE MARKER

It submits the workload of ``tests/test_tracing_processes.py`` (a small tree, a
failing task and its dependent, a task that succeeds on retry) and prints what
it observed as one JSON line. Its module level imports only the standard
library, so the same file serves both interpreters.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

OLDEST_DISTRIBUTED = "2023.7.1"
"""The oldest dask/distributed release the plugins support (see ``pyproject.toml``)."""

REQUIREMENTS = (
    f"dask=={OLDEST_DISTRIBUTED}",
    f"distributed=={OLDEST_DISTRIBUTED}",
    # to build and reinstall this project offline (--no-build-isolation)
    "setuptools>=69",
    "wheel",
)
PACKAGE_FILES = ("pyproject.toml", "README.md", "otel_dask_prov")
"""What ``pip install`` of the project reads: copied out, so the checkout stays clean."""

PIP_TIMEOUT = 600


class OldEnvUnavailableError(Exception):
    """The virtualenv cannot be built here; the message says why (a test skip reason)."""


class OldEnv:
    """A built virtualenv: its interpreter and its hyphenated dask commands."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.python = path / "bin" / "python"
        self.dask_scheduler = path / "bin" / "dask-scheduler"
        self.dask_worker = path / "bin" / "dask-worker"

    def run_client(self, scheduler_file: Path, marker: Path, timeout: float = 180) -> dict[str, Any]:
        """Run this file's client program in the virtualenv; return what it printed."""
        done = subprocess.run(
            [str(self.python), __file__, str(scheduler_file), str(marker)],
            capture_output=True, text=True, timeout=timeout, env=_clean_env(), check=False,
            cwd=scheduler_file.parent,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the old-distributed client failed:\n{done.stderr}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def cache_root() -> Path:
    default = Path.home() / ".cache" / "otel-dask-prov"
    return Path(os.environ.get("OTEL_DASK_PROV_CACHE") or default)


def env_path() -> Path:
    """Where the virtualenv for :data:`REQUIREMENTS` and this interpreter lives."""
    text = "\n".join([sys.version, *REQUIREMENTS])
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return cache_root() / f"venv-distributed-{OLDEST_DISTRIBUTED}-{digest}"


def old_distributed_env(repo_root: Path) -> OldEnv:
    """The virtualenv with the oldest distributed and this checkout's project installed.

    Raises :class:`OldEnvUnavailableError` when PyPI cannot be reached to build it.
    """
    path = env_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        complete = path / ".complete"
        if not complete.exists():
            shutil.rmtree(path, ignore_errors=True)
            venv.create(path, with_pip=True, clear=True)
            _pip(path, "install", *REQUIREMENTS)
            complete.touch()
        _install_project(path, repo_root)
    return OldEnv(path)


def _install_project(path: Path, repo_root: Path) -> None:
    """(Re)install the project from a copy of *repo_root* unless it is already current."""
    stamp = path / ".project-hash"
    digest = _project_hash(repo_root)
    if stamp.exists() and stamp.read_text() == digest:
        return
    with tempfile.TemporaryDirectory(prefix="otel-dask-prov-src-") as tmp:
        source = Path(tmp) / "otel-dask-prov"
        source.mkdir()
        for name in PACKAGE_FILES:
            original = repo_root / name
            if original.is_dir():
                shutil.copytree(original, source / name,
                                ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(original, source / name)
        _pip(path, "uninstall", "--yes", "otel-dask-prov")
        # resolved together with the pins: fails if our lower bounds exclude them
        _pip(path, "install", "--no-build-isolation", str(source), *REQUIREMENTS[:2])
    stamp.write_text(digest)


def _project_hash(repo_root: Path) -> str:
    digest = hashlib.sha256()
    for name in PACKAGE_FILES:
        root = repo_root / name
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(repo_root)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def _pip(path: Path, *args: str) -> None:
    command = [str(path / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False,
                          env=_clean_env())
    if done.returncode == 0:
        return
    if not _pypi_reachable(path):
        raise OldEnvUnavailableError(
            f"cannot build the distributed=={OLDEST_DISTRIBUTED} virtualenv: PyPI is not reachable"
        )
    raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


def _pypi_reachable(path: Path) -> bool:
    """Whether pip can fetch the pinned distributed wheel (pip's own index and proxy settings)."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [str(path / "bin" / "python"), "-m", "pip", "download", "--no-deps", "--dest", tmp,
             "--timeout", "15", "--retries", "1", f"distributed=={OLDEST_DISTRIBUTED}"],
            capture_output=True, timeout=120, env=_clean_env(), check=False,
        )
    return done.returncode == 0


def _clean_env() -> dict[str, str]:
    """This process's environment without anything that would point Python elsewhere."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV"}
    return {name: value for name, value in os.environ.items() if name not in drop}


# ---------------------------------------------------------------------------
# The client program, run by the virtualenv's interpreter
# ---------------------------------------------------------------------------
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


def run_workload(scheduler_file: str, marker: str) -> dict[str, Any]:
    """Submit the workload to the cluster of *scheduler_file*; return what came back."""
    import dask
    import distributed

    dask.config.set({"distributed.diagnostics.computations.nframes": 1})
    with distributed.Client(scheduler_file=scheduler_file, timeout=30) as client:
        client.wait_for_workers(2, timeout=60)
        leaves = [dask.delayed(inc)(i, dask_key_name=f"inc-{i}") for i in range(4)]
        pairs = [
            dask.delayed(add)(leaves[0], leaves[1], dask_key_name="add-0"),
            dask.delayed(add)(leaves[2], leaves[3], dask_key_name="add-1"),
        ]
        tree = dask.delayed(total)(pairs, dask_key_name="total")
        tree_result = client.compute(tree).result()

        failed = client.submit(div, 1, 0, key="div-by-zero")
        blamed = client.submit(inc, failed, key="inc-of-failure")
        try:
            blamed.result()
            error = None
        except ZeroDivisionError as exc:
            error = type(exc).__name__

        retried = client.submit(fail_once, marker, 42, key="flaky", retries=1)
        retried_result = retried.result()
    return {
        "distributed": distributed.__version__,
        "tree": tree_result,
        "error": error,
        "retried": retried_result,
    }


if __name__ == "__main__":
    print(json.dumps(run_workload(sys.argv[1], sys.argv[2])))
