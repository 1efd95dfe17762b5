"""The run summary behind ``otel-prov report`` and the groups picture, on recorded real runs.

The fixtures under ``tests/fixtures/traces`` were recorded from real ``dask
scheduler`` and ``dask worker`` processes (``scripts/record-fixtures``); the
summary must say of them what the PROV document says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from otel_dask_prov.convert.pipeline import run
from otel_dask_prov.convert.run_summary import RunSummaryWriter, key_group
from tests.support.synthetic_traces import SyntheticTask, map_reduce, write

FIXTURES = Path(__file__).parent / "fixtures" / "traces"


def summary_of(*paths: Path, **limits: int) -> dict[str, Any]:
    writer = RunSummaryWriter(**limits)
    run(list(paths), lambda: writer, False)
    return writer.data("test")


def by_key(data: dict[str, Any], text: str) -> dict[str, Any]:
    [found] = [attempt for attempt in data["attempts"] if text in attempt["key"]]
    return found


def test_a_retried_task_is_one_task_of_two_attempts_linked_to_each_other() -> None:
    data = summary_of(FIXTURES / "retry")
    assert data["run"]["tasks"] == 2
    assert data["run"]["attempts"] == 3
    assert data["run"]["retried_tasks"] == 1
    assert data["run"]["outcomes"] == {"error-retried": 1, "success": 2}
    first, second = (a for a in data["attempts"] if a["key"].startswith("fail_once"))
    assert first["outcome"] == "error-retried"
    assert first["exception"]["type"] == "RuntimeError"
    assert second["previous"] == data["attempts"].index(first)
    assert second["rerun_reason"] == "retry"
    inc = by_key(data, "inc-")
    assert inc["inputs"] == [second["key"]]  # the value of the attempt that succeeded


def test_group_edges_count_every_dependency_between_two_groups() -> None:
    data = summary_of(FIXTURES / "plain")
    names = [group["name"] for group in data["groups"]]
    assert data["group_edges"] == [[names.index("inc"), names.index("total"), 4]]
    assert {group["name"]: group["tasks"] for group in data["groups"]} == {"inc": 4, "total": 1}
    total = data["groups"][names.index("total")]
    assert total["function"] == "tests.support.workloads.total"
    assert total["line"] == 17


def test_a_dependency_error_names_the_task_to_blame() -> None:
    data = summary_of(FIXTURES / "erred")
    div, inc = by_key(data, "div-"), by_key(data, "inc-")
    assert div["outcome"] == "error"
    assert div["exception"]["type"] == "ZeroDivisionError"
    assert inc["outcome"] == "dependency-error"
    assert inc["blame"] == div["key"]
    assert inc["worker"] is None  # it never ran
    assert data["run"]["failed_tasks"] == 1


def test_the_worker_that_died_is_marked_lost_with_what_was_running_on_it() -> None:
    data = summary_of(FIXTURES / "worker-killed")
    [lost] = [index for index, process in enumerate(data["processes"]) if process["lost"]]
    assert data["processes"][lost]["role"] == "worker"
    running = [a["key"] for a in data["attempts"]
               if a["outcome"] == "worker-lost" and a["worker"] == lost]
    assert running and all(key.startswith("slow-") for key in running)
    assert data["run"]["lost_workers"] == 1


def test_files_arguments_and_results_of_the_opt_in_recording() -> None:
    data = summary_of(FIXTURES / "provenance")
    copy = by_key(data, "copy")
    assert [(f["mode"], Path(f["path"]).name) for f in copy["files"]] == [
        ("r", "source.bin"), ("w", "copied.bin")]
    files = {Path(use["path"]).name: use for use in data["files"]}
    assert files["shared.bin"]["writes"] == 3
    assert files["source.bin"]["read_by"] == [data["attempts"].index(copy)]
    args = by_key(data, "args")
    assert {"role": "password", "type": None, "value": "<redacted>"} in args["arguments"]


def test_processes_say_where_and_with_what_the_run_ran() -> None:
    data = summary_of(FIXTURES / "retry")
    roles = sorted(process["role"] for process in data["processes"])
    assert roles == ["client", "scheduler", "worker", "worker"]
    worker = next(p for p in data["processes"] if p["role"] == "worker")
    assert worker["python"] and worker["dask"] and worker["address"].startswith("tcp://")
    assert all(thread["label"] for thread in data["threads"])


def test_above_the_limit_attempts_are_sampled_but_counts_stay_exact(tmp_path: Path) -> None:
    tasks = map_reduce(400, fan_in=8)
    tasks.append(SyntheticTask("boom-1", (tasks[0].key,), failures=1))
    write(tmp_path, tasks, workers=2, seed=3)
    whole = summary_of(tmp_path)
    sampled = summary_of(tmp_path, attempts_kept=50)
    again = summary_of(tmp_path, attempts_kept=50)
    assert whole["limits"]["sampled"] is False
    assert len(whole["attempts"]) == whole["run"]["attempts"] == len(tasks)
    assert sampled["limits"]["sampled"] is True
    assert len(sampled["attempts"]) == 51  # the sample, and every failed attempt
    assert any(a["key"] == "boom-1" for a in sampled["attempts"])
    for exact in ("run", "groups", "group_edges"):
        assert sampled[exact] == whole[exact]
    assert sampled == again  # the same input gives the same report


@pytest.mark.parametrize(("key", "group"), [
    ("('rechunk-merge-8a7fb1c2', 0, 1)", "rechunk-merge-8a7fb1c2"),
    ("inc-8a7fb1c2d3e4f5a6b7c8d9e0f1a2b3c4", "inc"),
    ("finalize-hlgfinalizecompute-4c1e8d", "finalize-hlgfinalizecompute"),
    ("ae05086432ca935f6eba409a8ecd4896", "data"),
])
def test_key_group_is_the_group_dask_gives_the_key(key: str, group: str) -> None:
    from distributed.scheduler import key_split_group

    assert key_group(key) == group == key_split_group(key)
