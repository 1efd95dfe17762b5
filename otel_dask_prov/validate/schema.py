"""Check PROV-JSON records against the PROV-JSON schema, one record at a time.

The schema is the one linked from the W3C member submission *A JSON
Representation for the PROV Data Model*
(https://www.w3.org/submissions/prov-json/schema), kept next to this module as
``prov-json.schema.json``, byte for byte the copy that the ``prov`` package
vendors for its own tests (a test checks that they agree). It is copyright ©
World Wide Web Consortium and redistributed under the W3C Software and Document
Licence (https://www.w3.org/copyright/software-license-2023/).

The document-level schema says that each record kind maps ids to records of one
definition (``"activity"`` to ``#/definitions/activity``, ...). Checking each
record against its definition as it streams past is the same check as checking
the whole document, without holding it in memory. Records are checked with
``fastjsonschema`` (compiled, much faster than ``jsonschema``), with string
formats left unchecked as the draft-04 reference validators do; times are
checked separately, by :mod:`.constraints`.

Two departures from the schema text, both following the submission's prose and
the ``prov`` library rather than known typos of the schema file:

* the relation kind is ``wasEndedBy`` (the schema misspells it ``wasEndedby``);
* several records with the same id may be given as a JSON array of record
  objects (each is checked against the definition).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from importlib import resources
from typing import Any

import fastjsonschema

SCHEMA_FILE = "prov-json.schema.json"

_MISSPELLED = {"wasEndedby": "wasEndedBy"}


def load_schema() -> dict[str, Any]:
    """Return the PROV-JSON schema shipped with this package."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


class ProvJsonSchema:
    """The PROV-JSON schema, split into one compiled check per record kind."""

    def __init__(self, schema: dict[str, Any] | None = None) -> None:
        self._schema = schema if schema is not None else load_schema()
        definitions = {
            _MISSPELLED.get(kind, kind): prop["additionalProperties"]["$ref"]
            for kind, prop in self._schema["properties"].items()
            if kind not in ("prefix", "bundle")
        }
        self._definitions: dict[str, str] = definitions

    @property
    def record_kinds(self) -> frozenset[str]:
        """The keys of a PROV-JSON container that hold records."""
        return frozenset(self._definitions)

    @cached_property
    def _checks(self) -> dict[str, Callable[[Any], Any]]:
        return {
            kind: self._compile({"$ref": ref}) for kind, ref in self._definitions.items()
        } | {"prefix": self._compile(self._schema["properties"]["prefix"])}

    def _compile(self, root: dict[str, Any]) -> Callable[[Any], Any]:
        definition = {
            "$schema": self._schema["$schema"],
            "definitions": self._schema["definitions"],
            **root,
        }
        return fastjsonschema.compile(definition, use_formats=False)

    def check_record(self, kind: str, record: Any) -> str | None:
        """Return why *record* does not match the schema for *kind*, or None."""
        return self._check(kind, record)

    def check_prefixes(self, prefixes: Any) -> str | None:
        """Return why a ``"prefix"`` object does not match the schema, or None."""
        return self._check("prefix", prefixes, subject="the prefix object")

    def _check(self, name: str, value: Any, subject: str = "the record") -> str | None:
        try:
            self._checks[name](value)
        except fastjsonschema.JsonSchemaValueException as error:
            message: str = error.message
            if message.startswith("data."):
                return message[len("data.") :]
            if message.startswith("data "):
                return f"{subject} {message[len('data ') :]}"
            return message
        return None
