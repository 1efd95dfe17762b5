"""The exceptions of otel-dask-prov: one root, one class per kind of problem.

Every message is one line written for a human: it names what is wrong and,
where possible, what to do about it. The CLI prints ``str(error)`` and exits with
the class's :attr:`OtelDaskProvError.exit_code`.
"""

from __future__ import annotations


class OtelDaskProvError(Exception):
    """Root of every error this package raises on purpose."""

    exit_code: int = 1


class ConfigurationError(OtelDaskProvError, ValueError):
    """A setting has a value that cannot work; raised at start-up, never mid-computation."""

    exit_code = 2

    def __init__(self, setting: str, value: object, reason: str) -> None:
        self.setting = setting
        self.value = value
        self.reason = reason
        super().__init__(f"invalid setting {setting}={value!r}: {reason}")


class InputFileError(OtelDaskProvError):
    """An input file cannot be read; the message is ``path:line: reason`` (or ``path: reason``)."""

    exit_code = 2

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


class TraceFormatError(InputFileError):
    """An input trace file cannot be read."""


class NoTraceDataError(OtelDaskProvError):
    """The input holds no spans that otel-dask-prov can convert."""

    exit_code = 2


class UnsupportedFormatError(OtelDaskProvError):
    """An output format was asked for that the converter cannot write."""

    exit_code = 2

    def __init__(self, requested: str, supported: tuple[str, ...]) -> None:
        self.requested = requested
        self.supported = supported
        super().__init__(
            f"unknown output format {requested!r}; supported formats: {', '.join(supported)}"
        )


class OptionError(OtelDaskProvError, ValueError):
    """A command's option has a value it cannot take, or does not apply to the others."""

    exit_code = 2


class MissingProgramError(OtelDaskProvError):
    """An external program (Graphviz ``dot``, Go, ...) is needed but not installed."""

    def __init__(self, program: str, needed_for: str, hint: str) -> None:
        self.program = program
        super().__init__(f"{program!r} is needed for {needed_for} but was not found on PATH; {hint}")


class ExportError(OtelDaskProvError):
    """Spans could not be delivered (used by ``otel-prov replay``)."""


class ProvDocumentError(InputFileError):
    """A PROV document cannot be read (``otel-prov validate``)."""


class InvalidProvDocumentError(OtelDaskProvError):
    """``otel-prov validate`` found violations; they are listed on standard output."""

    exit_code = 1

    def __init__(self, violations: int, invalid_documents: int, documents: int) -> None:
        self.violations = violations
        super().__init__(
            f"{violations} violation{'s' if violations != 1 else ''} in"
            f" {invalid_documents} of {documents} document{'s' if documents != 1 else ''}"
        )


class OutputError(OtelDaskProvError):
    """The output of a command cannot be written (a missing directory, a full disk, a closed pipe)."""

    exit_code = 2

    def __init__(self, target: str, reason: str) -> None:
        self.target = target
        self.reason = reason
        super().__init__(f"cannot write {target}: {reason}")


class JournalError(InputFileError):
    """A record journal cannot be read: not a journal, or a frame that does not decode."""


class MissingPackageError(OtelDaskProvError):
    """An optional package a command needs is not installed; the message says how to install it."""

    exit_code = 2


class QueryError(OtelDaskProvError):
    """A query cannot run: no dataset where one was named, or SQL DuckDB refuses."""

    exit_code = 2
