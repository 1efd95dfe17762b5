"""The streaming PROV-JSON and PROV-N writers read back as the document ``prov`` builds.

For every fixture (real runs of the plugins, every input format, synthetic
graphs with failures), bundled and flattened: the text the streaming writer
produced, read by ``prov``'s own PROV-JSON or PROV-N deserializer, equals the
document ``prov``'s builder API makes from the same records. Any ``prov``
warning is an error. PROV-JSON output also validates against the PROV-JSON
schema that ``prov`` ships.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import jsonschema
import prov
import pytest

from otel_dask_prov.convert import convert, to_document
from tests.support.prov_diff import difference
from tests.support.synthetic_traces import SyntheticTask, map_reduce, write

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
SCENARIOS = ("plain", "erred", "retry", "worker-killed", "fused")
FORMAT_FILES = ("collector.jsonl", "collector.jsonl.gz", "proto3.jsonl", "variant.jsonl",
                "jaeger-api.json", "jaeger-ui.json", "jaeger-v3.json", "sdk-console.json")
PROV_JSON_SCHEMA = Path(prov.__file__).parent / "tests" / "schemas" / "prov-json.schema.json"

FIXTURE_PATHS = {
    **{f"real/{name}": FIXTURES / name for name in SCENARIOS},
    **{f"formats/{name}": FIXTURES / "formats" / name for name in FORMAT_FILES},
    "formats/all": FIXTURES / "formats",
    "broken/truncated-last-line": FIXTURES / "broken" / "truncated-last-line.jsonl",
}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A graph with every kind of failure, and the keys Dask really makes (tuples)."""
    tasks = [
        SyntheticTask("('load-1f2e', 0)"),
        SyntheticTask("('load-1f2e', 1)", failures=1, retries=2),
        SyntheticTask("join-9a", ("('load-1f2e', 0)", "('load-1f2e', 1)"), lost_worker=True),
        SyntheticTask("fit-3c", ("join-9a",), failures=3, retries=1),
        SyntheticTask("score-3c", ("fit-3c", "join-9a")),
        *map_reduce(20, fan_in=4),
    ]
    directory = tmp_path_factory.mktemp("synthetic")
    write(directory, tasks, workers=3, seed=7, batch=5)
    return directory


def _cases() -> list[tuple[str, bool, str]]:
    return [(name, flatten, format_name) for name in [*FIXTURE_PATHS, "synthetic"]
            for flatten in (False, True) for format_name in ("json", "provn")]


@pytest.mark.parametrize(("fixture", "flatten", "format_name"), _cases())
def test_streamed_document_reads_back_as_the_prov_document(
    fixture: str, flatten: bool, format_name: str, synthetic: Path
) -> None:
    path = synthetic if fixture == "synthetic" else FIXTURE_PATHS[fixture]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = to_document([path], flatten=flatten, skip_invalid=True)
        streamed = io.StringIO()
        convert([path], streamed, format=format_name, flatten=flatten, skip_invalid=True)
        actual = prov.read(io.StringIO(streamed.getvalue()), format=format_name)
    assert difference(actual, expected) == []
    assert actual == expected
    assert len(actual.bundles) == (0 if flatten else len(expected.bundles))
    if format_name == "json":
        schema = json.loads(PROV_JSON_SCHEMA.read_text())
        jsonschema.validate(json.loads(streamed.getvalue()), schema)
