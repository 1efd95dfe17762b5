"""Read a PROV-JSON document record by record, in memory that does not grow with it.

A PROV-JSON document is one JSON object whose keys are record kinds
(``"activity"``, ``"used"``, ...), each mapping record ids to record objects,
plus ``"prefix"`` and ``"bundle"`` (bundle id to an object of the same shape).
:func:`read_events` walks that structure with a small hand-written scanner and
hands every *record* to the standard library's :mod:`json` decoder on its own,
so only one record is ever decoded at a time, however large the document is.

The events are, in file order:

* :class:`Prefixes` -- a ``"prefix"`` object of the document or of a bundle;
* :class:`Record` -- one record (a record listed as a JSON array of objects,
  as the ``prov`` library writes several records with the same id, gives one
  event per element);
* :class:`BundleStart` / :class:`BundleEnd` -- around the contents of a bundle;
* :class:`Misplaced` -- a key or a value that has no place in PROV-JSON (an
  unknown record kind, a record kind whose value is not an object, ...).

Input that is not JSON at all, or JSON that is not an object, raises
:class:`~otel_dask_prov.errors.ProvDocumentError` naming the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple, TextIO

from ..errors import ProvDocumentError

CHUNK_CHARS = 1 << 20
"""Characters read from the file at a time."""

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class Prefixes(NamedTuple):
    """The ``"prefix"`` object of the document (*bundle* None) or of a bundle."""

    bundle: str | None
    value: Any


class Record(NamedTuple):
    """One record: *kind* is the PROV-JSON key (``"activity"``, ``"used"``, ...)."""

    bundle: str | None
    kind: str
    id: str
    value: Any


class BundleStart(NamedTuple):
    """The contents of bundle *bundle* follow."""

    bundle: str


class BundleEnd(NamedTuple):
    """The contents of bundle *bundle* are over."""

    bundle: str


class Misplaced(NamedTuple):
    """*key* (in the document, or in *bundle*) holds something PROV-JSON has no place for."""

    bundle: str | None
    key: str
    reason: str


Event = Prefixes | Record | BundleStart | BundleEnd | Misplaced


def read_events(stream: TextIO, path: str, record_kinds: frozenset[str]) -> Iterator[Event]:
    """Yield the events of the PROV-JSON document in *stream* (named *path* in errors).

    *record_kinds* are the keys that hold records; any other key except
    ``"prefix"`` and ``"bundle"`` is reported as :class:`Misplaced`.
    """
    scanner = _Scanner(stream, path)
    if scanner.peek() != "{":
        if scanner.peek() == "":
            raise ProvDocumentError(path, None, "the file is empty; expected a PROV-JSON object")
        not_json = scanner.error("not JSON; a PROV-JSON document is one JSON object, {...}")
        try:
            value = scanner.value()
        except ProvDocumentError:
            raise not_json from None
        raise scanner.error(
            f"expected a PROV-JSON object, found {_json_type(value)}", at_start=True
        )
    yield from _container(scanner, None, record_kinds)
    scanner.expect_end()


def _container(scanner: _Scanner, bundle: str | None, record_kinds: frozenset[str]) -> Iterator[Event]:
    """Events of one PROV-JSON container: the document (*bundle* None) or a bundle."""
    for key in scanner.object_keys():
        if key == "prefix":
            yield Prefixes(bundle, scanner.value())
        elif key == "bundle" and bundle is None:
            yield from _bundles(scanner, record_kinds)
        elif key in record_kinds:
            yield from _records(scanner, bundle, key)
        else:
            scanner.value()
            if key == "bundle":
                yield Misplaced(bundle, key, "bundles cannot be nested")
            else:
                yield Misplaced(bundle, key, f"{key!r} is not a PROV-JSON record kind")


def _records(scanner: _Scanner, bundle: str | None, kind: str) -> Iterator[Event]:
    if scanner.peek() != "{":
        found = _json_type(scanner.value())
        yield Misplaced(bundle, kind, f"the value of {kind!r} must be an object, not {found}")
        return
    for record_id in scanner.object_keys():
        value = scanner.value()
        if isinstance(value, list) and value:
            for instance in value:
                yield Record(bundle, kind, record_id, instance)
        else:
            yield Record(bundle, kind, record_id, value)


def _bundles(scanner: _Scanner, record_kinds: frozenset[str]) -> Iterator[Event]:
    if scanner.peek() != "{":
        found = _json_type(scanner.value())
        yield Misplaced(None, "bundle", f"the value of 'bundle' must be an object, not {found}")
        return
    for bundle_id in scanner.object_keys():
        if scanner.peek() != "{":
            found = _json_type(scanner.value())
            yield Misplaced(bundle_id, "bundle", f"a bundle must be an object, not {found}")
            continue
        yield BundleStart(bundle_id)
        yield from _container(scanner, bundle_id, record_kinds)
        yield BundleEnd(bundle_id)


def _json_type(value: Any) -> str:
    """The kind of a JSON value, with its article: ``"an array"``, ``"null"``, ..."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "null" if value is None else "a number"


