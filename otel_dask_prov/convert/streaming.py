"""Streaming PROV-JSON and PROV-N writers: records in, text out, no document in memory.

Both writers take :class:`~.prov_records.Record` tuples and write them as text
directly; the ``prov`` library reads the result back into the same document it
would have built from those records (``tests/test_convert_streaming.py``
checks this on every fixture). Memory does not grow with the number of
finished traces: a bundle is built in a spooled temporary file (kept in memory
while small, on disk beyond :data:`SPOOL_BYTES`) and copied to the output when
its trace is complete. PROV-JSON groups the records of a container by kind, so
a JSON bundle keeps one spool per kind.

Writers mirror the ``prov`` 3.2 serializers' encoding: typed literals as
``{"$": "...", "type": "xsd:int"}`` in PROV-JSON and ``"..." %% xsd:int`` in
PROV-N (``xsd:int``, ``xsd:long`` or ``xsd:integer`` by magnitude, as ``prov``
does), times in ISO 8601 with their UTC offset. One departure: qualified-name values are
typed ``prov:QUALIFIED_NAME`` in PROV-JSON, as the PROV-JSON submission says, not
``xsd:QName`` as ``prov`` writes them (``prov`` reads both; ProvToolbox reads
``xsd:QName`` values as plain strings). Repeated attribute names must be adjacent in a
record (the mapping guarantees it); PROV-JSON writes their values as one array.
"""

from __future__ import annotations

import codecs
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_string
from typing import IO, Any, Final, Protocol, TextIO, TypeGuard, TypeVar

from .prov_records import ELEMENTS, FORMAL, QName, Record, Time

SPOOL_BYTES: Final = 4 << 20
"""A bundle (or one kind of record in a JSON bundle) stays in memory up to this size."""

_INT32: Final = 2**31 - 1
_INT64: Final = 2**63 - 1

PREDEFINED: Final = frozenset({"prov", "xsd"})


def xsd_integer_type(value: int) -> str:
    """The XSD type ``prov`` gives a Python int: xsd:int, xsd:long or xsd:integer."""
    if -_INT32 - 1 <= value <= _INT32:
        return "xsd:int"
    if -_INT64 - 1 <= value <= _INT64:
        return "xsd:long"
    return "xsd:integer"


class RecordSink(Protocol):
    """Where the mapping sends the records of one container."""

    @property
    def records(self) -> int:
        """How many records were added."""

    def add(self, record: Record) -> None: ...


class RecordRouter:
    """A :class:`RecordSink` that hands each record to the method its :attr:`handlers`
    names for the record's kind, and counts them; records of other kinds are counted
    and left out. For writers that read the records back (the report's summary, the
    query stage's tables) rather than serialize them."""

    handlers: dict[str, Callable[[Record], None]]

    def __init__(self) -> None:
        self.records = 0

    def add(self, record: Record) -> None:
        self.records += 1
        handler = self.handlers.get(record.kind)
        if handler is not None:
            handler(record)


class DocumentWriter(Protocol):
    """What the conversion drives: the streaming writers here, or ``prov`` (:mod:`.formats`).

    ``start`` takes the document's own records known before any trace is read;
    ``top`` is the document's container (for a flattened document);
    ``open_bundle``/``close_bundle`` bracket the records of one trace; ``direct``
    says that no other bundle closes before this one, so that a writer may write
    it as it fills instead of keeping it until it is complete.
    """

    def start(self, header: Iterable[Record]) -> None: ...

    def top(self) -> RecordSink: ...

    def open_bundle(self, identifier: str, direct: bool = False) -> RecordSink: ...

    def close_bundle(self, bundle: Any) -> None: ...

    def finish(self) -> None: ...


