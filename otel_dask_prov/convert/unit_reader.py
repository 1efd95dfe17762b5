"""The second pass's input: the units the first pass indexed, read back by number."""

from __future__ import annotations

from typing import BinaryIO

from ..export import otlp_json_decode
from ..export.trace_file_reader import decode_frame
from . import readers
from .input_streams import document_values
from .scan_index import WHOLE_DOCUMENT, Index


class UnitReader:
    """Reads units back by number, keeping each file open until :meth:`close`.

    The lines of a gzip-compressed file are read from its decompressed copy, the frames
    of a zstd or length-prefixed file from the file, and decoded again.
    """

    def __init__(self, index: Index) -> None:
        self.index = index
        self._open: dict[int, BinaryIO] = {}

    def read(self, unit: int) -> list[otlp_json_decode.Request]:
        """The OTLP requests of *unit*, decoded in full."""
        index = self.index
        number = index.unit_file[unit]
        file = index.files[number]
        offset = index.unit_offset[unit]
        if offset == WHOLE_DOCUMENT:
            return readers.full_requests(document_values(file.path)) or []
        handle = self._open.get(number)
        if handle is None:
            handle = self._open[number] = open(file.store or file.path, "rb")  # noqa: SIM115 - closed by close()
        handle.seek(offset)
        data = handle.read(index.unit_length[unit])
        if file.framed:
            data = decode_frame(data, file.framed)
        return readers.full_requests(data) or []

    def close(self) -> None:
        """Close the files."""
        for handle in self._open.values():
            handle.close()
        self._open.clear()
