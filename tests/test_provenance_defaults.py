"""Provenance with the default settings, on real ``dask scheduler`` / ``dask worker`` processes.

Defaults record code, deployment and per-task I/O, and keep secrets out: a
secret in the environment of every process and passed to a task as an
argument must not appear in any trace file.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import dask
import numpy
import pytest
from distributed import Client

from otel_dask_prov import attributes as attr
from otel_dask_prov import prov_vocabulary as prov
from otel_dask_prov.capture.probes import record_client
from otel_dask_prov.capture.probes.code import function_digest
from otel_dask_prov.convert import convert
from tests.support.cluster import REPO_ROOT, DaskProcesses
from tests.support.provenance_tasks import (
    measure_length,
    read_whole_file,
    wait_for,
    write_known_bytes,
    write_then_fail,
)
from tests.support.traces import Span, read_spans
from tests.support.workloads import fail_once, inc
from tests.test_convert_provenance import records, value

pytestmark = pytest.mark.slow

SECRET_VARIABLE = "PROVENANCE_TEST_PASSWORD"
PLAIN_VARIABLE = "PROVENANCE_TEST_SETTING"
KNOWN_BYTES = 12345
FAILING_BYTES = 777
NOTEBOOK = """
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
cells = [
    "from distributed import Client\\nclient = Client({address!r})",
    "def triple(x):\\n    return 3 * x",
    "answer = client.submit(triple, 14, key='notebook-triple').result()\\nassert answer == 42",
    "client.close()",
]
for cell in cells:
    shell.run_cell(cell, store_history=True).raise_error()
