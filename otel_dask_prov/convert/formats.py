"""Output formats: the streaming writers for PROV-JSON and PROV-N, ``prov`` for the rest.

=========  =========================================  ==============================
Format     Written by                                 Notes
=========  =========================================  ==============================
json       :class:`~.streaming.ProvJsonWriter`        PROV-JSON, the default
provn      :class:`~.streaming.ProvNWriter`           PROV-N
xml        ``prov`` (PROV-XML)                        needs the ``xml`` extra
jsonld     ``prov`` (PROV-JSONLD)                     context inline, not remote
trig       ``prov`` (PROV-O as RDF TriG)              bundles as named graphs;
                                                      needs the ``rdf`` extra
turtle     ``prov`` (PROV-O as RDF Turtle)            always flattened: Turtle has
                                                      no named graphs; needs the
                                                      ``rdf`` extra
dot        :mod:`.pictures`                           Graphviz source of a picture
svg, png   :mod:`.pictures` and Graphviz ``dot``      needs the ``dot`` program
openlineage  :mod:`otel_dask_prov.publish`            OpenLineage run events, one
                                                      JSON line each; needs the
                                                      ``query`` extra
ro-crate   :mod:`otel_dask_prov.publish.ro_crate`     a Workflow Run RO-Crate folder
                                                      (``-o DIR``); needs the
                                                      ``query`` extra
=========  =========================================  ==============================

Pictures draw the run's tasks or its task groups, not every PROV record
(:mod:`.pictures`). Every other format than PROV-JSON and PROV-N builds the whole document with the
``prov`` library first (much slower, in memory that grows with the document:
see ``docs/performance.md``), so use them for small inputs, or convert the
PROV-JSON afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from typing import IO, Any, Final

from ..errors import MissingPackageError, MissingProgramError, UnsupportedFormatError
from .prov_records import FORMAL, QName, Record, Time
from .streaming import ProvJsonWriter, ProvNWriter

FORMATS: Final = ("json", "provn", "xml", "jsonld", "trig", "turtle", "dot", "svg", "png",
                  "openlineage", "ro-crate")
ALIASES: Final = {
    "prov-json": "json", "provjson": "json", "prov-n": "provn", "prov-xml": "xml",
    "rdf": "trig", "ttl": "turtle", "gv": "dot", "ol": "openlineage",
    "rocrate": "ro-crate", "wrroc": "ro-crate", "crate": "ro-crate",
}
EXTENSIONS: Final = {
    ".json": "json", ".provn": "provn", ".xml": "xml", ".provx": "xml", ".jsonld": "jsonld",
    ".trig": "trig", ".ttl": "turtle", ".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png",
    ".jsonl": "openlineage",
}
STREAMING: Final = frozenset({"json", "provn"})
BINARY: Final = frozenset({"png"})
DIRECTORY: Final = frozenset({"ro-crate"})
"""Formats written as a folder (``-o DIR``), not a file or a stream."""
ALWAYS_FLAT: Final = frozenset({"turtle"})


def resolve_format(requested: str | None, output: str | None) -> str:
    """The format asked for with ``-f``, else implied by the output's extension, else json."""
    if requested:
        name = requested.lower()
        name = ALIASES.get(name, name)
        if name not in FORMATS:
            raise UnsupportedFormatError(requested, FORMATS)
        return name
    if output and output != "-":
        lowered = output.lower()
        for extension, name in EXTENSIONS.items():
            if lowered.endswith(extension):
                return name
    return "json"


_OPTIONAL_MODULES: Final = {"xml": ("lxml", "xml"), "trig": ("rdflib", "rdf"),
                             "turtle": ("rdflib", "rdf")}
"""The module ``prov`` needs to write a format, and our extra that installs it."""


def check_program(format_name: str) -> None:
    """Fail early, before reading any input, if *format_name* needs a missing program
    or an optional package (:class:`~otel_dask_prov.errors.MissingPackageError`, naming
    the extra to install)."""
    needed = _OPTIONAL_MODULES.get(format_name)
    if needed is not None:
        import importlib.util

        module, extra = needed
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
            found = False
        if not found:
            raise MissingPackageError(
                f"the {format_name} output format needs the Python package {module!r}; "
                f'install it with: pip install "otel-dask-prov[{extra}]"')
    if format_name in ("svg", "png") and shutil.which("dot") is None:
        raise MissingProgramError(
            "dot", f"{format_name.upper()} output",
            "install Graphviz (e.g. `apt-get install graphviz` or `brew install graphviz`), "
            "or write `-f dot` and render it elsewhere")


