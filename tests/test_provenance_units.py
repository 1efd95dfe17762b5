"""Unit tests of the provenance helpers' own logic (parsing, redaction, attribution rules).

Real clusters are in ``test_provenance_defaults`` and ``test_provenance_opt_in``.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
from dask._task_spec import Alias, DataNode, List, Task, TaskRef
from dask.utils import apply

from otel_dask_prov import attributes as attr
from otel_dask_prov.capture.probes.arguments import MAX_ARGUMENTS, render_arguments
from otel_dask_prov.capture.probes.client import ClientRegistry, git_attributes
from otel_dask_prov.capture.probes.code import (
    describe_function,
    function_digest,
    notebook_cell,
    resolve_call,
)
from otel_dask_prov.capture.probes.deployment import (
    changed_dask_config,
    environment_attributes,
    installed_packages,
    kubernetes_attributes,
)
from otel_dask_prov.capture.probes.redaction import REDACTED, Redactor
from otel_dask_prov.capture.probes.task_io import ThreadIO, supported
from tests.support.provenance_tasks import square


@pytest.mark.parametrize(("filename", "cell"), [
    ("<ipython-input-12-3f2a9c1b7d>", "In[12]"),
    ("/tmp/ipykernel_4711/2904398436.py", "ipykernel:2904398436"),
    ("C:\\Users\\me\\AppData\\Local\\Temp\\ipykernel_4711\\17.py", "ipykernel:17"),
    ("/home/me/analysis.py", None),
    ("<stdin>", None),
    (None, None),
], ids=["ipython", "ipykernel", "ipykernel-windows", "script", "stdin", "none"])
def test_notebook_cells_are_recognized_from_code_filenames(filename, cell) -> None:
    assert notebook_cell(filename) == cell


def test_the_user_call_is_found_through_dask_wrappers() -> None:
    fused = Task.fuse(Task("a", sum, [1, 2]), Task("b", square, TaskRef("a")), key="b")
    assert resolve_call(fused)[0] is square
    assert resolve_call(Task("c", apply, square, [3]))[0] is square
    assert resolve_call(Task("d", functools.partial(square, 2)))[0] is square
    assert resolve_call((square, 4)) == (square, (4,), {})
    assert resolve_call(DataNode("e", 5))[0] is None


def test_describing_a_function_is_stable_and_names_where_it_lives() -> None:
    described = describe_function(square)
    assert described[attr.CODE_FUNCTION_NAME] == "tests.support.provenance_tasks.square"
    assert described[attr.TASK_FUNCTION_DIGEST].startswith("source-sha256:")
    assert described[attr.CODE_LINE_NUMBER] == square.__code__.co_firstlineno
    assert function_digest(lambda x: x + 1) == function_digest(lambda x: x + 1)
    assert function_digest(lambda x: x + 1) != function_digest(lambda x: x + 2)
    assert function_digest(len) is None
    assert describe_function(len)[attr.CODE_FUNCTION_NAME] == "builtins.len"


def test_arguments_distinguish_literals_dependencies_and_expressions() -> None:
    task = Task("t", max, DataNode(None, 3), Alias("y-alias", "y"),
                List(TaskRef("a"), TaskRef("b"), 1), limit=b"\x00" * 5)
    rendered = json.loads(render_arguments(task, 40, Redactor((), {})))
    assert rendered[0] == {"position": 0, "type": "int", "value": "3"}
    assert rendered[1] == {"position": 1, "key": "y"}
    assert rendered[2]["type"] == "List" and rendered[2]["keys"] == ["a", "b"]
    assert rendered[3] == {"name": "limit", "type": "bytes", "value": repr(b"\x00" * 5)}
    many = Task("m", max, *range(MAX_ARGUMENTS + 5))
    listed = json.loads(render_arguments(many, 40, Redactor((), {})))
    assert len(listed) == MAX_ARGUMENTS + 1 and listed[-1] == {"omitted": 5}


def test_redaction_by_name_and_by_secret_environment_values() -> None:
    redactor = Redactor(("token", "password"), {"GITHUB_TOKEN": "ghp_abcdef123", "SHORT_TOKEN": "x1",
                                                "HOME": "/home/me"})
    assert redactor.is_secret_name("db_Password") and not redactor.is_secret_name("path")
    assert redactor.mask("git clone https://ghp_abcdef123@host") == f"git clone https://{REDACTED}@host"
    assert redactor.mask("x1 and /home/me") == "x1 and /home/me"  # short values and non-secret names stay
    assert redactor.value("api_token", "anything") == REDACTED


def test_per_thread_io_counts_this_threads_writes_only(tmp_path: Path) -> None:
    if not supported():
        pytest.skip("needs Linux per-thread I/O accounting (/proc/self/task/<tid>/io)")
    io = ThreadIO()
    before = io.snapshot()
    descriptor = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT)
    os.write(descriptor, b"z" * 4321)
    os.close(descriptor)
    other = threading.Thread(target=lambda: (tmp_path / "other").write_bytes(b"q" * 999))
    other.start()
    other.join()
    delta = io.delta(before, io.snapshot())
    assert delta[attr.IO_WRITE_BYTES] == 4321 and delta[attr.IO_WRITE_CALLS] == 1
    assert delta[attr.IO_READ_BYTES] == 0 and delta[attr.IO_READ_CALLS] == 0


def test_installed_packages_come_from_metadata_directory_names(tmp_path: Path) -> None:
    for name in ("Foo_Bar-1.2.0.dist-info", "baz-0.1-py3.11.egg-info", "zope.interface-7.1.dist-info",
                 "notes.txt"):
        (tmp_path / name).mkdir()
    shadowed = tmp_path / "later"
    (shadowed / "foo_bar-9.9.dist-info").mkdir(parents=True)
    assert installed_packages([str(tmp_path), str(shadowed)]) == {
        "foo-bar": "1.2.0", "baz": "0.1", "zope-interface": "7.1"}


def test_only_changed_config_values_are_kept_and_secrets_masked() -> None:
    defaults = [{"distributed": {"worker": {"memory": {"target": 0.6}}, "comm": {"timeouts": {"connect": "30s"}}}},
                {"otel-dask-prov": {"headers": {}, "sampler": "always_on"}}]
    config = {"distributed": {"worker": {"memory": {"target": 0.5}}, "comm": {"timeouts": {"connect": "30s"}}},
              "otel_dask_prov": {"headers": "authorization=Bearer%20x", "sampler": "always_on"},
              "array": {"s3_secret": "abc"}}
    changed = changed_dask_config(Redactor(("secret",), {}), config, defaults)
    assert changed == {"distributed.worker.memory.target": 0.5,
                       "otel-dask-prov.headers": REDACTED, "array.s3_secret": REDACTED}


def test_environment_allowlist_takes_patterns_and_never_secret_names() -> None:
    environ = {"SLURM_JOB_ID": "42", "SLURM_JOB_TOKEN": "t0ken-value", "OTHER": "x"}
    assert environment_attributes(["SLURM_JOB_*"], Redactor(("token",), {}), environ) == {
        attr.ENVIRONMENT_PREFIX + "SLURM_JOB_ID": "42"}
    assert environment_attributes([], Redactor((), {}), environ) == {}


def test_kubernetes_names_come_from_downward_api_variables() -> None:
    assert kubernetes_attributes({"POD_NAME": "dask-worker-7", "POD_NAMESPACE": "science",
                                  "NODE_NAME": "node-3"}) == {
        attr.K8S_POD_NAME: "dask-worker-7", attr.K8S_NAMESPACE_NAME: "science",
        attr.K8S_NODE_NAME: "node-3"}
    assert kubernetes_attributes({"HOSTNAME": "laptop"}) == {}


def test_git_revision_branch_dirty_flag_and_remote_without_credentials(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), *args], capture_output=True,
                              text=True, check=True).stdout.strip()

    try:
        git("init", "-q", "-b", "trunk")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs the git command")
    (tmp_path / "analysis.py").write_text("print(1)\n")
    git("add", "analysis.py")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "first")
    git("remote", "add", "origin", "https://alice:s3cret@git.example.org/lab/analysis.git")
    clean = git_attributes(tmp_path)
    assert clean == {attr.VCS_REVISION: git("rev-parse", "HEAD"), attr.VCS_BRANCH: "trunk",
                     attr.VCS_REPOSITORY_URL: "https://git.example.org/lab/analysis.git",
                     attr.VCS_DIRTY: False}
    (tmp_path / "analysis.py").write_text("print(2)\n")
    assert git_attributes(tmp_path)[attr.VCS_DIRTY] is True


def test_the_client_registry_keeps_descriptions_and_ignores_other_events() -> None:
    registry = ClientRegistry()
    registry.event("other-topic", {"client": "c1", "attributes": {"host.name": "x"}})
    registry.event(attr.CLIENT_EVENT_TOPIC, {"client": "c1", "attributes": {
        "host.name": "laptop", "process.pid": 7, "nested": {"no": 1}}})
    assert registry.attributes("c1") == {"dask.client.host.name": "laptop",
                                         "dask.client.process.pid": 7}
    registry.forget("c1")
    assert registry.attributes("c1") == {}
