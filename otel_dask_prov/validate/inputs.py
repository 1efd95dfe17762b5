"""Open a PROV document in any format as a re-readable stream of PROV-JSON events.

PROV-JSON is streamed straight from the file (gzip-compressed too, as
``.json.gz``). The other formats are read with the ``prov`` library, which
builds the whole document in memory, and are then
checked through its PROV-JSON serialization: fine for documents of thousands of
records, not for millions -- write those as PROV-JSON.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..errors import ProvDocumentError
from .jsonstream import Event, read_events


@dataclass(frozen=True)
class Format:
    """An input format: its name, how the ``prov`` library reads it, its extensions."""

    name: str
    title: str
    extensions: tuple[str, ...]
    prov_format: str | None = None
    """``prov`` deserializer; None for PROV-JSON, which is streamed without ``prov``."""
    prov_options: dict[str, str] = field(default_factory=dict)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("json", "PROV-JSON", (".json",)),
        Format("provn", "PROV-N", (".provn", ".pn"), "provn"),
        Format("xml", "PROV-XML", (".provx", ".xml"), "xml"),
        Format("jsonld", "PROV-JSONLD", (".jsonld",), "jsonld"),
        Format("trig", "PROV-O TriG", (".trig",), "rdf", {"rdf_format": "trig"}),
        Format("turtle", "PROV-O Turtle", (".ttl",), "rdf", {"rdf_format": "turtle"}),
    )
}
"""Input formats by the name ``--format`` takes."""


def detect_format(path: str) -> Format:
    """The format of *path* from its extension (a trailing ``.gz`` is looked through)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
    for candidate in FORMATS.values():
        if suffix in candidate.extensions:
            return candidate
    raise ProvDocumentError(
        path,
        None,
        f"cannot tell the format from the extension {suffix or '(none)'!r};"
        f" use --format with one of: {', '.join(FORMATS)}",
    )


def _open_text(path: str) -> TextIO:
    try:
        if path.lower().endswith(".gz"):
            return gzip.open(path, "rt", encoding="utf-8-sig")
        return open(path, encoding="utf-8-sig")
    except OSError as error:
        raise ProvDocumentError(path, None, f"cannot read: {error.strerror or error}") from None


def event_reader(
    path: str, document_format: Format, record_kinds: frozenset[str]
) -> Callable[[], Iterator[Event]]:
    """A function that reads the PROV-JSON events of the document at *path*, anew each call."""
    if document_format.prov_format is None:

        def stream_file() -> Iterator[Event]:
            with _open_text(path) as stream:
                yield from read_events(stream, path, record_kinds)

        return stream_file

    text = _as_prov_json(path, document_format, document_format.prov_format)
    return lambda: read_events(io.StringIO(text), path, record_kinds)


def _as_prov_json(path: str, document_format: Format, prov_format: str) -> str:
    """Read *path* with the ``prov`` library (its format *prov_format*) and return PROV-JSON text."""
    from prov.model import ProvDocument
    from prov.serializers import DoNotExist

    with _open_text(path) as stream:
        try:
            content = stream.read()
        except (OSError, EOFError, UnicodeDecodeError) as error:
            raise ProvDocumentError(path, None, f"cannot read: {error}") from None
    try:
        document = ProvDocument.deserialize(content=content, format=prov_format,
                                            **document_format.prov_options)
    except DoNotExist as error:
        raise ProvDocumentError(path, None, f"cannot read {document_format.title}: {error}") from None
    except Exception as error:  # noqa: BLE001 - the prov parsers raise many unrelated types
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ProvDocumentError(
            path, None, f"not a readable {document_format.title} document: {reason}"
        ) from None
    serialized = io.StringIO()
    document.serialize(serialized, format="json")
    return serialized.getvalue()
