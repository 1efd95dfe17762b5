"""``otel-prov diff`` on real traced runs: the same workload twice, then with one function edited.

Three runs on real ``dask scheduler`` / ``dask worker`` processes, each a
dask.array sum plus delayed functions of a module written to a temporary folder
on the workers' ``PYTHONPATH``: A and A2 run the same code; B runs after
``clean`` was edited, and computes one more task (``extra``). The delayed keys
hold random UUIDs, so those tasks are matched by name and position; the array's
keys are the same in every run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from otel_dask_prov import query
from otel_dask_prov.cli import main
from otel_dask_prov.query.diff import _Run, _Task, compare, key_parts, strip_tokens
from tests.support.cluster import REPO_ROOT, DaskProcesses

MODULE = "diffwork_tasks"
SOURCE = '''
def load(i):
    return list(range(i, i + 3))


def clean(values):
    return [v * 2 for v in values]


def summarize(parts):
    return sum(sum(p) for p in parts)


def extra(x):
    return x + 1
'''
EDITED = SOURCE.replace("return [v * 2 for v in values]", "return [v * 2 + 1 for v in values]")
QUIET = ["--time-absolute", "5"]
"""Durations of these tiny tasks move by milliseconds; only a change of 5 s would count."""


@dataclass
class Runs:
    a: Path
    a2: Path
    b: Path


def _run(workdir: Path, code: Path, with_extra: bool) -> Path:
    import dask
    import dask.array as da

    module: Any = __import__(MODULE)
    cluster = DaskProcesses(workdir, n_workers=2, env={
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(code)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "DASK_OTEL_DASK_PROV__RECORD_CODE": "True",  # the function digests (on by default)
        "DASK_OTEL_DASK_PROV__RECORD_ARGUMENTS": "True",
        "DASK_OTEL_DASK_PROV__RESULT_HASH": "True",
    })
    with cluster:
        with cluster.client():
            array = da.arange(64, chunks=16)
            assert int((array + 1).sum().compute()) == sum(range(1, 65))
            parts = [dask.delayed(module.clean)(dask.delayed(module.load)(i)) for i in range(3)]
            dask.compute(dask.delayed(module.summarize)(parts))
            if with_extra:
                assert dask.compute(dask.delayed(module.extra)(1)) == (2,)
        cluster.stop()
    return cluster.trace_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("diff")
    code = root / "code"
    code.mkdir()
    (code / f"{MODULE}.py").write_text(SOURCE)
    sys.path.insert(0, str(code))
    try:
        a = _run(root / "a", code, with_extra=False)
        a2 = _run(root / "a2", code, with_extra=False)
        (code / f"{MODULE}.py").write_text(EDITED)  # the workers of run B import this
        shutil.rmtree(code / "__pycache__", ignore_errors=True)
        b = _run(root / "b", code, with_extra=True)
        yield Runs(a, a2, b)
    finally:
        sys.path.remove(str(code))
        sys.modules.pop(MODULE, None)


def _by_group(changes: list[Any]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for change in changes:
        groups.setdefault(change.group, []).append(change)
    return groups


def test_two_runs_of_the_same_code_show_no_changes(runs: Runs,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(runs.a), str(runs.a2), *QUIET]) == 0
    out = capsys.readouterr().out
    assert "no changes" in out
    result = query.diff(runs.a, runs.a2, time_absolute=5)
    assert not result.has_changes
    assert result.unchanged == result.matched_by_key + result.matched_by_position > 10
    assert result.matched_by_position >= 7  # the delayed tasks' keys hold UUIDs
    assert not result.environment


def test_an_edited_function_changes_its_group_and_what_depends_on_it(
        runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    result = query.diff(runs.a, runs.b, time_absolute=5)
    changed = _by_group(result.changed)
    assert set(changed) == {"clean", "summarize"}
    assert len(changed["clean"]) == 3
    for change in changed["clean"]:
        assert "function" in change.reasons and "inputs" not in change.reasons
        assert "arguments" not in change.reasons
        before, after = change.details["function_digest"]
        assert before.startswith("source-sha256:") and after.startswith("source-sha256:")
        assert before != after
    [summary] = changed["summarize"]
    assert summary.reasons[0] == "inputs" and "function" not in summary.reasons
    assert sorted(summary.changed_inputs) == sorted(c.key for c in changed["clean"])
    assert [(entry.group, entry.key.startswith("extra-")) for entry in result.added] == \
        [("extra", True)]
    assert result.removed == [] and result.durations == [] and result.environment == []
    assert result.unchanged > 10  # the array's tasks and the loads, counted, not listed

    assert main(["diff", str(runs.a), str(runs.b), *QUIET]) == 1
    out = capsys.readouterr().out
    assert "clean: 3 tasks, function code changed" in out
    assert "summarize: 1 task, because an input changed" in out
    assert "added (only in B):\n  extra: 1 task" in out
    assert "load" not in out and "sum" not in out.replace("summarize", "")


def test_json_output(runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(runs.a), str(runs.b), "--format", "json", *QUIET]) == 1
    found = json.loads(capsys.readouterr().out)
    assert found["has_changes"] is True
    assert found["groups"] == {
        "clean": {"changed": 3, "durations": 0, "added": 0, "removed": 0},
        "summarize": {"changed": 1, "durations": 0, "added": 0, "removed": 0},
        "extra": {"changed": 0, "durations": 0, "added": 1, "removed": 0}}
    assert {change["group"] for change in found["changed"]} == {"clean", "summarize"}
    assert found["removed"] == [] and found["time_absolute"] == 5


def test_exported_datasets_are_compared_by_run_name(runs: Runs, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    dataset = tmp_path / "dataset"
    query.export(runs.a, dataset, run="monday")
    query.export(runs.b, dataset, run="tuesday")
    loads = query.sql(dataset, "SELECT arguments, function_digest FROM attempts "
                               "WHERE run = 'monday' AND prefix = 'load' ORDER BY arguments")
    assert [json.loads(text) for text in loads["arguments"]] == [
        [{"position": 0, "type": "int", "value": str(i)}] for i in range(3)]
    assert loads["function_digest"].str.startswith("source-sha256:").all()
    digests = query.sql(dataset, "SELECT DISTINCT packages_digest FROM workers "
                                 "WHERE role = 'worker'")
    assert len(digests) == 1 and digests["packages_digest"][0].startswith("sha256:")
    result = query.diff(dataset, dataset, name_a="monday", name_b="tuesday", time_absolute=5)
    assert sorted(change.group for change in result.changed) == \
        ["clean", "clean", "clean", "summarize"]
    assert main(["diff", str(dataset), str(dataset)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "holds 2 runs (monday, tuesday)" in error


def test_bad_input_is_one_line_and_exit_2(runs: Runs, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n")
    for argv in (["diff", str(tmp_path / "missing"), str(runs.a)],
                 ["diff", str(runs.a), str(garbage)],
                 ["diff", str(runs.a), str(runs.a2), "--time-threshold", "half"]):
        assert main(argv) == 2
        error = capsys.readouterr().err
        assert error.startswith("otel-prov: ") and error.count("\n") == 1, error


# --------------------------------------------------------------------------
# The comparison on made-up runs
# --------------------------------------------------------------------------
def _task(key: str, order: int, inputs: list[str] | None = None, **values: Any) -> _Task:
    stem, index = key_parts(key)
    fields: dict[str, Any] = {"outcome": "success", "exception_type": None, "function": None,
                              "function_digest": None, "arguments": None, "result_type": None,
                              "result_nbytes": None, "result_hash": None, "seconds": 0.01}
    fields.update(values)
    return _Task(key=key, group=strip_tokens(stem).removesuffix("-*"),
                 base=(strip_tokens(stem), index), order=order, inputs=inputs or [], **fields)


def _made_up(label: str, *tasks: _Task) -> _Run:
    return _Run(label, {task.key: task for task in tasks}, [])


def test_an_equal_result_hash_stops_the_change_at_the_task() -> None:
    a = _made_up("a", _task("f-" + "1" * 32, 0, function_digest="d1", result_hash="h"),
                 _task("g-" + "2" * 32, 1, ["f-" + "1" * 32]))
    b = _made_up("b", _task("f-" + "3" * 32, 0, function_digest="d2", result_hash="h"),
                 _task("g-" + "4" * 32, 1, ["f-" + "3" * 32]))
    result = compare(a, b)
    assert [(change.group, change.reasons) for change in result.changed] == \
        [("f", ["function"])]
    assert result.unchanged == 1


def test_tasks_match_by_arguments_before_order_and_durations_need_both_thresholds() -> None:
    a = _made_up("a", _task("load-" + "a" * 32, 0, arguments="[0]", seconds=1.0),
                 _task("load-" + "b" * 32, 1, arguments="[1]", seconds=1.0))
    b = _made_up("b", _task("load-" + "c" * 32, 0, arguments="[1]", seconds=1.05),
                 _task("load-" + "d" * 32, 1, arguments="[0]", seconds=2.0))
    result = compare(a, b)
    assert result.changed == [] and result.matched_by_position == 2
    assert [(change.key_a, change.details["seconds"]) for change in result.durations] == \
        [("load-" + "a" * 32, [1.0, 2.0])]
    assert not compare(a, b, time_threshold=1.5).has_changes


def test_tuple_keys_match_by_chunk_index() -> None:
    a = _made_up("a", _task("('x-" + "e" * 32 + "', 1)", 0, result_hash="one"),
                 _task("('x-" + "e" * 32 + "', 0)", 1, result_hash="zero"))
    b = _made_up("b", _task("('x-" + "f" * 32 + "', 0)", 0, result_hash="zero"),
                 _task("('x-" + "f" * 32 + "', 1)", 1, result_hash="one"),
                 _task("('x-" + "f" * 32 + "', 2)", 2))
    result = compare(a, b)
    assert result.changed == [] and result.unchanged == 2
    assert [entry.key for entry in result.added] == ["('x-" + "f" * 32 + "', 2)"]
