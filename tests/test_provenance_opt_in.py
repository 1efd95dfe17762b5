"""Opt-in provenance on real ``dask scheduler`` / ``dask worker`` processes.

Every opt-in part is switched on, through ``DASK_OTEL_DASK_PROV__<KEY>``
variables: argument values (capped and
redacted), files opened, result hashes, Yappi profiles, tracebacks, the full
package list, the changed Dask config, an environment allowlist, and Darshan
(whose runtime is not installed here: the worker says so and goes on).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import dask
import pytest
from dask.base import tokenize
from distributed import Client

from otel_dask_prov import attributes as attr
from otel_dask_prov.capture.probes.profiling import BUSY
from tests.support.cluster import DaskProcesses
from tests.support.log_records import read_log_records
from tests.support.provenance_tasks import (
    arange,
    copy_file,
    measure_length,
    squares_slowly,
    sum_of_cubes_slowly,
    sum_of_squares,
    write_then_fail,
)
from tests.support.traces import Span, read_spans
from tests.support.workloads import inc

pytestmark = pytest.mark.slow

MAX_ARGUMENT = 64
SETTINGS_ENV = {
    "DASK_OTEL_DASK_PROV__RECORD_ARGUMENTS": "True",
    "DASK_OTEL_DASK_PROV__RECORD_FILES": "True",
    "DASK_OTEL_DASK_PROV__RESULT_HASH": "True",
    "DASK_OTEL_DASK_PROV__YAPPI": "True",
    "DASK_OTEL_DASK_PROV__RECORD_TRACEBACKS": "True",
    "DASK_OTEL_DASK_PROV__RECORD_PACKAGES": "True",
    "DASK_OTEL_DASK_PROV__RECORD_DASK_CONFIG": "True",
    "DASK_OTEL_DASK_PROV__DARSHAN": "True",
    "DASK_OTEL_DASK_PROV__ARGUMENT_MAX_BYTES": str(MAX_ARGUMENT),
    "DASK_OTEL_DASK_PROV__ENVIRONMENT_ALLOWLIST": "PROVENANCE_ALLOWED_*",
    "DASK_DISTRIBUTED__WORKER__PROFILE__INTERVAL": "20ms",
}


class OptInRun:
    """One cluster with every opt-in part on, the work it ran, and its spans."""

    def __init__(self, workdir: Path) -> None:
        self.keyword_secret = "kw-" + uuid.uuid4().hex
        self.environment_secret = "env-" + uuid.uuid4().hex
        self.cluster = DaskProcesses(
            workdir, n_workers=1, nthreads=2, env={
                **SETTINGS_ENV,
                "PROVENANCE_ALLOWED_COLOR": "blue",
                "PROVENANCE_ALLOWED_TOKEN": self.environment_secret,
                "PROVENANCE_API_TOKEN": self.environment_secret,
            })
        self.source = workdir / "source.bin"
        self.destination = workdir / "destination.bin"
        self.spans: list[Span] = []

    def run(self) -> None:
        self.source.write_bytes(b"s" * 1000)
        with self.cluster:
            with self.cluster.client() as client:
                self._submit(client)
            self.cluster.stop()
        self.spans = read_spans([self.cluster.trace_dir])

    def _submit(self, client: Client) -> None:
        long_text = "x" * 200
        first = client.submit(measure_length, long_text, password=self.keyword_secret, key="args")
        assert client.submit(inc, first, key="dependency-arg").result() == 201 + len(self.keyword_secret)
        assert client.submit(measure_length, self.environment_secret, key="masked-arg").result()
        assert client.submit(copy_file, str(self.source), str(self.destination),
                             key="copy").result() == 1000
        assert client.submit(arange, 1000, key="hashed").result() == list(range(1000))
        assert client.submit(sum_of_squares, 1000, key="profiled").result()
        concurrent = [client.submit(squares_slowly, 10, 0.5, key="squares"),
                      client.submit(sum_of_cubes_slowly, 10, 0.5, key="cubes")]
        client.gather(concurrent)
        failing = client.submit(write_then_fail, str(self.destination), 1, "with traceback",
                                key="fails")
        with pytest.raises(ValueError):
            failing.result()

    def execution(self, key: str) -> dict[str, Any]:
        found = [s for s in self.spans if s.kind == attr.RECORD_TASK_EXECUTION and s.key == key]
        assert len(found) == 1, f"{len(found)} executions of {key}"
        return found[0].attributes

    def worker_resource(self) -> dict[str, Any]:
        return next(s.resource for s in self.spans if s.service == attr.WORKER_SERVICE)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> OptInRun:
    pytest.importorskip("yappi", reason="the yappi setting needs Yappi (pip install yappi)")
    opt_in = OptInRun(tmp_path_factory.mktemp("provenance-opt-in"))
    opt_in.run()
    return opt_in


def test_literal_arguments_are_recorded_capped_and_redacted(run: OptInRun) -> None:
    arguments = json.loads(run.execution("args")[attr.TASK_ARGUMENTS])
    assert arguments[0]["position"] == 0 and arguments[0]["type"] == "str"
    assert len(arguments[0]["value"]) <= MAX_ARGUMENT
    assert arguments[0]["value"].startswith("'xxxx") and "..." in arguments[0]["value"]
    assert arguments[1] == {"name": "password", "value": "<redacted>"}
    assert json.loads(run.execution("dependency-arg")[attr.TASK_ARGUMENTS]) == [
        {"position": 0, "key": "args"}]
    masked = json.loads(run.execution("masked-arg")[attr.TASK_ARGUMENTS])
    assert masked == [{"position": 0, "type": "str", "value": "'<redacted>'"}]


def test_secrets_stay_out_even_with_everything_on(run: OptInRun) -> None:
    logged = {log.attributes[attr.TASK_KEY]: log.body
              for log in read_log_records([run.cluster.trace_dir])}
    assert logged["args"].endswith("with password <redacted>")  # the task logged its secrets
    assert logged["masked-arg"] == "measuring <redacted> with password "
    for path in run.cluster.trace_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert run.keyword_secret.encode() not in content, path
            assert run.environment_secret.encode() not in content, path


def test_files_opened_by_a_task_are_listed_with_their_modes(run: OptInRun) -> None:
    copy = run.execution("copy")
    assert copy[attr.IO_FILES] == [str(run.source), str(run.destination)]
    assert copy[attr.IO_FILE_MODES] == ["r", "w"]
    assert copy[attr.IO_READ_BYTES] == 1000 and copy[attr.IO_WRITE_BYTES] == 1000
    assert attr.IO_FILES not in run.execution("profiled")


def test_results_carry_a_content_hash_that_matches_tokenize(run: OptInRun) -> None:
    assert run.execution("hashed")[attr.TASK_RESULT_HASH] == tokenize(
        list(range(1000)), ensure_deterministic=True)
    assert attr.TASK_RESULT_HASH not in run.execution("fails")


def test_a_yappi_profile_covers_the_task_function_and_its_callees(run: OptInRun) -> None:
    profiled = run.execution("profiled")
    assert profiled[attr.PROFILE_YAPPI_CLOCK] == "cpu"
    functions = json.loads(profiled[attr.PROFILE_YAPPI])
    assert functions[0]["name"] == "sum_of_squares" and functions[0]["calls"] == 1
    square = next(f for f in functions if f["name"] == "square")
    assert square["calls"] == 1000
    assert {f["name"] for f in functions} == {"sum_of_squares", "<genexpr>", "sum", "square"}
    assert all(f["file"].endswith("provenance_tasks.py") or f["file"] == "builtins"
               for f in functions)  # nothing of Dask's task runner, nothing of ours


def test_a_profile_never_holds_another_threads_task(run: OptInRun) -> None:
    squares, cubes = run.execution("squares"), run.execution("cubes")
    profiled = [e for e in (squares, cubes) if attr.PROFILE_YAPPI in e]
    skipped = [e for e in (squares, cubes) if attr.PROFILE_SKIPPED in e]
    assert len(profiled) == len(skipped) == 1  # they ran at the same time on two threads
    assert skipped[0][attr.PROFILE_SKIPPED] == BUSY
    names = {f["name"] for f in json.loads(profiled[0][attr.PROFILE_YAPPI])}
    own, other = ("square", "cube") if profiled[0] is squares else ("cube", "square")
    assert own in names and other not in names


def test_a_failure_carries_its_stacktrace_when_asked(run: OptInRun) -> None:
    failed = next(s for s in run.spans
                  if s.kind == attr.RECORD_TASK_EXECUTION and s.key == "fails")
    event = next(e for e in failed.events if e["name"] == attr.EXCEPTION_EVENT)
    stacktrace = event["attributes"][attr.EXCEPTION_STACKTRACE]
    assert "write_then_fail" in stacktrace and "ProvenanceTestError" in stacktrace


def test_the_worker_resource_has_the_opted_in_deployment_details(run: OptInRun) -> None:
    resource = run.worker_resource()
    assert resource[attr.ENVIRONMENT_PREFIX + "PROVENANCE_ALLOWED_COLOR"] == "blue"
    assert attr.ENVIRONMENT_PREFIX + "PROVENANCE_ALLOWED_TOKEN" not in resource
    assert f"dask=={dask.__version__}" in resource[attr.PACKAGES]
    assert len(resource[attr.PACKAGES]) == resource[attr.PACKAGES_COUNT]
    config = json.loads(resource[attr.DASK_CONFIG])
    assert config["distributed.worker.profile.interval"] == "20ms"
    assert config["otel-dask-prov.record-files"] is True
    assert "distributed.scheduler.allowed-failures" not in config  # unchanged defaults are left out


def test_darshan_without_its_runtime_is_reported_once_and_harmless(run: OptInRun) -> None:
    logs = run.cluster.logs()
    assert logs.count("does not run under the Darshan runtime") == 1
    assert not [s for s in run.spans if s.kind == attr.RECORD_WORKER]
    assert "tracing error" not in logs and "provenance recording failed" not in logs
