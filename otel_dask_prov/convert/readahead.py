"""A second process that reads and decodes for the conversion, so that it uses two cores.

:class:`Helper` starts a child process (``python -c "...readahead import main"``) that
does two jobs:

* in the first pass, it scans part of the input files (about half the bytes)
  while this process scans the others (:func:`.scan.scan` merges the two
  results in file order);
* in the second pass every unit (a line of a trace file) is read, its spans
  decoded (:mod:`.readers`), mapped and written. Decoding needs nothing but the
  unit: the child gets the index of the first pass and sends back the decoded
  spans of every unit, in reading order, while this process maps and writes
  the units before.

The document is the one a single process writes, byte for byte: the same
spans arrive in the same order, and a unit the child cannot decode arrives as
its error message, so that the conversion stops (or skips the unit) where it
would have.

Spans travel as MessagePack (they are ``msgspec`` structs, decoded straight
into :class:`~.model.Span`); a unit whose spans would not come back exactly
that way (integers beyond 64 bits, nested arrays, unpaired surrogates) travels
pickled. The pipe between the processes holds a few units, so memory does not
grow with the input.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import subprocess
import sys
import traceback
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

import msgspec

from ..export.trace_file_reader import PLAIN, detect_format
from . import readers
from .discovery import InputFile, discover, size_on_disk
from .model import Span
from .resource_catalog import ResourceCatalog
from .scan_index import Index, UnitTraces
from .scan_merge import ScanPart, scan_part
from .unit_reader import UnitReader

PARALLEL_BYTES = 64 << 20
"""Inputs at least this large get a helper process when the machine has two cores or
more (``parallel=None``); below, starting it costs more than it saves."""

DECODE_ERRORS = (readers.InvalidUnitError, ValueError, TypeError, KeyError)
"""What decoding or mapping a malformed unit raises: the unit's error, not a bug."""

_HEADER = struct.Struct("<BQ")
_SPANS, _PICKLED_SPANS, _UNIT_ERROR, _RESOURCES, _SCAN_PART, _CRASH = range(6)
_PIPE_BYTES = 1 << 20
_F_SETPIPE_SZ = 1031  # Linux


def worth_it(paths: list[str | os.PathLike[str]]) -> bool:
    """Whether the input is large enough, and the machine wide enough, for a second process."""
    if (os.cpu_count() or 1) < 2:
        return False
    return sum(_bytes_to_read(file) for file in discover(paths)) >= PARALLEL_BYTES


COMPRESSION_RATIO = 10
"""What a compressed trace file is taken to hold per byte on disk: zstd frames of our
batches hold about 22 bytes of JSON per byte, the collector's zstd messages about as many."""


def _bytes_to_read(file: InputFile) -> int:
    """About how many bytes of JSON lines *file* holds."""
    try:
        with open(file.path, "rb") as raw:
            compressed = detect_format(raw.read(8)) != PLAIN
    except OSError:
        return 0
    return size_on_disk(file) * (COMPRESSION_RATIO if compressed else 1)


def wanted_traces(index: Index, holds: UnitTraces, unit: int) -> dict[str, int]:
    """Trace id -> trace position of the traces *unit* holds."""
    ids = index.traces.ids
    return {ids[position]: position for position in holds[unit]}


class ReadaheadError(RuntimeError):
    """The helper process stopped without saying why (killed, out of memory)."""