class Spool:
    """Items of text kept in memory up to :data:`SPOOL_BYTES` characters, then in a
    temporary file; written out joined by *separator*."""

    __slots__ = ("_file", "_parts", "_separator", "_size", "_spilled")

    def __init__(self, separator: str = "") -> None:
        self._parts: list[str] = []
        self._size = 0
        self._file: IO[bytes] | None = None
        self._separator = separator
        self._spilled = False

    def write(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size > SPOOL_BYTES:
            self._spill()

    def _joined(self) -> str:
        text = self._separator.join(self._parts)
        if self._spilled and self._parts:
            text = self._separator + text
        self._parts.clear()
        self._size = 0
        return text

    def _spill(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in copy_to
        self._file.write(self._joined().encode(_SPOOL_ENCODING, _SPOOL_ERRORS))
        self._spilled = True

    def copy_to(self, out: IO[str]) -> None:
        """Write everything to *out* and free the spool."""
        if self._file is None:
            out.write(self._joined())
            return
        self._spill()
        spilled, self._file, self._spilled = self._file, None, False
        with spilled:
            spilled.seek(0)
            if _same_bytes(out):  # the bytes are what *out* would make of the text
                out.flush()
                _copy_bytes(spilled, out.buffer)
            else:
                text = io.TextIOWrapper(spilled, _SPOOL_ENCODING, _SPOOL_ERRORS)
                shutil.copyfileobj(text, out, 1 << 20)
                text.detach()


_SPOOL_ENCODING: Final = "utf-8"
_SPOOL_ERRORS: Final = "backslashreplace"


def _copy_bytes(source: IO[bytes], out: IO[bytes]) -> None:
    """Copy *source* from its position to *out*, in the kernel where it can."""
    out.flush()
    start = source.tell()
    try:
        target, size = out.fileno(), os.fstat(source.fileno()).st_size - start
        while size > 0:
            sent = os.sendfile(target, source.fileno(), start, min(size, 1 << 30))
            if sent == 0:
                break
            start += sent
            size -= sent
    except (AttributeError, OSError, io.UnsupportedOperation):
        pass  # no sendfile here, or not to this output: the rest the ordinary way
    source.seek(start)
    shutil.copyfileobj(source, out, 1 << 20)


def _same_bytes(out: IO[str]) -> TypeGuard[TextIO]:
    """Whether *out* is a text layer over a binary buffer that encodes as a spool does."""
    encoding = getattr(out, "encoding", None)
    return (hasattr(out, "buffer") and isinstance(encoding, str)
            and codecs.lookup(encoding).name == _SPOOL_ENCODING
            and getattr(out, "errors", None) == _SPOOL_ERRORS)


# --------------------------------------------------------------------------
# Times
# --------------------------------------------------------------------------
_CACHE_SIZE: Final = 4096
"""How many texts each cache of formatted values holds before it starts again."""
_Key = TypeVar("_Key")


def _remember(texts: dict[_Key, str], key: _Key, text: str) -> str:
    """*text*, kept in the cache *texts* under *key*."""
    if len(texts) >= _CACHE_SIZE:
        texts.clear()
    texts[key] = text
    return text


def _value_texts(string: Callable[[str], str], typed: Callable[[Any, type], str],
                 time: str) -> Callable[[Any], str]:
    """The function from an attribute value (a :data:`~.prov_records.Value`) to its text in
    one format: a string by *string*, a :class:`~.prov_records.Time` by the template *time*,
    any other value by *typed*, remembered (numbers, names and flags repeat)."""
    texts: dict[tuple[type, Any], str] = {}

    def value_text(value: Any) -> str:
        kind = type(value)
        if kind is str:
            return string(value)
        if kind is Time:  # unique: not worth remembering
            moment: str = time % value
            return moment
        key = (kind, value)  # typed: True, 1 and 1.0 are equal keys, but not the same text
        text = texts.get(key)
        if text is None:
            text = _remember(texts, key, typed(value, kind))
        return text

    return value_text


_time_texts: dict[datetime, str] = {}


def iso(moment: Any) -> str:
    """ISO 8601 text of a :class:`~.prov_records.Time` (its own text) or of a ``datetime``, as
    ``datetime.isoformat()`` writes it."""
    if type(moment) is Time:
        return moment
    text = _time_texts.get(moment)
    if text is None:
        text = _remember(_time_texts, moment, moment.isoformat())
    return text


# --------------------------------------------------------------------------
# PROV-JSON
# --------------------------------------------------------------------------
def _json_typed(value: Any, kind: type) -> str:
    if kind is QName:
        return '{"$": %s, "type": "prov:QUALIFIED_NAME"}' % _json_string(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return '{"$": "%d", "type": "%s"}' % (value, xsd_integer_type(value))
    if kind is float:
        return '{"$": "%r", "type": "xsd:double"}' % value
    if kind is Time or kind is datetime:
        return '{"$": "%s", "type": "xsd:dateTime"}' % iso(value)
    raise TypeError(f"not a PROV attribute value: {value!r}")


json_value: Final = _value_texts(_json_string, _json_typed, '{"$": "%s", "type": "xsd:dateTime"}')
"""One attribute value (a :data:`~.prov_records.Value`) in PROV-JSON."""


def _is_time(name: str) -> bool:
    return name.endswith(("Time", ":time"))


def _compile(source: str) -> Callable[[tuple[Any, ...]], str]:
    namespace: dict[str, Any] = {"iso": iso, "Time": Time}
    exec(source, namespace)  # noqa: S102 - our own constant names, as collections.namedtuple does
    formal: Callable[[tuple[Any, ...]], str] = namespace["formal"]
    return formal


def _json_formal(names: tuple[str, ...]) -> Callable[[tuple[Any, ...]], str]:
    """The function from a record's formal values to its JSON members (``None`` left out).

    Generated per kind of record, as :func:`collections.namedtuple` generates its
    class, so that the usual record, with every formal attribute, is one formatting.
    """
    if not names:
        return lambda values: ""
    variables = [f"v{position}" for position in range(len(names))]
    texts = [f"({variable} if type({variable}) is Time else iso({variable}))"
             if _is_time(name) else variable for variable, name in zip(variables, names, strict=True)]
    templates = ['"%s": "%%s"' % name for name in names]
    lines = ["def formal(values):",
             f"    {', '.join(variables)}, = values",
             f"    if {' and '.join(f'{variable} is not None' for variable in variables)}:",
             f"        return {', '.join(templates)!r} % ({', '.join(texts)},)",
             "    parts = []"]
    for variable, template, text in zip(variables, templates, texts, strict=True):
        lines.append(f"    if {variable} is not None:")
        lines.append(f"        parts.append({template!r} % {text})")
    lines.append("    return ', '.join(parts)")
    return _compile("\n".join(lines))


def _provn_formal(names: tuple[str, ...]) -> Callable[[tuple[Any, ...]], str]:
    """The function from a record's formal values to PROV-N (``-`` for ``None``)."""
    if not names:
        return lambda values: ""
    variables = [f"v{position}" for position in range(len(names))]
    texts = [f"'-' if {variable} is None else " + (
        f"{variable} if type({variable}) is Time else iso({variable})" if _is_time(name)
        else variable) for variable, name in zip(variables, names, strict=True)]
    return _compile("\n".join([
        "def formal(values):",
        f"    {', '.join(variables)}, = values",
        f"    return {', '.join(['%s'] * len(names))!r} % ({', '.join(f'({t})' for t in texts)},)",
    ]))


_JSON_FORMAL: Final = {kind: _json_formal(names) for kind, names in FORMAL.items()}
_PROVN_FORMAL: Final = {kind: _provn_formal(names) for kind, names in FORMAL.items()}


def json_members(record: Record) -> str:
    """The ``"name": value`` members of one record's JSON object, comma-separated."""
    formal = _JSON_FORMAL[record[0]](record[2])
    if not record[3]:
        return formal
    parts = [formal] if formal else []
    append = parts.append
    previous = None
    group: list[str] | None = None
    for name, value in record[3]:
        kind = type(value)
        if kind is str:
            text = _json_string(value)  # type: ignore[arg-type]  # a str: `kind is str` does not narrow
        elif kind is Time:  # unique: not worth remembering
            text = '{"$": "%s", "type": "xsd:dateTime"}' % value
        else:
            text = json_value(value)
        if name != previous:
            previous, group = name, None
            append('"%s": %s' % (name, text))
        else:  # a repeated name (several prov:type): its values as one array
            if group is None:
                group = [parts[-1].partition(": ")[2]]
            group.append(text)
            parts[-1] = '"%s": [%s]' % (name, ", ".join(group))
    return ", ".join(parts)


class _Direct:
    """A section written straight to the output as its records come (see :class:`JsonContainer`)."""

    __slots__ = ("_out", "_separator", "_started")

    def __init__(self, out: IO[str], separator: str) -> None:
        self._out = out
        self._separator = separator
        self._started = False

    def write(self, text: str) -> None:
        if self._started:
            self._out.write(self._separator)
        self._started = True
        self._out.write(text)


class JsonContainer:
    """The records of one PROV-JSON container (the document's own, or one bundle's).

    Records are grouped by kind, each kind in a :class:`Spool` until the container
    is complete; with *direct*, the container's first kind is written straight
    to that output, at *indent* (the caller guarantees nothing else is written
    there until the container is).
    """

    def __init__(self, identifier: str | None = None, direct: IO[str] | None = None,
                 indent: str = "") -> None:
        self.identifier = identifier
        self.direct = direct
        self._indent = indent
        self._sections: dict[str, Spool | _Direct] = {}
        self._blank = 0
        self.records = 0

    def add(self, record: Record) -> None:
        self.records += 1
        kind, identifier = record[0], record[1]
        section = self._sections.get(kind)
        if section is None:
            section = self._sections[kind] = self._section(kind)
        if identifier is None:
            self._blank += 1
            identifier = "_:id%d" % self._blank
        section.write('"%s": {%s}' % (identifier, json_members(record)))

    def _section(self, kind: str) -> Spool | _Direct:
        if self.direct is None or self._sections:
            return Spool(",\n")
        self.direct.write(f'{self._indent}"{kind}": {{\n')
        return _Direct(self.direct, ",\n")

    def write_to(self, out: IO[str], indent: str, more: bool) -> None:
        """Write a ``"kind": {...}`` member per kind; *more* if other members follow."""
        sections = list(self._sections.items())
        for position, (kind, section) in enumerate(sections):
            if isinstance(section, Spool):  # a direct section is out already
                out.write(f'{indent}"{kind}": {{\n')
                section.copy_to(out)
            last = position == len(sections) - 1
            out.write("\n" + indent + ("}\n" if last and not more else "},\n"))
        self._sections.clear()


class ProvJsonWriter:
    """PROV-JSON, one bundle per trace, or everything in the document when *flatten*.

    A *part* writer writes bundles only (no document around them, and no header):
    the bundles of some of the traces, converted elsewhere and joined in order by
    the whole document's writer (:meth:`add_part`, :mod:`.on_cluster`).
    """

    def __init__(self, out: IO[str], namespaces: dict[str, str], flatten: bool,
                 part: bool = False) -> None:
        self.out = out
        self.namespaces = {p: uri for p, uri in namespaces.items() if p not in PREDEFINED}
        self.flatten = flatten
        self.part = part
        self.document = JsonContainer()
        self._bundles = 0

    def start(self, header: Iterable[Record]) -> None:
        if self.part:
            return
        for record in header:
            self.document.add(record)
        if not self.flatten:
            self._open()
            self.document.write_to(self.out, "  ", more=True)
            self.out.write('  "bundle": {\n')

    def _open(self) -> None:
        prefixes = ", ".join(f"{_json_string(prefix)}: {_json_string(uri)}"
                             for prefix, uri in self.namespaces.items())
        # the header records always follow, so the prefix member always takes a comma
        self.out.write("{\n  \"prefix\": {%s},\n" % prefixes)

    def top(self) -> RecordSink:
        """The document's own container (records of a flattened document)."""
        return self.document

    def open_bundle(self, identifier: str, direct: bool = False) -> JsonContainer:
        """A bundle; *direct* if it is the next to close (it is then written as it fills)."""
        if not direct:
            return JsonContainer(identifier)
        self._begin_bundle(identifier)
        return JsonContainer(identifier, self.out, "      ")

    def _begin_bundle(self, identifier: str | None) -> None:
        if self._bundles:
            self.out.write(",\n")
        self._bundles += 1
        self.out.write(f'    "{identifier}": {{\n')

    def close_bundle(self, bundle: JsonContainer) -> None:
        if bundle.direct is None:
            self._begin_bundle(bundle.identifier)
        bundle.write_to(self.out, "      ", more=False)
        self.out.write("    }")

    @property
    def bundles(self) -> int:
        """Bundles written so far."""
        return self._bundles

    def add_part(self, text: IO[str], bundles: int) -> None:
        """Copy the output of a part writer (*bundles* bundles) after the bundles so far."""
        if bundles:
            if self._bundles:
                self.out.write(",\n")
            shutil.copyfileobj(text, self.out, 1 << 20)
            self._bundles += bundles

    def finish(self) -> None:
        if self.part:
            return
        if self.flatten:
            self._open()
            self.document.write_to(self.out, "  ", more=False)
            self.out.write("}\n")
        else:
            self.out.write("\n  }\n}\n")


# --------------------------------------------------------------------------
# PROV-N
# --------------------------------------------------------------------------
def provn_string(text: str) -> str:
    """A PROV-N string literal, triple-quoted when it spans lines (as ``prov`` writes it)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    if "\n" in escaped:
        return f'"""{escaped}"""'
    return '"' + escaped.replace("\r", "\\r") + '"'


def _provn_typed(value: Any, kind: type) -> str:
    if kind is QName:
        return f"'{value}'"
    if kind is bool:
        return '"true" %% xsd:boolean' if value else '"false" %% xsd:boolean'
    if kind is int:
        datatype = xsd_integer_type(value)
        return str(value) if datatype == "xsd:int" else f'"{value}" %% {datatype}'
    if kind is float:
        return '"%r" %%%% xsd:double' % value
    if kind is Time or kind is datetime:
        return f'"{iso(value)}" %% xsd:dateTime'
    raise TypeError(f"not a PROV attribute value: {value!r}")


provn_value: Final = _value_texts(provn_string, _provn_typed, '"%s" %%%% xsd:dateTime')
"""One attribute value (a :data:`~.prov_records.Value`) in PROV-N."""


def provn_statement(record: Record) -> str:
    """One record as a PROV-N expression."""
    kind, identifier, formal, attributes = record
    items = _PROVN_FORMAL[kind](formal)
    if attributes:
        listed = "[" + ", ".join([
            "%s=%s" % (name, provn_string(value) if type(value) is str else provn_value(value))
            for name, value in attributes]) + "]"
        items = f"{items}, {listed}" if items else listed
    if kind in ELEMENTS:
        return f"{kind}({identifier}, {items})" if items else f"{kind}({identifier})"
    if identifier:
        return f"{kind}({identifier}; {items})"
    return f"{kind}({items})"


class _ProvNLines:
    """Statements written one per line with an indent, to a stream."""

    def __init__(self, out: IO[str] | Spool, indent: str) -> None:
        self.out = out
        self.indent = indent
        self.records = 0

    def add(self, record: Record) -> None:
        self.records += 1
        self.out.write(self.indent + provn_statement(record) + "\n")


class ProvNBundle(_ProvNLines):
    """A bundle being written to its own spool until its trace is complete, or straight
    to *direct* (when nothing else is written there until the bundle is complete)."""

    def __init__(self, identifier: str, direct: IO[str] | None = None) -> None:
        if direct is None:
            self.spool: Spool | None = Spool()
            super().__init__(self.spool, "    ")
        else:
            self.spool = None
            super().__init__(direct, "    ")
        self.identifier = identifier


class ProvNWriter:
    """PROV-N, one bundle per trace, or everything in the document when *flatten*.

    A *part* writer writes bundles only, like :class:`ProvJsonWriter`'s.
    """

    def __init__(self, out: IO[str], namespaces: dict[str, str], flatten: bool,
                 part: bool = False) -> None:
        self.out = out
        self.namespaces = {p: uri for p, uri in namespaces.items() if p not in PREDEFINED}
        self.flatten = flatten
        self.part = part
        self.document = _ProvNLines(out, "  ")
        self.bundles = 0

    def start(self, header: Iterable[Record]) -> None:
        if self.part:
            return
        out = self.out
        out.write("document\n")
        for prefix, uri in self.namespaces.items():
            out.write(f"  prefix {prefix} <{uri}>\n")
        out.write("\n")
        for record in header:
            self.document.add(record)

    def top(self) -> RecordSink:
        return self.document

    def open_bundle(self, identifier: str, direct: bool = False) -> ProvNBundle:
        """A bundle; *direct* if it is the next to close (it is then written as it fills)."""
        if not direct:
            return ProvNBundle(identifier)
        self.out.write(f"  bundle {identifier}\n")
        return ProvNBundle(identifier, self.out)

    def close_bundle(self, bundle: ProvNBundle) -> None:
        out = self.out
        if bundle.spool is not None:
            out.write(f"  bundle {bundle.identifier}\n")
            bundle.spool.copy_to(out)
        out.write("  endBundle\n")
        self.bundles += 1

    def add_part(self, text: IO[str], bundles: int) -> None:
        """Copy the output of a part writer (*bundles* bundles) after the bundles so far."""
        shutil.copyfileobj(text, self.out, 1 << 20)
        self.bundles += bundles

    def finish(self) -> None:
        if not self.part:
            self.out.write("endDocument\n")
