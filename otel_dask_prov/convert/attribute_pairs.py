"""Span attributes as PROV attributes: which PROV name each takes, and which values PROV can hold.

:data:`PROV_NAMES` is the one table of the span attributes the mapping copies
into PROV records as they are, each with the PROV attribute it becomes. A
mapping module lists the span attributes a record takes (:func:`prov_names`)
and gets the ``(PROV name, value)`` pairs of a span with :func:`prov_pairs`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from .. import attributes as attr
from .. import prov_vocabulary as vocabulary

_PHASE_DURATIONS: Final = {
    attr.TASK_DURATION_PREFIX + action.replace("-", "_"):
        vocabulary.DURATION_PREFIX + "".join(word.title() for word in action.split("-"))
    for action in attr.PHASE_ACTIONS
}
PHASE_DURATIONS: Final = tuple(_PHASE_DURATIONS)
"""The span attributes ``dask.task.duration.<action>`` (seconds per worker phase);
each becomes ``dask:duration<Action>``."""

PROV_NAMES: Final[Mapping[str, str]] = {
    # a task attempt (its activity)
    attr.TASK_ATTEMPT: vocabulary.ATTEMPT,
    attr.TASK_RUN_ID: vocabulary.RUN_ID,
    attr.TASK_OUTCOME: vocabulary.OUTCOME,
    attr.TASK_RERUN_REASON: vocabulary.RERUN_REASON,
    attr.TASK_EXCEPTION_BLAME: vocabulary.EXCEPTION_BLAME,
    attr.TASK_FUSED: vocabulary.FUSED,
    attr.THREAD_ID: vocabulary.THREAD,
    attr.THREAD_NAME: vocabulary.THREAD_NAME,
    attr.IO_READ_BYTES: vocabulary.IO_READ_BYTES,
    attr.IO_WRITE_BYTES: vocabulary.IO_WRITE_BYTES,
    attr.IO_READ_CALLS: vocabulary.IO_READ_CALLS,
    attr.IO_WRITE_CALLS: vocabulary.IO_WRITE_CALLS,
    attr.IO_STORAGE_READ_BYTES: vocabulary.IO_STORAGE_READ_BYTES,
    attr.IO_STORAGE_WRITE_BYTES: vocabulary.IO_STORAGE_WRITE_BYTES,
    **_PHASE_DURATIONS,
    # the value it produced, the exception it raised
    attr.TASK_RESULT_TYPE: vocabulary.TYPE,
    attr.TASK_RESULT_NBYTES: vocabulary.NBYTES,
    attr.TASK_RESULT_HASH: vocabulary.HASH,
    attr.EXCEPTION_TYPE: vocabulary.EXCEPTION_TYPE,
    attr.EXCEPTION_MESSAGE: vocabulary.EXCEPTION_MESSAGE,
    attr.EXCEPTION_STACKTRACE: vocabulary.EXCEPTION_STACKTRACE,
    # the code it ran (its prefix's plan)
    attr.TASK_FUNCTION: vocabulary.FUNCTION,
    attr.TASK_FUNCTION_DIGEST: vocabulary.FUNCTION_DIGEST,
    attr.CODE_FILE_PATH: vocabulary.CODE_FILENAME,
    attr.CODE_LINE_NUMBER: vocabulary.CODE_LINENO,
    attr.NOTEBOOK_CELL: vocabulary.NOTEBOOK_CELL,
    # a computation and its graph
    attr.COMPUTATION_TASK_COUNT: vocabulary.TASK_COUNT,
    attr.COMPUTATION_ERRED_TASKS: vocabulary.ERRED_TASKS,
    attr.COMPUTATION_KEY_COUNT: vocabulary.KEY_COUNT,
    attr.COMPUTATION_CODE: vocabulary.CODE,
    attr.COMPUTATION_CODE_FILENAME: vocabulary.CODE_FILENAME,
    attr.COMPUTATION_CODE_LINENO: vocabulary.CODE_LINENO,
    # a process (its resource: the agent)
    attr.SERVICE_INSTANCE_ID: vocabulary.INSTANCE_ID,
    attr.HOST_NAME: vocabulary.HOST,
    attr.PROCESS_PID: vocabulary.PID,
    attr.WORKER_NAME: vocabulary.WORKER_NAME,
    attr.DASK_VERSION: vocabulary.DASK_VERSION,
    attr.DISTRIBUTED_VERSION: vocabulary.DISTRIBUTED_VERSION,
    attr.TOOL_VERSION: vocabulary.TOOL_VERSION,
    attr.OS_TYPE: vocabulary.OS_TYPE,
    attr.OS_VERSION: vocabulary.OS_VERSION,
    attr.HOST_ARCH: vocabulary.HOST_ARCH,
    attr.PROCESS_RUNTIME_NAME: vocabulary.RUNTIME_NAME,
    attr.PROCESS_RUNTIME_VERSION: vocabulary.RUNTIME_VERSION,
    attr.PROCESS_EXECUTABLE_PATH: vocabulary.EXECUTABLE,
    attr.PACKAGES_DIGEST: vocabulary.PACKAGES_DIGEST,
    attr.VCS_REVISION: vocabulary.VCS_REVISION,
    attr.VCS_BRANCH: vocabulary.VCS_BRANCH,
    attr.VCS_REPOSITORY_URL: vocabulary.VCS_REPOSITORY,
    attr.VCS_DIRTY: vocabulary.VCS_DIRTY,
    # Darshan: a worker's log, a task's DXT segments
    attr.DARSHAN_JOB_ID: vocabulary.DARSHAN_JOB_ID,
    attr.DARSHAN_RUNTIME_VERSION: vocabulary.DARSHAN_VERSION,
    attr.DARSHAN_FILE_COUNT: vocabulary.FILE_COUNT,
    attr.DARSHAN_SEGMENTS: vocabulary.DARSHAN_SEGMENTS,
    attr.DARSHAN_UNATTRIBUTED_SEGMENTS: vocabulary.DARSHAN_UNATTRIBUTED_SEGMENTS,
    attr.DARSHAN_SEGMENTS_OMITTED: vocabulary.DARSHAN_SEGMENTS_OMITTED,
    attr.DARSHAN_MODULE: vocabulary.DARSHAN_MODULE,
    attr.DARSHAN_OFFSET: vocabulary.OFFSET,
    attr.DARSHAN_LENGTH: vocabulary.LENGTH,
}
"""Span attribute -> the PROV attribute its value is copied to."""

PairTable = tuple[tuple[str, str], ...]
"""``(span attribute, PROV attribute)`` pairs, in the order the PROV attributes are written."""

_NOTHING: Final[Mapping[str, Any]] = {}


def prov_names(*span_names: str) -> PairTable:
    """The pairs of *span_names* with their :data:`PROV_NAMES`.

    >>> prov_names(attr.TASK_RESULT_NBYTES)
    (('dask.task.result.nbytes', 'dask:nbytes'),)
    """
    return tuple((name, PROV_NAMES[name]) for name in span_names)


def prov_value(value: Any) -> Any:
    """*value* as a PROV attribute value, or ``None`` if it cannot be one.

    Arrays become text (``prov`` takes several values as several pairs, which
    would lose their order); non-finite floats are dropped.

    >>> prov_value(("x", 1)), prov_value(float("nan"))
    ('x, 1', None)
    """
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, tuple):
        return ", ".join(str(item) for item in value)
    return None


def prov_pairs(table: PairTable, first: Mapping[str, Any],
               second: Mapping[str, Any] = _NOTHING) -> list[tuple[str, Any]]:
    """``(PROV name, value)`` for each pair of *table* whose span attribute is in
    *first*, else in *second*; values made PROV values (:func:`prov_value`),
    empty ones left out."""
    pairs = []
    for span_name, prov_name in table:
        value = first.get(span_name)
        if value is None:
            value = second.get(span_name)
            if value is None:
                continue
        kind = type(value)
        if kind is not str and kind is not int:
            value = prov_value(value)
            if value is None:
                continue
        if value != "":
            pairs.append((prov_name, value))
    return pairs
