"""``otel-prov lineage`` on recorded real runs and on a fresh one that persists data.

On the fresh run the expected closures come from the dask graphs the test
submitted (each task's dependencies as Dask gives them), not from the traces:
the lineage must be the scheduler's graph, across the two computations.
"""

# ruff: noqa: S608 - the SQL here is built from the tests' own run names

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from distributed import wait

from otel_dask_prov import query
from otel_dask_prov.cli import main
from otel_dask_prov.query.lineage import Lineage
from tests.support.cluster import DaskProcesses
from tests.support.workloads import add, inc, load, save, total

FIXTURES = Path(__file__).parent / "fixtures" / "traces"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("lineage-dataset")
    for name in ("plain", "provenance", "retry"):
        query.export([FIXTURES / name], directory, run=name)
    return directory


def key_of(dataset: Path, run: str, prefix: str) -> list[str]:
    rows = query.sql(dataset, f"SELECT DISTINCT key FROM attempts WHERE run = '{run}' "
                              f"AND prefix = '{prefix}' ORDER BY key")
    return list(rows["key"])


# --------------------------------------------------------------------------
# Recorded runs
# --------------------------------------------------------------------------
def test_total_was_computed_from_the_four_incs_of_an_earlier_computation(dataset: Path) -> None:
    (total_key,) = key_of(dataset, "plain", "total")
    incs = key_of(dataset, "plain", "inc")
    found = query.lineage(dataset, total_key)
    assert isinstance(found, Lineage) and found.run == "plain" and found.matched == "task key"
    assert found.keys() == set(incs) and len(incs) == 4
    assert set(found.nodes["depth"]) == {0, 1}
    assert found.nodes["computation_span_id"].nunique() == 2  # across computations
    assert set(found.edges["relation"]) == {"used"}
    downstream = query.lineage(dataset, incs[0], downstream=True)
    assert downstream.keys() == {total_key}
    assert query.lineage(dataset, total_key, downstream=True).keys() == set()
    assert query.lineage(dataset, incs[0]).keys() == set()


def test_a_computation_names_its_output(dataset: Path) -> None:
    computations = query.sql(dataset, "SELECT span_id, trace_id FROM computations "
                                      "WHERE run = 'plain' ORDER BY start_time")
    first, second = computations.itertuples()
    (total_key,) = key_of(dataset, "plain", "total")
    incs = set(key_of(dataset, "plain", "inc"))
    output = query.lineage(dataset, first.span_id, downstream=True)
    assert output.matched == "computation's output"
    assert output.keys(include_target=True) - output.keys() == incs
    assert output.keys() == {total_key}
    assert query.lineage(dataset, second.trace_id.upper()).keys() == incs


def test_a_file_links_its_writers_to_its_readers(dataset: Path) -> None:
    writers = query.lineage(dataset, "shared.bin")
    assert writers.matched == "file" and writers.run == "provenance"
    assert writers.keys() == {"fails", "write-1", "write-2"}
    assert set(writers.edges["relation"]) == {"wrote"}
    assert query.lineage(dataset, "shared.bin", downstream=True).keys() == set()
    copied = query.lineage(dataset, "copied.bin")
    assert copied.keys() == {"copy"}
    assert {Path(path).name for path in copied.paths()} == {"copied.bin", "source.bin"}
    assert list(copied.nodes["depth"]) == [0, 1, 2]
    source = query.lineage(dataset, "source.bin", downstream=True)
    assert source.keys() == {"copy"}
    assert {Path(path).name for path in source.paths()} == {"copied.bin", "source.bin"}
    (path,) = {path for path in source.paths() if path.endswith("source.bin")}
    assert query.lineage(dataset, path, downstream=True).keys() == {"copy"}  # the whole path
    assert query.lineage(dataset, "copy", downstream=True).paths() == {
        path.replace("source.bin", "copied.bin")}


def test_every_attempt_of_a_retried_key_is_a_root(dataset: Path) -> None:
    (key,) = key_of(dataset, "retry", "fail_once")
    found = query.lineage(dataset, key)
    assert list(found.nodes["attempt"]) == [1, 2] and set(found.nodes["depth"]) == {0}
    assert found.to_text().splitlines()[1:] == [
        f"{key}  (computation {found.nodes['computation_span_id'][0]}, error-retried)",
        f"{key} (attempt 2)  (computation {found.nodes['computation_span_id'][0]}, success)"]