# --------------------------------------------------------------------------
# The prov document as a writer
# --------------------------------------------------------------------------
def add_record(bundle: Any, record: Record) -> None:
    """Add *record* to a ``prov`` bundle or document through its builder API."""
    from prov.constants import PROV_RECORD_IDS_MAP

    formal = {name: value.datetime() if type(value) is Time else value
              for name, value in zip(FORMAL[record.kind], record.formal, strict=True)
              if value is not None}
    others = [
        (name, bundle.valid_qualified_name(value) if type(value) is QName
         else value.datetime() if type(value) is Time else value)
        for name, value in record.attributes
    ]
    bundle.new_record(PROV_RECORD_IDS_MAP[record.kind], record.identifier, formal, others)


class _Sink:
    def __init__(self, bundle: Any) -> None:
        self.bundle = bundle
        self.records = 0

    def add(self, record: Record) -> None:
        self.records += 1
        add_record(self.bundle, record)


class _PendingBundle:
    """The records of a bundle, kept until its trace is complete so bundles stay whole."""

    def __init__(self, identifier: str) -> None:
        self.identifier = identifier
        self.pending: list[Record] = []

    @property
    def records(self) -> int:
        return len(self.pending)

    def add(self, record: Record) -> None:
        self.pending.append(record)


class DocumentBuilder:
    """Builds a ``prov`` :class:`~prov.model.ProvDocument` from the conversion's records."""

    def __init__(self, namespaces: dict[str, str], flatten: bool) -> None:
        from prov.model import ProvDocument

        self.document = ProvDocument()
        for prefix, uri in namespaces.items():
            self.document.add_namespace(prefix, uri)
        self.flatten = flatten
        self._top: _Sink | None = None

    def start(self, header: Iterable[Record]) -> None:
        top = self.top()
        for record in header:
            top.add(record)

    def top(self) -> _Sink:
        if self._top is None:
            self._top = _Sink(self.document)
        return self._top

    def open_bundle(self, identifier: str, direct: bool = False) -> _PendingBundle:
        return _PendingBundle(identifier)

    def close_bundle(self, pending: _PendingBundle) -> None:
        bundle = self.document.bundle(pending.identifier)
        for record in pending.pending:
            add_record(bundle, record)

    def finish(self) -> None:
        """Nothing to do: :attr:`document` is complete."""


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------
def streaming_writer(
    format_name: str, out: IO[str], namespaces: dict[str, str], flatten: bool
) -> ProvJsonWriter | ProvNWriter:
    writer = ProvJsonWriter if format_name == "json" else ProvNWriter
    return writer(out, namespaces, flatten)


_PROV_SERIALIZERS: Final[dict[str, dict[str, str]]] = {
    "xml": {"format": "xml"},
    "trig": {"format": "rdf", "rdf_format": "trig"},
    "turtle": {"format": "rdf", "rdf_format": "turtle"},
    "json": {"format": "json"},
    "provn": {"format": "provn"},
}
"""The arguments of ``prov``'s ``serialize`` for the formats it writes itself."""


def serialize(document: Any, format_name: str) -> str:
    """*document* (a ``prov`` document) in one of the formats ``prov`` writes.

    Departures from ``prov``'s own output make it readable by ProvToolbox
    (``docs/prov-mapping.md``, "Read by other tools"); all are what the
    specifications allow and what ``prov`` reads back. PROV-XML writes every agent,
    entity and collection under its base element (``prov:agent`` with ``prov:type``
    ``prov:SoftwareAgent``, not ``prov:softwareAgent``). PROV-JSONLD has its context
    inline (it reads offline), writes the member of a ``hadMember`` as a list and
    repeats the document's prefixes in the context of every bundle.
    """
    if format_name == "xml":
        return _prov_xml(document)
    if format_name == "jsonld":
        return _prov_jsonld(document)
    text: str = document.serialize(**_PROV_SERIALIZERS[format_name])
    return text


def _prov_xml(document: Any) -> str:
    import io

    from prov.serializers.provxml import FULL_NAMES_MAP, ProvXMLSerializer

    class BaseElements(ProvXMLSerializer):
        def _derive_record_label(self, rec_type: Any, attributes: Any) -> str:
            return str(FULL_NAMES_MAP[rec_type])

    out = io.StringIO()
    BaseElements(document).serialize(out)
    return out.getvalue()


def _prov_jsonld(document: Any) -> str:
    import json

    from prov.serializers.provjsonld import encode_jsonld_document

    encoded = encode_jsonld_document(document, "embed")
    prefixes: dict[str, str] = next(
        (part for part in encoded["@context"] if "@version" not in part), {})
    containers = [encoded["@graph"]]
    while containers:
        for statement in containers.pop():
            if statement.get("@type") == "Bundle":
                containers.append(statement["@graph"])
                # ProvToolbox resolves a bundle's names in the bundle's own context only
                statement["@context"] = [{**prefixes, **part} for part in statement["@context"]
                                         ] or [prefixes]
            elif statement.get("@type") == "Membership" and isinstance(statement.get("entity"), str):
                statement["entity"] = [statement["entity"]]
    return json.dumps(encoded, indent=2)
