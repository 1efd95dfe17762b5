"""What only the thread that executes a task can see.

No Dask hook runs on the executing thread, so the worker plugin wraps
``distributed.worker._run_task`` (which Dask looks up as a module global at call
time) with :func:`install`. The wrapper notes the thread's identity and the
exception object of a failed task in :data:`observations`, keyed by task key;
the worker plugin pops the entry when the task leaves the ``executing`` state.
Coroutine tasks (``async def``) run on the event loop through
``_run_task_async`` and are not observed here.

Releases before distributed 2024.11 run a task through ``apply_function(function,
args, kwargs, execution_state, key, ...)`` instead, and name the exception
``actual-exception``: which function to wrap is decided once, at import.

A *recorder* given to :func:`install` (the provenance probes of
:mod:`otel_dask_prov.capture.probes.recorder`) is called on the executing thread just
before and just after the task; what it returns goes to ``observation.provenance``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import distributed.worker

observations: dict[Any, ThreadObservation] = {}
"""Task key -> what its executing thread saw. Entries are popped by the worker plugin."""

if hasattr(distributed.worker, "_run_task"):
    _TARGET, _KEY_ARG, _EXCEPTION_FIELD = "_run_task", 3, "actual_exception"
else:  # distributed < 2024.11
    _TARGET, _KEY_ARG, _EXCEPTION_FIELD = "apply_function", 4, "actual-exception"
_STATE_ARG = _KEY_ARG - 1
"""Position of ``execution_state`` in the wrapped function's arguments."""

_lock = threading.Lock()
_installed_by: set[int] = set()
_original: Callable[..., Any] | None = None
_recorder: Any = None


class ThreadObservation:
    """Identity of the executing thread and, for a failure, the exception raised."""

    __slots__ = (
        "exception_message",
        "exception_type",
        "native_id",
        "provenance",
        "thread_id",
        "thread_name",
    )

    def __init__(self, thread: threading.Thread) -> None:
        self.thread_id = thread.ident
        self.native_id = thread.native_id
        self.thread_name = thread.name
        self.exception_type: str | None = None
        self.exception_message: str | None = None
        self.provenance: Any = None
        """What the recorder saw (a ``TaskObservation``), when one is installed."""


def _task_of(args: tuple[Any, ...]) -> Any:
    """The task being run: a ``Task``, or ``(function, *args)`` before 2024.11."""
    return args[0] if _TARGET == "_run_task" else (args[0], *args[1])


def _observed_run_task(*args: Any, **kwargs: Any) -> Any:
    observation = ThreadObservation(threading.current_thread())
    assert _original is not None
    recorder = _recorder
    state = (recorder.start(_task_of(args), args[_STATE_ARG], args[_KEY_ARG])
             if recorder is not None else None)
    result = None
    try:
        result = _original(*args, **kwargs)
    finally:
        if state is not None:
            observation.provenance = recorder.finish(state, result)
        observations[args[_KEY_ARG]] = observation
    exception = result.get(_EXCEPTION_FIELD) if isinstance(result, dict) else None
    if exception is not None:
        observation.exception_type = type(exception).__qualname__
        observation.exception_message = str(exception)
    return result


def install(owner: object, recorder: Any = None) -> None:
    """Start observing executing threads on behalf of *owner* (a worker plugin).

    *recorder*, if given, is called around every task from now on (one per
    process: the latest given wins).
    """
    global _original, _recorder
    with _lock:
        if not _installed_by:
            _original = getattr(distributed.worker, _TARGET)
            setattr(distributed.worker, _TARGET, _observed_run_task)
        _installed_by.add(id(owner))
        if recorder is not None:
            _recorder = recorder


def uninstall(owner: object) -> None:
    """Stop observing for *owner*; the original function is restored after the last owner."""
    global _original, _recorder
    with _lock:
        _installed_by.discard(id(owner))
        if not _installed_by and _original is not None:
            setattr(distributed.worker, _TARGET, _original)
            _original = None
            _recorder = None
            observations.clear()
