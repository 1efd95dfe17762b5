"""Which notebook cell defined each function a task runs.

A function defined in a notebook cell lives in ``__main__``, so Dask ships it
by value (cloudpickle). Since cloudpickle 3.1 the shipped code no longer says
where it came from: its ``co_filename`` becomes ``"<dynamic-code>"`` on the
way, so the worker that runs it cannot name the cell. Only the client knows,
and it has no tracing plugin. Two small parts bridge that gap:

* in the client, :class:`NotebookCells` watches an IPython shell: after each
  cell it finds the functions that cell defined (in the shell's namespace,
  compiled from the cell's file name) and tells the scheduler, with a Dask
  event (topic :data:`~otel_dask_prov.attributes.CODE_ORIGIN_EVENT_TOPIC`),
  ``{bytecode digest: cell file name}``. The digest is
  :func:`~otel_dask_prov.capture.probes.code.function_digest`, the one the worker
  computes, which depends only on the function's code;
* in the scheduler, :class:`CodeOrigins` keeps those origins and, while it has
  any, looks up the function of each task it dispatches (once per function
  object) and adds the origin to the ``compute-task`` message's annotations
  (:data:`~otel_dask_prov.attributes.CODE_ORIGIN_ANNOTATION`). The worker then
  records ``code.file.path`` and ``dask.code.notebook_cell`` from it.

With no client sending origins, the scheduler does no work per task for this.
:func:`~otel_dask_prov.capture.probes.record_client`,
:func:`otel_dask_prov.install` and the client preload
(``DASK_DISTRIBUTED__CLIENT__PRELOAD=otel_dask_prov``) start the watch when
they run inside IPython or Jupyter. Functions defined in the cell that also
submits them are sent when that cell ends, after the submission: their
computation span still holds the cell, as the submitting code.
"""

from __future__ import annotations

import logging
import sys
import types
import weakref
from collections.abc import Mapping, MutableMapping
from typing import Any, ClassVar

from ... import attributes as attr
from .code import bytecode_digest, function_digest, notebook_cell, shipped_by_reference, task_function

logger = logging.getLogger("otel_dask_prov")

MAX_ORIGINS = 4096
"""Origins a scheduler remembers at once (the oldest is forgotten first)."""
MAX_ORIGIN_CHARS = 512
"""Longer file names or digests in an origin event are ignored."""


