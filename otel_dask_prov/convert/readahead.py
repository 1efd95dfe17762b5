"""Decode spans in a second process, ahead of the mapping, so that a conversion uses two cores.

In the second pass of a conversion every unit (a line of a trace file) is read,
its spans are decoded (:mod:`.readers`), mapped and written. Decoding needs
nothing but the unit, so :class:`SpanFeed` runs it in a child process
(``python -m otel_dask_prov.convert.readahead``): the child gets the index of
the first pass and sends back the decoded spans of every unit, in reading
order, while this process maps and writes the units before. The document is
the one a single process writes, byte for byte: the same spans arrive in the
same order, and a unit the child cannot decode arrives as its error message,
so that the conversion stops (or skips the unit) where it would have.

Spans travel as MessagePack (they are ``msgspec`` structs, decoded straight
into :class:`~.model.Span`); a unit whose spans would not come back exactly
that way (integers beyond 64 bits, nested arrays, unpaired surrogates) travels
pickled. The pipe between the processes holds a few units, so memory does not
grow with the input.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import traceback
from array import array
from pathlib import Path
from typing import IO, Iterator, NoReturn

import msgspec

from . import readers
from .model import Span
from .sources import Index, ResourceCatalog, UnitReader

PARALLEL_BYTES = 64 << 20
"""Inputs at least this large are decoded in a second process when the machine has
two cores or more (``parallel=None``); below, starting it costs more than it saves."""

DECODE_ERRORS = (readers.InvalidUnit, ValueError, TypeError, KeyError)
"""What decoding or mapping a malformed unit raises: the unit's error, not a bug."""

_HEADER = struct.Struct("<BQ")
_SPANS, _PICKLED_SPANS, _UNIT_ERROR, _RESOURCES, _CRASH = range(5)
_PIPE_BYTES = 1 << 20
_F_SETPIPE_SZ = 1031  # Linux


def worth_it(index: Index) -> bool:
    """Whether *index* is large enough, and the machine wide enough, for a second process."""
    return (os.cpu_count() or 1) >= 2 and sum(file.size for file in index.files) >= PARALLEL_BYTES


def wanted_traces(index: Index, holds: list[list[int]], unit: int) -> dict[str, int]:
    """Trace id -> trace position of the traces *unit* holds."""
    return {index.traces[position].trace_id: position for position in holds[unit]}


class ReadaheadFailed(RuntimeError):
    """The decoding process stopped without saying why (killed, out of memory)."""


class SpanFeed:
    """The decoded spans of every unit of *index*, in *order*, from a child process.

    Iterate :meth:`units` for ``(spans, error)`` per unit: the unit's spans of
    the traces it holds, or the message of what decoding it raised.
    """

    def __init__(self, index: Index, order: list[int]) -> None:
        self.index = index
        self._expected = len(order)
        package_root = str(Path(__file__).resolve().parents[2])
        path = os.environ.get("PYTHONPATH")
        environment = {**os.environ,
                       "PYTHONPATH": package_root + (os.pathsep + path if path else "")}
        self._process = subprocess.Popen(
            [sys.executable, "-c", f"from {__name__} import main; main()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=environment)
        assert self._process.stdin is not None and self._process.stdout is not None
        _widen(self._process.stdout)
        self._stdout: IO[bytes] = self._process.stdout
        try:
            pickle.dump((index, array("l", order)), self._process.stdin, pickle.HIGHEST_PROTOCOL)
            self._process.stdin.close()
        except BrokenPipeError:
            pass  # the child died at start; reading says so
        self._decoder = msgspec.msgpack.Decoder(list[Span])

    def units(self) -> Iterator[tuple[list[Span], str | None]]:
        resources = self.index.resources
        read = self._stdout.read
        delivered = 0
        while delivered < self._expected:
            header = read(_HEADER.size)
            if len(header) < _HEADER.size:
                self._fail()
            kind, size = _HEADER.unpack(header)
            payload = read(size)
            if len(payload) < size:
                self._fail()
            if kind == _RESOURCES:  # not a unit: resources the next unit's spans name
                for resource in pickle.loads(payload):
                    resources.setdefault(resource.key, resource)
                continue
            if kind == _CRASH:
                raise pickle.loads(payload)
            delivered += 1
            if kind == _UNIT_ERROR:
                yield [], payload.decode("utf-8", "replace")
                continue
            spans = self._decoder.decode(payload) if kind == _SPANS else pickle.loads(payload)
            for span in spans:
                span.resource = resources[span.resource]
            yield spans, None

    def _fail(self) -> NoReturn:
        code = self._process.wait()
        raise ReadaheadFailed(f"the span decoding process ended early (exit status {code})")

    def close(self) -> None:
        """Stop the child (at once, if the conversion ends before its input does)."""
        if self._process.poll() is None:
            self._process.kill()
        self._stdout.close()
        self._process.wait()

    def __enter__(self) -> SpanFeed:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _widen(pipe: IO[bytes]) -> None:
    """A larger pipe buffer: fewer switches between the processes (Linux only)."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, OSError):
        pass


# --------------------------------------------------------------------------
# The child
# --------------------------------------------------------------------------
def _serve(source: IO[bytes], out: IO[bytes]) -> None:
    """Decode the units the index on *source* lists, writing one frame per unit to *out*."""
    index, order = pickle.load(source)
    holds = index.traces_by_unit()
    catalog = ResourceCatalog(index.resources)
    known = set(index.resources)
    encoder = msgspec.msgpack.Encoder()
    decoder = msgspec.msgpack.Decoder(list[Span])

    def send(kind: int, payload: bytes) -> None:
        out.write(_HEADER.pack(kind, len(payload)))
        out.write(payload)

    with UnitReader(index) as reader:
        for unit in order:
            try:
                spans = readers.iter_spans(reader.read(unit), catalog.resolve,
                                           wanted_traces(index, holds, unit))
            except DECODE_ERRORS as error:
                send(_UNIT_ERROR, str(error).encode("utf-8", "backslashreplace"))
                continue
            if len(index.resources) > len(known):
                added = [resource for key, resource in index.resources.items() if key not in known]
                known.update(resource.key for resource in added)
                send(_RESOURCES, pickle.dumps(added, pickle.HIGHEST_PROTOCOL))
            for span in spans:
                span.resource = span.resource.key
            try:
                payload = encoder.encode(spans)
                exact = decoder.decode(payload) == spans
            except (TypeError, ValueError, OverflowError, msgspec.MsgspecError):
                exact = False
            if exact:
                send(_SPANS, payload)
            else:
                send(_PICKLED_SPANS, pickle.dumps(spans, pickle.HIGHEST_PROTOCOL))
    out.flush()


def main() -> None:
    out = sys.stdout.buffer
    try:
        _serve(sys.stdin.buffer, out)
    except BrokenPipeError:  # the parent stopped reading: it has what it needs
        pass
    except BaseException as error:  # a bug: the parent raises it, as one process would
        try:
            payload = pickle.dumps(error, pickle.HIGHEST_PROTOCOL)
        except Exception:
            payload = pickle.dumps(ReadaheadFailed("".join(
                traceback.format_exception_only(type(error), error)).strip()))
        try:
            out.write(_HEADER.pack(_CRASH, len(payload)))
            out.write(payload)
            out.flush()
        except OSError:
            pass
        sys.exit(1)


if __name__ == "__main__":
    main()