"""


class DefaultRun:
    """One cluster with default provenance settings, the work it ran, and its spans."""

    def __init__(self, workdir: Path) -> None:
        self.secret = "s3cr3t-" + uuid.uuid4().hex
        self.plain_secret = "hidden-" + uuid.uuid4().hex
        self.cluster = DaskProcesses(workdir, n_workers=1, env={
            SECRET_VARIABLE: self.secret, PLAIN_VARIABLE: self.plain_secret})
        self.data_file = workdir / "known.bin"
        self.spans: list[Span] = []
        self.lambda_digest = ""
        self.notebook_error = ""

    def run(self) -> None:
        with self.cluster, dask.config.set({"distributed.diagnostics.computations.nframes": 1}):
            with self.cluster.client() as client:
                self.client_description = record_client(client)
                self._submit(client)
            self._run_notebook()
            with self.cluster.client() as undescribed:  # no record_client, no client preload
                assert undescribed.submit(inc, 3, key="undescribed-client").result() == 4
            self.cluster.stop()
        self.spans = read_spans([self.cluster.trace_dir])

    def _submit(self, client: Client) -> None:
        path = str(self.data_file)
        assert client.submit(write_known_bytes, path, KNOWN_BYTES, key="write-known").result() == KNOWN_BYTES
        assert client.submit(read_whole_file, path, key="read-known").result() == KNOWN_BYTES
        assert client.submit(inc, 1, key="no-io").result() == 2
        secret = os.environ.get("UNUSED", self.secret)  # never a literal in the submitting code
        assert client.submit(measure_length, secret, password=secret, key="secret-arg").result()
        add_one = lambda x: x + 1  # noqa: E731 - shipped by value: a bytecode digest
        self.lambda_digest = function_digest(add_one) or ""
        assert client.submit(add_one, 1, key="lambda-task").result() == 2
        failing = client.submit(write_then_fail, str(self.data_file.with_suffix(".fail")),
                                FAILING_BYTES, "known failure", key="fails")
        with pytest.raises(ValueError, match="known failure"):
            failing.result()
        marker = self.cluster.workdir / "fail-once.marker"
        assert client.submit(fail_once, str(marker), 5, key="flaky", retries=1).result() == 5
        self._cancel_a_running_task(client)

    def _cancel_a_running_task(self, client: Client) -> None:
        release = self.cluster.workdir / "release"
        future = client.submit(wait_for, str(release), 30.0, key="cancelled-task")
        while "cancelled-task" not in {key for keys in client.processing().values() for key in keys}:
            pass
        future.cancel()
        while client.run_on_scheduler(_scheduler_knows, key="cancelled-task"):
            pass
        release.touch()
        client.submit(inc, 2, key="after-cancel").result()  # the worker has finished the thread

    def _run_notebook(self) -> None:
        done = subprocess.run(
            [sys.executable, "-c", NOTEBOOK.format(address=self.cluster.address)],
            env={**os.environ, "DASK_DISTRIBUTED__CLIENT__PRELOAD": "otel_dask_prov",
                 "PYTHONPATH": str(REPO_ROOT)},
            capture_output=True, text=True, timeout=120, check=False)
        self.notebook_error = done.stderr if done.returncode else ""

    def one(self, kind: str, key: str) -> Span:
        found = [s for s in self.spans if s.kind == kind and s.key == key]
        assert len(found) == 1, f"{len(found)} {kind} spans for {key}"
        return found[0]

    def root_of(self, span: Span) -> Span:
        return next(s for s in self.spans
                    if s.trace_id == span.trace_id and s.kind == attr.RECORD_COMPUTATION)


def _scheduler_knows(dask_scheduler: Any, key: str) -> bool:
    return key in dask_scheduler.tasks


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> DefaultRun:
    pytest.importorskip("IPython", reason="the notebook test runs cells in a real IPython shell")
    default_run = DefaultRun(tmp_path_factory.mktemp("provenance-defaults"))
    default_run.run()
    return default_run


def test_secrets_appear_nowhere_in_the_traces(run: DefaultRun) -> None:
    files = [path for path in run.cluster.trace_dir.rglob("*") if path.is_file()]
    assert files
    for path in files:
        content = path.read_bytes()
        assert run.secret.encode() not in content, path
        assert run.plain_secret.encode() not in content, path
    execution = run.one(attr.RECORD_TASK_EXECUTION, "secret-arg")
    assert attr.TASK_ARGUMENTS not in execution.attributes  # opt-in only
    assert not [name for span in run.spans for name in span.resource
                if name.startswith(attr.ENVIRONMENT_PREFIX)]


def test_each_execution_names_its_function_file_line_and_source_digest(run: DefaultRun) -> None:
    execution = run.one(attr.RECORD_TASK_EXECUTION, "write-known")
    source = inspect.getsource(write_known_bytes)
    assert execution.attributes[attr.CODE_FUNCTION_NAME] == (
        "tests.support.provenance_tasks.write_known_bytes")
    assert execution.attributes[attr.TASK_FUNCTION_DIGEST] == (
        "source-sha256:" + hashlib.sha256(source.encode()).hexdigest())
    assert execution.attributes[attr.CODE_FILE_PATH] == inspect.getsourcefile(write_known_bytes)
    assert execution.attributes[attr.CODE_LINE_NUMBER] == (
        write_known_bytes.__code__.co_firstlineno)


def test_a_function_shipped_by_value_gets_a_bytecode_digest(run: DefaultRun) -> None:
    execution = run.one(attr.RECORD_TASK_EXECUTION, "lambda-task")
    assert execution.attributes[attr.CODE_FUNCTION_NAME].endswith("<lambda>")
    assert run.lambda_digest.startswith("bytecode-sha256:")
    assert execution.attributes[attr.TASK_FUNCTION_DIGEST] == run.lambda_digest
    assert attr.CODE_FILE_PATH not in execution.attributes  # cloudpickle ships no file name
    assert execution.attributes[attr.CODE_LINE_NUMBER] > 1


def test_the_submitting_code_is_on_the_computation_span(run: DefaultRun) -> None:
    root = run.root_of(run.one(attr.RECORD_TASK_ATTEMPT, "write-known"))
    assert "write_known_bytes" in root.attributes[attr.COMPUTATION_CODE]
    assert root.attributes[attr.COMPUTATION_CODE_FILENAME] == __file__
    assert attr.NOTEBOOK_CELL not in root.attributes


def test_per_task_io_counts_what_the_task_read_and_wrote(run: DefaultRun) -> None:
    written = run.one(attr.RECORD_TASK_EXECUTION, "write-known").attributes
    assert written[attr.IO_WRITE_BYTES] == KNOWN_BYTES
    assert written[attr.IO_WRITE_CALLS] == 1
    read = run.one(attr.RECORD_TASK_EXECUTION, "read-known").attributes
    assert read[attr.IO_READ_BYTES] == KNOWN_BYTES
    assert read[attr.IO_READ_CALLS] >= 1
    assert read[attr.IO_WRITE_BYTES] == 0
    idle = run.one(attr.RECORD_TASK_EXECUTION, "no-io").attributes
    for name in (attr.IO_READ_BYTES, attr.IO_WRITE_BYTES, attr.IO_READ_CALLS, attr.IO_WRITE_CALLS):
        assert idle[name] == 0, name


def test_every_process_describes_its_deployment(run: DefaultRun) -> None:
    resources = {span.service: span.resource for span in run.spans}
    assert set(resources) == {attr.SCHEDULER_SERVICE, attr.WORKER_SERVICE}
    for resource in resources.values():
        assert resource[attr.PACKAGES_DIGEST].startswith("sha256:")
        assert resource[attr.PACKAGES_COUNT] > 10
        assert resource[attr.PACKAGE_VERSION_PREFIX + "numpy"] == numpy.__version__
        assert resource[attr.OS_DESCRIPTION]
        assert resource[attr.PROCESS_EXECUTABLE_PATH]
        assert attr.PACKAGES not in resource  # opt-in: record_packages
        assert attr.DASK_CONFIG not in resource  # opt-in: record_dask_config
    assert (resources[attr.SCHEDULER_SERVICE][attr.PACKAGES_DIGEST]
            == resources[attr.WORKER_SERVICE][attr.PACKAGES_DIGEST])


def test_the_client_description_is_on_its_computations(run: DefaultRun) -> None:
    root = run.root_of(run.one(attr.RECORD_TASK_ATTEMPT, "write-known"))
    client = {name[len(attr.CLIENT_PREFIX):]: value for name, value in root.attributes.items()
              if name.startswith(attr.CLIENT_PREFIX)}
    assert client[attr.HOST_NAME] == socket.gethostname()
    assert client[attr.PROCESS_PID] == os.getpid()
    head = subprocess.run(["git", "-C", os.getcwd(), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=False)
    if head.returncode == 0:
        assert client[attr.VCS_REVISION] == head.stdout.strip()
        assert isinstance(client[attr.VCS_DIRTY], bool)
    notebook_root = run.root_of(run.one(attr.RECORD_TASK_ATTEMPT, "notebook-triple"))
    assert notebook_root.attributes[attr.CLIENT_PREFIX + attr.HOST_NAME] == socket.gethostname()
    assert notebook_root.attributes[attr.CLIENT_PREFIX + attr.PROCESS_PID] != os.getpid()
    undescribed_root = run.root_of(run.one(attr.RECORD_TASK_ATTEMPT, "undescribed-client"))
    assert not [name for name in undescribed_root.attributes if name.startswith(
        attr.CLIENT_PREFIX + "host")]  # that client did not describe itself


def test_a_notebook_cell_is_named_on_the_computation_and_the_function(run: DefaultRun) -> None:
    assert not run.notebook_error, run.notebook_error
    attempt = run.one(attr.RECORD_TASK_ATTEMPT, "notebook-triple")
    root = run.root_of(attempt)
    assert root.attributes[attr.NOTEBOOK_CELL] == "In[3]"
    assert root.attributes[attr.COMPUTATION_CODE_FILENAME].startswith("<ipython-input-3-")
    assert "client.submit(triple" in root.attributes[attr.COMPUTATION_CODE]
    execution = run.one(attr.RECORD_TASK_EXECUTION, "notebook-triple")
    assert execution.attributes[attr.NOTEBOOK_CELL] == "In[2]"  # told by the client preload
    assert execution.attributes[attr.CODE_FILE_PATH].startswith("<ipython-input-2-")
    assert execution.attributes[attr.CODE_FUNCTION_NAME] == "__main__.triple"
    assert execution.attributes[attr.TASK_FUNCTION_DIGEST].startswith("bytecode-sha256:")


def test_a_failure_keeps_its_exception_its_io_and_no_stacktrace(run: DefaultRun) -> None:
    execution = run.one(attr.RECORD_TASK_EXECUTION, "fails")
    assert execution.status_code == 2
    assert execution.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_ERROR
    assert execution.attributes[attr.IO_WRITE_BYTES] == FAILING_BYTES
    assert execution.attributes[attr.CODE_FUNCTION_NAME].endswith("write_then_fail")
    event = next(e for e in execution.events if e["name"] == attr.EXCEPTION_EVENT)
    assert event["attributes"][attr.EXCEPTION_TYPE] == "ProvenanceTestError"
    assert event["attributes"][attr.EXCEPTION_MESSAGE] == "known failure"
    assert attr.EXCEPTION_STACKTRACE not in event["attributes"]
    attempt = run.one(attr.RECORD_TASK_ATTEMPT, "fails")
    assert attempt.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_ERROR


def test_every_attempt_has_its_outcome(run: DefaultRun) -> None:
    flaky = sorted((s for s in run.spans if s.kind == attr.RECORD_TASK_ATTEMPT and s.key == "flaky"),
                   key=lambda s: s.attributes[attr.TASK_ATTEMPT])
    assert [s.attributes[attr.TASK_OUTCOME] for s in flaky] == [
        attr.OUTCOME_RETRIED, attr.OUTCOME_SUCCESS]
    assert flaky[1].attributes[attr.TASK_SUCCEEDED_AFTER_RETRY] is True
    cancelled = run.one(attr.RECORD_TASK_ATTEMPT, "cancelled-task")
    assert cancelled.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_CANCELLED
    ran = [s for s in run.spans if s.kind == attr.RECORD_TASK_EXECUTION and s.key == "cancelled-task"]
    # the worker ran it to the end, for nobody: its run ends cancelled or released
    assert len(ran) <= 1
    assert {s.attributes[attr.TASK_OUTCOME] for s in ran} <= {
        attr.OUTCOME_CANCELLED, attr.OUTCOME_RELEASED}


def test_nothing_went_wrong_in_tracing(run: DefaultRun) -> None:
    logs = run.cluster.logs()
    assert "tracing error" not in logs
    assert "provenance recording failed" not in logs
    assert "could not build spans" not in logs


def test_the_notebook_cells_are_in_the_prov_document(run: DefaultRun, tmp_path: Path) -> None:
    convert([run.cluster.trace_dir], str(tmp_path / "run.json"))
    document = json.loads((tmp_path / "run.json").read_text())
    plans = {str(value(record, prov.NOTEBOOK_CELL)): record
             for _, record in records(document, "entity") if prov.NOTEBOOK_CELL in record}
    assert set(plans) == {"In[2]", "In[3]"}
    assert value(plans["In[2]"], prov.FUNCTION) == "__main__.triple"  # the cell that defined it
    assert "client.submit(triple" in value(plans["In[3]"], prov.CODE)  # the cell that submitted it