def current_shell() -> Any | None:
    """The running IPython shell, or ``None`` (IPython is never imported for this)."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython() if get_ipython is not None else None


def cell_functions(namespace: Mapping[str, Any],
                   digests: MutableMapping[Any, str | None] | None = None) -> dict[str, str]:
    """``{digest: cell file name}`` of the functions in *namespace* defined in notebook cells.

    *digests*, when given, caches each function's digest between calls.
    """
    known = {} if digests is None else digests
    origins: dict[str, str] = {}
    for value in list(namespace.values()):
        if not isinstance(value, types.FunctionType):
            continue
        filename = value.__code__.co_filename
        if notebook_cell(filename) is None:
            continue
        if value in known:
            digest = known[value]
        else:
            digest = known[value] = function_digest(value)
        if digest is not None:
            origins[digest] = filename
    return origins


class NotebookCells:
    """Client side: tell the scheduler of each client which cell defined which function.

    One instance per shell (:meth:`of_current_shell`); clients join with
    :meth:`add_client` and get every origin known so far, then the new ones
    after each cell.
    """

    _by_shell: ClassVar[weakref.WeakKeyDictionary[Any, NotebookCells]] = weakref.WeakKeyDictionary()

    def __init__(self, shell: Any) -> None:
        self._shell = shell
        self._sent: dict[str, str] = {}
        self._digests: weakref.WeakKeyDictionary[Any, str | None] = weakref.WeakKeyDictionary()
        self._clients: weakref.WeakSet[Any] = weakref.WeakSet()
        shell.events.register("post_run_cell", self._after_cell)

    @classmethod
    def of_current_shell(cls) -> NotebookCells | None:
        """The watch of the running IPython shell (started now if needed); ``None`` outside IPython."""
        shell = current_shell()
        if shell is None or not hasattr(shell, "events"):
            return None
        cells = cls._by_shell.get(shell)
        if cells is None:
            cells = cls._by_shell[shell] = cls(shell)
        return cells

    def add_client(self, client: Any) -> dict[str, str]:
        """Follow *client* from now on; every origin known so far, for it to send."""
        self._clients.add(client)
        self._collect()
        return dict(self._sent)

    def _after_cell(self, *_: Any) -> None:
        try:
            news = self._collect()
            if news:
                for client in list(self._clients):
                    self.send(client, news)
        except Exception as error:  # noqa: BLE001 - never break the user's cell
            logger.warning("otel-dask-prov: could not read the functions of the last cell: %s",
                           error)

    def _collect(self) -> dict[str, str]:
        """Origins not sent yet (a redefined function has a new digest)."""
        news = {digest: filename
                for digest, filename in cell_functions(self._shell.user_ns, self._digests).items()
                if self._sent.get(digest) != filename}
        self._sent.update(news)
        return news

    def send(self, client: Any, origins: Mapping[str, str]) -> None:
        """Send *origins* to *client*'s scheduler (waiting for it, unless the client is async)."""
        if getattr(client, "status", None) != "running":
            return
        message = {"origins": dict(origins)}
        try:
            if getattr(client, "asynchronous", False):
                client.loop.add_callback(client.scheduler.log_event,
                                         topic=attr.CODE_ORIGIN_EVENT_TOPIC, msg=message)
            else:  # wait: the next cell's submission must find the origins there
                client.log_event(attr.CODE_ORIGIN_EVENT_TOPIC, message)
        except Exception as error:  # noqa: BLE001 - a lost origin must not break the cell
            logger.warning("otel-dask-prov: could not send notebook cells to the scheduler: %s",
                           error)


def watch_notebook_cells(client: Any) -> None:
    """In IPython: tell *client*'s scheduler which cell defined each function, from now on."""
    cells = NotebookCells.of_current_shell()
    if cells is not None:
        known = cells.add_client(client)
        if known:
            cells.send(client, known)


async def watch_notebook_cells_async(client: Any) -> None:
    """:func:`watch_notebook_cells` from the client's event loop (the client preload)."""
    cells = NotebookCells.of_current_shell()
    if cells is not None:
        known = cells.add_client(client)
        if known:
            await client.scheduler.log_event(topic=attr.CODE_ORIGIN_EVENT_TOPIC,
                                             msg={"origins": known})


class CodeOrigins:
    """Scheduler side: the origins clients sent, and the origin of a task's function."""

    def __init__(self) -> None:
        self._origins: dict[str, str] = {}
        self._of_function: weakref.WeakKeyDictionary[Any, str | None] = (
            weakref.WeakKeyDictionary())

    def __len__(self) -> int:
        return len(self._origins)

    def __contains__(self, digest: object) -> bool:
        return digest in self._origins

    def event(self, topic: Any, message: Any) -> None:
        """A Dask event: keep the origins if it is a client's."""
        if topic != attr.CODE_ORIGIN_EVENT_TOPIC or not isinstance(message, Mapping):
            return
        origins = message.get("origins")
        if not isinstance(origins, Mapping):
            return
        for digest, filename in origins.items():
            if (isinstance(digest, str) and isinstance(filename, str)
                    and len(digest) <= MAX_ORIGIN_CHARS and len(filename) <= MAX_ORIGIN_CHARS):
                self._origins.pop(digest, None)
                self._origins[digest] = filename
        while len(self._origins) > MAX_ORIGINS:
            self._origins.pop(next(iter(self._origins)))
        self._of_function.clear()  # a cached "unknown" may be known now

    def of_task(self, run_spec: Any) -> str | None:
        """The file name of the cell that defined the function *run_spec* calls, if known."""
        func = task_function(run_spec)
        if not isinstance(func, types.FunctionType) or shipped_by_reference(func):
            return None
        try:
            return self._of_function[func]
        except KeyError:
            pass
        origin = self._origins.get(bytecode_digest(func) or "")
        self._of_function[func] = origin
        return origin