class Helper:
    """The child process: :meth:`start_scan` and :meth:`scan_result` for the first pass,
    :meth:`decode` then :meth:`units` for the second. Use it as a context manager."""

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        path = os.environ.get("PYTHONPATH")
        environment = {**os.environ,
                       "PYTHONPATH": package_root + (os.pathsep + path if path else "")}
        self._process = subprocess.Popen(
            [sys.executable, "-c", f"from {__name__} import main; main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment)
        assert self._process.stdin is not None and self._process.stdout is not None
        _widen(self._process.stdout)
        self._stdin: IO[bytes] = self._process.stdin
        self._stdout: IO[bytes] = self._process.stdout
        self._decoder = msgspec.msgpack.Decoder(list[Span])

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._process.pid

    def _send(self, job: tuple[Any, ...]) -> None:
        try:
            pickle.dump(job, self._stdin, pickle.HIGHEST_PROTOCOL)
            self._stdin.flush()
        except BrokenPipeError:
            self._fail()

    def _frame(self) -> tuple[int, bytes]:
        header = self._stdout.read(_HEADER.size)
        if len(header) < _HEADER.size:
            self._fail()
        kind, size = _HEADER.unpack(header)
        payload = self._stdout.read(size)
        if len(payload) < size:
            self._fail()
        if kind == _CRASH:
            pickled, text = pickle.loads(payload)
            try:
                error = pickle.loads(pickled)
            except Exception:  # noqa: BLE001 - one that cannot be rebuilt here: its text
                error = ReadaheadError(f"the conversion's helper process failed: {text}")
            raise error
        return kind, payload

    # -- first pass ----------------------------------------------------------
    def start_scan(self, files: list[InputFile], numbers: list[int], skip_invalid: bool) -> None:
        """Start scanning the files *numbers* of *files*."""
        self._send(("scan", files, numbers, skip_invalid))

    def scan_result(self) -> ScanPart:
        """What the scan started by :meth:`start_scan` found (waits for it)."""
        _, payload = self._frame()
        part: ScanPart = pickle.loads(payload)
        return part

    # -- second pass ---------------------------------------------------------
    def decode(self, index: Index, order: list[int]) -> Iterator[tuple[list[Span], str | None]]:
        """For each unit of *index* in *order*: its spans of the traces it holds, or the
        message of what decoding it raised."""
        self._send(("decode", index, array("l", order)))
        self._stdin.close()
        resources = index.resources
        delivered = 0
        while delivered < len(order):
            kind, payload = self._frame()
            if kind == _RESOURCES:  # not a unit: resources the next unit's spans name
                for resource in pickle.loads(payload):
                    resources.setdefault(resource.key, resource)
                continue
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
        raise ReadaheadError(f"the conversion's helper process ended early (exit status {code})")

    def close(self) -> None:
        """Stop the child (at once, if the conversion ends before its input does)."""
        if self._process.poll() is None:
            self._process.kill()
        for pipe in (self._stdin, self._stdout):
            with contextlib.suppress(OSError):  # the child is gone: nothing to flush to
                pipe.close()
        self._process.wait()

    def __enter__(self) -> Helper:
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
    """Do the jobs *source* sends (a scan, then the decoding), writing frames to *out*."""

    def send(kind: int, payload: bytes) -> None:
        out.write(_HEADER.pack(kind, len(payload)))
        out.write(payload)

    while True:
        try:
            job = pickle.load(source)
        except EOFError:
            return
        if job[0] == "scan":
            _, files, numbers, skip_invalid = job
            send(_SCAN_PART, pickle.dumps(scan_part(files, numbers, skip_invalid, _ignore),
                                          pickle.HIGHEST_PROTOCOL))
            out.flush()
        else:
            _, index, order = job
            _decode_units(index, order, send)
            out.flush()


def _ignore(count: int) -> None:
    """Progress of the helper's scan: the parent counts the helper's files at the end."""


def _decode_units(index: Index, order: array[int], send: Callable[[int, bytes], None]) -> None:
    holds = index.traces_by_unit()
    catalog = ResourceCatalog(index.resources)
    known = set(index.resources)
    encoder = msgspec.msgpack.Encoder()
    decoder = msgspec.msgpack.Decoder(list[Span])
    with contextlib.closing(UnitReader(index)) as reader:
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


def main() -> None:
    """The child process: jobs on standard input, frames on standard output."""
    out = sys.stdout.buffer
    try:
        _serve(sys.stdin.buffer, out)
    except BrokenPipeError:  # the parent stopped reading: it has what it needs
        pass
    except BaseException as error:  # noqa: BLE001 - a bug: the parent raises it, as one process would
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        try:
            pickled = pickle.dumps(error, pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - then the text alone
            pickled = b""
        payload = pickle.dumps((pickled, text), pickle.HIGHEST_PROTOCOL)
        try:
            out.write(_HEADER.pack(_CRASH, len(payload)))
            out.write(payload)
            out.flush()
        except OSError:
            pass
        sys.exit(1)
