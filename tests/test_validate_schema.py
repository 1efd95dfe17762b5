"""The PROV-JSON schema check: the W3C submission's schema, record by record, as jsonschema sees it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from otel_dask_prov.validate import validate
from otel_dask_prov.validate.schema import ProvJsonSchema, load_schema

FIXTURES = Path(__file__).parent / "fixtures" / "prov"
DOCUMENTS = sorted((FIXTURES / "valid").glob("*.json")) + sorted((FIXTURES / "invalid").glob("*.json"))


def prov_vendored_schema() -> Path | None:
    try:
        path = Path(str(resources.files("prov.tests").joinpath("schemas/prov-json.schema.json")))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


@pytest.mark.skipif(
    prov_vendored_schema() is None,
    reason="the installed prov package does not ship its vendored PROV-JSON schema (prov < 3.2)",
)
def test_our_schema_is_the_one_the_prov_package_vendors() -> None:
    path = prov_vendored_schema()
    assert path is not None
    assert load_schema() == json.loads(path.read_text())


def records(document: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for kind, content in document.items():
        if kind == "bundle":
            for bundle in content.values():
                yield from records(bundle)
        elif kind != "prefix" and isinstance(content, dict):
            for value in content.values():
                yield from ((kind, item) for item in (value if isinstance(value, list) else [value]))


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_each_record_gets_the_verdict_jsonschema_gives(path: Path) -> None:
    ours = ProvJsonSchema()
    reference = jsonschema.Draft4Validator(load_schema())
    for kind, record in records(json.loads(path.read_text())):
        if kind not in ours.record_kinds:
            continue
        alone = {kind if kind != "wasEndedBy" else "wasEndedby": {"ex:record": record}}
        assert (ours.check_record(kind, record) is None) == reference.is_valid(alone), (kind, record)


@pytest.mark.parametrize("path", sorted((FIXTURES / "valid").glob("*.json")), ids=lambda p: p.stem)
def test_valid_documents_pass_the_whole_document_schema(path: Path) -> None:
    jsonschema.Draft4Validator(load_schema()).validate(json.loads(path.read_text()))


def write(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "document.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_ended_by_is_spelled_as_prov_json_says_not_as_the_schema_misspells_it(tmp_path: Path) -> None:
    document = {
        "activity": {"ex:a": {}},
        "wasEndedBy": {"ex:end": {"prov:activity": "ex:a"}},
        "wasEndedby": {"ex:typo": {"prov:activity": "ex:a"}},
    }
    path = write(tmp_path, document)
    assert [v.line(path) for v in validate(path)] == [
        f"{path}: wasEndedby: 'wasEndedby' is not a PROV-JSON record kind"
    ]


def test_records_sharing_an_id_are_checked_one_by_one(tmp_path: Path) -> None:
    # the prov library writes several records with one id as a JSON array
    document = {"entity": {"ex:e": [{"ex:size": 1}, {"ex:size": {"unit": "bytes"}}]}}
    path = write(tmp_path, document)
    assert [v.line(path) for v in validate(path)] == [
        f"{path}: ex:e: does not match the PROV-JSON schema for entity:"
        " ex:size cannot be validated by any definition"
    ]


@pytest.mark.parametrize(
    "document, expected",
    [
        ({"prefix": {"ex": 7}}, "prefix: does not match the PROV-JSON schema: ex must be string"),
        ({"activity": []}, "activity: the value of 'activity' must be an object, not an array"),
        ({"bundle": {"ex:b": "none"}}, "bundle: a bundle must be an object, not a string (in bundle ex:b)"),
        ({"bundle": {"ex:b": {"bundle": {}}}}, "bundle: bundles cannot be nested (in bundle ex:b)"),
        ({"used": {"ex:u": {"prov:entity": "ex:e", "prov:time": 5}}},
         "ex:u: does not match the PROV-JSON schema for used: prov:time must be string"),
    ],
)
def test_structural_problems_are_violations(tmp_path: Path, document: dict[str, Any], expected: str) -> None:
    path = write(tmp_path, document)
    assert [v.line(path) for v in validate(path)] == [f"{path}: {expected}"]
