"""Write PROV-JSON or PROV-N in a second process, so formatting runs on another core.

Writing the text of the records is about a third of a conversion's work.
:class:`WriterProcess` is a :class:`~.streaming.DocumentWriter` that forks a child
running the ordinary streaming writer, and sends it the records in batches
encoded with ``msgspec`` MessagePack (qualified-name values as an extension
type, times as MessagePack timestamps), so the parent only maps spans to
records. The output is byte for byte the one the writer makes in-process
(``tests/test_convert_cli.py`` checks it).

The child is forked (POSIX): use this from a process without other threads,
such as the ``otel-prov`` command.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from typing import Any, Iterable

import msgspec

from ..errors import OtelDaskProvError
from .formats import streaming_writer
from .records import QName, Record

_QNAME = 1
"""MessagePack extension code of a qualified-name value."""
_BATCH = 4096
_START, _OPEN, _ADD, _CLOSE, _FINISH = range(5)


def available() -> bool:
    """Whether this platform can fork the writer."""
    return "fork" in multiprocessing.get_all_start_methods()


def _encode_hook(value: Any) -> Any:
    if isinstance(value, QName):
        return msgspec.msgpack.Ext(_QNAME, value.encode("utf-8"))
    raise TypeError(f"cannot send {value!r} to the writer process")


def _decode_hook(code: int, data: memoryview) -> Any:
    if code == _QNAME:
        return QName(bytes(data).decode("utf-8"))
    raise ValueError(f"unknown extension {code}")


class WriterFailed(OtelDaskProvError):
    """The writer process failed (its error is in the message)."""


class _RemoteSink:
    """Collects the records of one container and sends them in batches."""

    __slots__ = ("writer", "number", "records")

    def __init__(self, writer: "WriterProcess", number: int) -> None:
        self.writer = writer
        self.number = number
        self.records: list[Record] = []

    def add(self, record: Record) -> None:
        records = self.records
        records.append(record)
        if len(records) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self.records:
            self.writer.send(_ADD, self.number, self.records)
            self.records = []


class WriterProcess:
    """A :class:`~.streaming.DocumentWriter` whose streaming writer runs in a child process.

    *target* is the path the child writes to, or ``None`` for standard output.
    """

    def __init__(self, format_name: str, target: str | None, namespaces: dict[str, str],
                 flatten: bool) -> None:
        context = multiprocessing.get_context("fork")
        receiver, self._sender = context.Pipe(duplex=False)
        self._results, result_sender = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_serve, name="otel-prov-writer", daemon=True,
            args=(receiver, result_sender, format_name, target, namespaces, flatten))
        self._process.start()
        receiver.close()
        result_sender.close()
        self._encoder = msgspec.msgpack.Encoder(enc_hook=_encode_hook)
        self._bundles = 0
        self._top = _RemoteSink(self, -1)

    def send(self, operation: int, *arguments: Any) -> None:
        try:
            self._sender.send_bytes(self._encoder.encode((operation, *arguments)))
        except (BrokenPipeError, ConnectionResetError):
            self._fail()

    def start(self, header: Iterable[Record]) -> None:
        self.send(_START, list(header))

    def top(self) -> _RemoteSink:
        return self._top

    def open_bundle(self, identifier: str) -> _RemoteSink:
        self._bundles += 1
        self.send(_OPEN, self._bundles, identifier)
        return _RemoteSink(self, self._bundles)

    def close_bundle(self, bundle: _RemoteSink) -> None:
        bundle.flush()
        self.send(_CLOSE, bundle.number)

    def finish(self) -> None:
        self._top.flush()
        self.send(_FINISH)
        self._sender.close()
        outcome = self._outcome()
        self._process.join()
        if outcome:
            raise WriterFailed(f"the writer process failed: {outcome}")

    def abort(self) -> None:
        """Stop the child (the conversion failed in the parent)."""
        self._sender.close()
        if self._process.is_alive():
            self._process.kill()
        self._process.join()

    def _outcome(self) -> str:
        try:
            return str(self._results.recv())
        except EOFError:
            return f"it exited with code {self._process.exitcode}"

    def _fail(self) -> None:
        outcome = self._outcome()
        self._process.join()
        raise WriterFailed(f"the writer process failed: {outcome}")


def _serve(receiver: Any, result_sender: Any, format_name: str, target: str | None,
           namespaces: dict[str, str], flatten: bool) -> None:
    """The child: decode batches and hand them to the streaming writer."""
    try:
        if target is None:
            out = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="backslashreplace")
        else:
            out = open(target, "w", encoding="utf-8", errors="backslashreplace")
        with out:
            writer = streaming_writer(format_name, out, namespaces, flatten)
            decoder = msgspec.msgpack.Decoder(ext_hook=_decode_hook)
            sinks: dict[int, Any] = {-1: writer.top()}
            make = Record._make
            while True:
                operation, *arguments = decoder.decode(receiver.recv_bytes())
                if operation == _ADD:
                    sink = sinks[arguments[0]]
                    for item in arguments[1]:
                        sink.add(make(item))
                elif operation == _START:
                    writer.start(make(item) for item in arguments[0])
                elif operation == _OPEN:
                    sinks[arguments[0]] = writer.open_bundle(arguments[1])
                elif operation == _CLOSE:
                    writer.close_bundle(sinks.pop(arguments[0]))
                else:
                    writer.finish()
                    break
        result_sender.send("")
    except OSError as error:  # the output is full, gone, or closed by its reader
        result_sender.send(f"cannot write the output: {error.strerror or error}")
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which raises
        result_sender.send(f"{error!r}\n{traceback.format_exc()}")