def test_the_command_prints_a_tree_json_and_dot(
        dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lineage", str(dataset), "source.bin", "--downstream"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("downstream of file 'source.bin' in run provenance: 1 task, 1 file")
    assert lines[1].startswith("file /") and lines[1].endswith("source.bin")
    assert lines[2].startswith("└─ read by copy  (computation ")
    assert lines[3].startswith("   └─ wrote file /") and lines[3].endswith("copied.bin")
    assert main(["lineage", str(dataset), "copied.bin", "--format", "json"]) == 0
    graph = json.loads(capsys.readouterr().out)
    assert graph["direction"] == "upstream" and graph["matched"] == "file"
    by_id = {node["node"]: node for node in graph["nodes"]}
    assert {(by_id[edge["source"]]["kind"], edge["relation"], by_id[edge["target"]]["kind"])
            for edge in graph["edges"]} == {("file", "read", "task"), ("task", "wrote", "file")}
    assert main(["lineage", str(dataset), "copied.bin", "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert dot.count("shape=note") == 2 and dot.count("shape=box") == 1
    assert dot.count(" -> ") == 2


def test_trace_files_are_exported_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lineage", str(FIXTURES / "plain"), "--format", "json",
                 *(["--run", "plain"]), _total_key()]) == 0
    graph = json.loads(capsys.readouterr().out)
    assert graph["run"] == "plain"
    assert sorted(node["key"].split("-")[0] for node in graph["nodes"]) == ["inc"] * 4 + ["total"]


def _total_key() -> str:
    text = (FIXTURES / "plain" / "dask-scheduler.jsonl").read_text()
    return re.findall(r"total-[0-9a-f]{32}", text)[0]


def test_a_target_in_several_runs_needs_run(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    for run in ("one", "two"):
        query.export([FIXTURES / "plain"], tmp_path, run=run)
    assert main(["lineage", str(tmp_path), _total_key()]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in the runs one, two" in err and "--run" in err
    assert main(["lineage", str(tmp_path), _total_key(), "--run", "two"]) == 0
    assert "in run two: 4 tasks" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["dataset", "traces"])
def test_a_target_matching_nothing_is_one_line_and_exit_2(
        dataset: Path, where: str, capsys: pytest.CaptureFixture[str]) -> None:
    source = str(dataset if where == "dataset" else FIXTURES / "plain")
    assert main(["lineage", source, "no-such-key"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("otel-prov: no task key, file or output matches 'no-such-key' in ")
    assert source in err and "otel-prov sql " in err and "FROM attempts" in err


# --------------------------------------------------------------------------
# A fresh real run: one computation persists, a second one uses it
# --------------------------------------------------------------------------
def dependencies(collections: Iterable[Any]) -> dict[str, set[str]]:
    """Each key of the collections' graphs -> the keys it depends on, as Dask gives them."""
    from dask.core import get_dependencies

    found: dict[str, set[str]] = {}
    for collection in collections:
        graph = dict(collection.__dask_graph__())
        for key, task in graph.items():
            keys = getattr(task, "dependencies", None)
            if keys is None:  # dask before the task spec
                keys = get_dependencies(graph, key)
            # a persisted value appears in a later graph as its own future: no edge
            found.setdefault(str(key), set()).update(str(k) for k in keys if k != key)
    return found


def closure(graph: Mapping[str, set[str]], start: str) -> dict[str, int]:
    """Every key reachable from *start* through *graph*, with its fewest steps."""
    depth = {start: 0}
    queue = deque([start])
    while queue:
        key = queue.popleft()
        for near in sorted(graph.get(key, ())):
            if near not in depth:
                depth[near] = depth[key] + 1
                queue.append(near)
    return depth


def reverse(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {key: set() for key in graph}
    for key, used in graph.items():
        for dependency in used:
            found.setdefault(dependency, set()).add(key)
    return found


def test_a_fresh_run_crosses_computations_as_the_scheduler_saw_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Computation 1 persists b-0..b-3 and writes b-3 to a file; computation 2 uses
    b-0..b-2 and reads the file. The expected graph is Dask's, plus the file's two
    edges (the test wrote and read it)."""
    import dask

    delayed = dask.delayed
    saved = str((tmp_path / "b-3.txt").resolve())
    file = f"file:{saved}"
    first = [delayed(inc)(i, dask_key_name=f"a-{i}") for i in range(4)]
    second = [delayed(add)(first[i], first[(i + 1) % 4], dask_key_name=f"b-{i}")
              for i in range(4)]
    side = delayed(inc)(100, dask_key_name="side")
    written = delayed(save)(saved, second[3], dask_key_name="save")
    cluster = DaskProcesses(tmp_path / "dask", n_workers=2,
                            env={"DASK_OTEL_DASK_PROV__RECORD_FILES": "True"})
    with cluster:
        with cluster.client() as client:
            persisted = client.persist([*second, side, written])  # computation 1
            wait(persisted)
            graph = dependencies([*second, side, written])
            used = [delayed(inc)(persisted[i], dask_key_name=f"d-{i}") for i in range(2)]
            result = delayed(total)([used[0], used[1], persisted[2]], dask_key_name="t")
            loaded = delayed(load)(saved, dask_key_name="load")
            other = delayed(add)(loaded, used[0], dask_key_name="u")
            for key, keys in dependencies([result, other]).items():
                graph.setdefault(key, set()).update(keys)
            assert dask.compute(result, other) == (  # computation 2
                (1 + 2 + 1) + (2 + 3 + 1) + (3 + 4), (4 + 1) + (1 + 2 + 1))
        cluster.stop()
    assert graph["t"] == {"d-0", "d-1", "b-2"} and graph["d-0"] == {"b-0"}
    assert graph["load"] == set()  # the file is not in Dask's graph: the traces add it
    graph["load"] = {file}
    graph[file] = {"save"}
    directory = tmp_path / "dataset"
    query.export([cluster.trace_dir], directory, run="fresh")
    consumers = reverse(graph)

    def name(row: Any) -> str:
        return str(row.key) if row.kind == "task" else f"file:{row.path}"

    for target in ("t", "u", "d-1", "b-2", "a-1", "a-3", "side", "save", saved):
        for downstream in (False, True):
            start = file if target == saved else target
            expected = closure(consumers if downstream else graph, start)
            found = query.lineage(directory, target, downstream=downstream)
            names = {row.node: name(row) for row in found.nodes.itertuples()}
            assert {name(row): row.depth for row in found.nodes.itertuples()} == expected, \
                (target, downstream)
            assert found.keys() == {key for key in expected if key != target} - {file}
            assert {(names[s], names[t]) for s, t in zip(
                found.edges["source"], found.edges["target"], strict=True)} == {
                (dependency, key) for key in expected for dependency in graph.get(key, ())
                if dependency in expected}
    assert query.lineage(directory, "u").paths() == {saved}
    assert set(query.lineage(directory, "save", downstream=True).edges["relation"]) == {
        "wrote", "read", "used"}

    upstream = query.lineage(directory, "t")
    computations = upstream.nodes.groupby("computation_span_id")["key"].agg(set)
    assert sorted(map(sorted, computations)) == [
        ["a-0", "a-1", "a-2", "a-3", "b-0", "b-1", "b-2"], ["d-0", "d-1", "t"]]
    order = query.sql(directory, "SELECT span_id FROM computations ORDER BY start_time")
    persisted_by, computed_by = order["span_id"]
    assert query.lineage(directory, persisted_by).keys(include_target=True) == {
        "a-0", "a-1", "a-2", "a-3", "b-0", "b-1", "b-2", "b-3", "side", "save"}
    assert query.lineage(directory, persisted_by, downstream=True).nodes.query(
        "depth == 0")["key"].tolist() == ["b-0", "b-1", "b-2", "save", "side"]  # save used b-3
    outputs = query.lineage(directory, computed_by)
    assert outputs.keys(include_target=True) - outputs.keys() == {"t", "u"}
    assert outputs.keys() | {"t", "u"} == {
        key for key in {*closure(graph, "t"), *closure(graph, "u")} if key != file}

    # the three formats, from the trace files themselves
    expected = closure(graph, "u")
    assert main(["lineage", str(cluster.trace_dir), "u"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith("upstream of task key 'u' in run ")
    assert f"{len(expected) - 2} tasks, 1 file, across 2 computations" in text[0]
    named = [re.sub(r"^[│├└─ ]*(used |read |written by )?", "", line).split("  ")[0]
             for line in text[1:]]
    assert {entry.replace("file ", "file:") for entry in named} == set(expected)
    assert len(text) - 1 == 1 + sum(len(graph.get(key, ())) for key in expected)
    assert sum("(see above)" in line for line in text) == len(text) - 1 - len(expected)
    assert main(["lineage", str(directory), "a-1", "--downstream", "--format", "json"]) == 0
    graph_json = json.loads(capsys.readouterr().out)
    assert {node["key"]: node["depth"] for node in graph_json["nodes"]} == closure(consumers, "a-1")
    assert main(["lineage", str(directory), "load", "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    expected = closure(graph, "load")
    assert sorted(re.findall(r'\[shape=box, label="([^"]+)"', dot)) == sorted(
        key for key in expected if key != file)
    assert re.findall(r'\[shape=note, label="([^"]+)"', dot) == [saved]
    assert dot.count(" -> ") == sum(len(graph[key]) for key in expected)


def test_a_file_read_and_written_by_tasks_ends_the_walk(tmp_path: Path) -> None:
    """A cycle (a task reads and rewrites the file another wrote) is walked once."""
    write_dataset(tmp_path, {
        "attempts": [{"run": "r", "span_id": "a1", "key": "write", "computation_span_id": "c1"},
                     {"run": "r", "span_id": "b1", "key": "update", "computation_span_id": "c2"}],
        "files": [{"run": "r", "span_id": "a1", "key": "write", "path": "/d/f", "operation": "write"},
                  {"run": "r", "span_id": "b1", "key": "update", "path": "/d/f", "operation": "read"},
                  {"run": "r", "span_id": "b1", "key": "update", "path": "/d/f",
                   "operation": "write"}]})
    up = query.lineage(tmp_path, "update")
    assert up.keys() == {"write"} and len(up.edges) == 3  # update wrote the file it read
    down = query.lineage(tmp_path, "write", downstream=True)
    assert down.keys() == {"update"} and down.paths() == {"/d/f"}
    assert list(down.nodes["depth"]) == [0, 1, 2]
    assert "(see above)" in down.to_text()


def write_dataset(directory: Path, rows: Mapping[str, list[dict[str, Any]]]) -> None:
    """A one-run dataset (run ``r``) of the given rows, written by hand."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from otel_dask_prov.query.schemas import TABLES

    for table, found in rows.items():
        (directory / table / "run=r").mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(found, schema=TABLES[table]),
                       directory / table / "run=r" / "part-0.parquet")


def test_a_deep_chain_is_a_list_by_depth(tmp_path: Path) -> None:
    from otel_dask_prov.query.lineage import MAX_TREE_DEPTH

    length = MAX_TREE_DEPTH + 8
    write_dataset(tmp_path, {
        "attempts": [{"run": "r", "span_id": f"s{i}", "key": f"step-{i}",
                      "computation_span_id": "c"} for i in range(length)],
        "dependencies": [{"run": "r", "span_id": f"s{i}", "key": f"step-{i}",
                          "dependency_span_id": f"s{i - 1}"} for i in range(1, length)]})
    found = query.lineage(tmp_path, f"step-{length - 1}")
    assert found.keys() == {f"step-{i}" for i in range(length - 1)}
    lines = found.to_text().splitlines()
    assert len(lines) == 1 + 2 * length
    assert lines[1:3] == ["depth 0:", f"  step-{length - 1}  (computation c)"]
    assert lines[-2:] == [f"depth {length - 1}:", "  step-0  (computation c); used by step-1"]
    short = query.lineage(tmp_path, f"step-{MAX_TREE_DEPTH}").to_text().splitlines()
    assert short[-1] == " " * 3 * (MAX_TREE_DEPTH - 1) + "└─ used step-0  (computation c)"


def test_a_value_no_traced_task_produced_is_a_node(tmp_path: Path) -> None:
    """Data the client scattered: the dependency names a key, not a producer's span."""
    write_dataset(tmp_path, {
        "attempts": [{"run": "r", "span_id": "s1", "key": "use", "computation_span_id": "c"}],
        "dependencies": [{"run": "r", "span_id": "s1", "key": "use",
                          "dependency_key": "scattered-1"}]})
    up = query.lineage(tmp_path, "use")
    assert up.nodes[["node", "kind", "key", "depth"]].values.tolist() == [
        ["task:s1", "task", "use", 0], ["value:scattered-1", "value", "scattered-1", 1]]
    assert "1 value no traced task produced" in up.summary()
    assert up.to_text().splitlines()[-1] == "└─ used scattered-1  (a value no traced task produced)"
    down = query.lineage(tmp_path, "scattered-1", downstream=True)
    assert down.matched == "task key" and down.keys() == {"use"}
    assert 'shape=ellipse, label="scattered-1 (no traced task)"' in down.to_dot()


def test_trace_files_with_a_bad_line_need_skip_invalid(capsys: pytest.CaptureFixture[str]) -> None:
    broken = str(FIXTURES / "broken" / "malformed-line.jsonl")
    text = Path(broken).read_text()
    (target,) = set(re.findall(r"total-[0-9a-f]{32}", text))
    assert main(["lineage", broken, target]) == 2
    assert "malformed-line.jsonl:2: malformed JSON" in capsys.readouterr().err
    assert main(["lineage", broken, target, "--skip-invalid"]) == 0
    out, err = capsys.readouterr()
    assert err == "otel-prov: warning: skipped 1 invalid line(s)\n"
    assert ": 4 tasks, 0 files, across 2 computations" in out.splitlines()[0]