class _Scanner:
    """A cursor over a text stream that reads more of it only when needed.

    The buffer holds the unread rest of the current chunk; decoded text before
    the cursor is dropped at each refill, counting its lines so that errors can
    name the line where they happen.
    """

    def __init__(self, stream: TextIO, path: str) -> None:
        self._stream = stream
        self._path = path
        self._buffer = ""
        self._pos = 0
        self._eof = False
        self._lines_dropped = 0

    # -- low level ---------------------------------------------------------
    def _fill(self, at_least: int = CHUNK_CHARS) -> bool:
        """Read more text; return False at the end of the stream."""
        if self._eof:
            return False
        try:
            chunk = self._stream.read(max(at_least, CHUNK_CHARS))
        except UnicodeDecodeError as error:
            raise ProvDocumentError(self._path, None, f"not UTF-8 text ({error.reason})") from None
        except (OSError, EOFError) as error:  # EOFError: a truncated gzip file
            reason = getattr(error, "strerror", None) or str(error)
            raise ProvDocumentError(self._path, None, f"cannot read: {reason}") from None
        if not chunk:
            self._eof = True
            return False
        self._lines_dropped += self._buffer.count("\n", 0, self._pos)
        self._buffer = self._buffer[self._pos :] + chunk
        self._pos = 0
        return True

    def peek(self) -> str:
        """Skip whitespace; return the next character, or ``""`` at the end."""
        while True:
            buffer = self._buffer
            blank = _WHITESPACE.match(buffer, self._pos)  # always matches, maybe empty
            pos = self._pos = blank.end() if blank else self._pos
            if pos < len(buffer):
                return buffer[pos]
            if not self._fill():
                return ""

    def _expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            raise self.error(f"expecting {what}")
        self._pos += 1

    def value(self) -> Any:
        """Decode the JSON value at the cursor and move past it."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as error:
                incomplete = error.msg.startswith("Unterminated string") or (
                    error.pos >= len(self._buffer) - 8
                )
                if incomplete and self._fill(len(self._buffer) - self._pos):
                    continue
                raise self._decode_error(error) from None
            if end == len(self._buffer) and self._fill(len(self._buffer) - self._pos):
                continue  # a number or literal may go on in the next chunk
            self._pos = end
            return value

    def object_keys(self) -> Iterator[str]:
        """Enter the object at the cursor; yield each key with the cursor at its value."""
        self._expect("{", "'{'")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            if self.peek() != '"':
                raise self.error("expecting a property name in double quotes")
            key = self.value()
            self._expect(":", "':' after a property name")
            yield key
            if self.peek() == ",":
                self._pos += 1
                continue
            self._expect("}", "',' or '}' after a value")
            return

    def expect_end(self) -> None:
        """Raise unless only whitespace is left."""
        if self.peek() != "":
            raise self.error(
                "more data after the PROV-JSON object; a PROV-JSON document is one JSON object"
                " (JSON lines, such as trace files, are not PROV: convert them with otel-prov convert)"
            )

    # -- errors --------------------------------------------------------------
    def _line_column(self, pos: int) -> tuple[int, int]:
        line = self._lines_dropped + self._buffer.count("\n", 0, pos) + 1
        column = pos - (self._buffer.rfind("\n", 0, pos) + 1) + 1
        return line, column

    def error(self, reason: str, at_start: bool = False) -> ProvDocumentError:
        """A :class:`ProvDocumentError` at the cursor (or at the start of the file)."""
        if at_start:
            return ProvDocumentError(self._path, 1, reason)
        if self._pos >= len(self._buffer) and self._eof:
            return ProvDocumentError(self._path, None, f"the file ends early: {reason}")
        line, column = self._line_column(self._pos)
        return ProvDocumentError(self._path, line, f"column {column}: {reason}")

    def _decode_error(self, error: json.JSONDecodeError) -> ProvDocumentError:
        reason = error.msg[0].lower() + error.msg[1:]
        truncated = error.msg.startswith("Unterminated string") or not self._buffer[error.pos :].strip()
        if truncated:
            return ProvDocumentError(self._path, None, f"the file ends early: {reason}")
        line, column = self._line_column(error.pos)
        return ProvDocumentError(self._path, line, f"column {column}: {reason}")
