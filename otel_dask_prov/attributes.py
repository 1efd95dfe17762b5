"""Names of every span, span event, link and attribute that otel-dask-prov writes.

This module is the contract between the plugins that *write* traces and the
converter that *reads* them: both import the names from here, never spell them
out. Standard OpenTelemetry semantic-convention names are used wherever one
exists; project attributes live under ``dask.``.

Trace model
-----------
One **computation** (one graph submission to the scheduler) is one trace::

    dask.computation                        (scheduler, root)
    ├── task inc                            (scheduler: one span per task *attempt*)
    │   └── execute inc                     (worker: the attempt as the worker ran it)
    │       ├── transfer inc                (worker: one span per ``startstops`` entry)
    │       └── compute inc
    └── task sum-aggregate
        └── ...

* The root span is named :data:`COMPUTATION_SPAN_NAME`.
* Task attempt spans are named ``"task <prefix>"`` (:func:`task_span_name`): the
  task *prefix* keeps span names low-cardinality; the key goes into
  :data:`TASK_KEY`.
* Worker execution spans are named ``"execute <prefix>"`` and their phase spans
  ``"<action> <prefix>"`` where *action* is one of :data:`PHASE_ACTIONS`.
* State transitions are span events on the attempt span, named by the new state
  (``"processing"``, ``"memory"``, ...), with :data:`TRANSITION_FROM`, and
  :data:`TRANSITION_STIMULUS` on transitions into ``released``, ``erred``,
  ``forgotten`` and ``no-worker`` (where Dask's stimulus id says why).
* A failure is an ``"exception"`` event (:data:`EXCEPTION_EVENT`) plus an ERROR
  status on both the attempt span and the execution span.
* Each attempt span links to the attempt span that produced each of its
  dependencies (:data:`LINK_TYPE` = :data:`LINK_DEPENDENCY`) and, for a retry or
  a re-run, to the previous attempt of the same key (:data:`LINK_PREVIOUS_ATTEMPT`).
  Jaeger drops link attributes, so the same facts are also kept as span
  attributes (:data:`TASK_DEPENDENCIES`, :data:`TASK_PREVIOUS_ATTEMPT_SPAN_ID`).

Every span carries :data:`RECORD_TYPE` so that readers can tell the kinds apart
without parsing names.
"""

from __future__ import annotations

from typing import Final

# --------------------------------------------------------------------------
# Instrumentation scope and span names
# --------------------------------------------------------------------------
INSTRUMENTATION_SCOPE: Final = "otel_dask_prov"
"""Name of the OpenTelemetry instrumentation scope of every span we emit."""

COMPUTATION_SPAN_NAME: Final = "dask.computation"
"""Name of the root span of every computation trace."""

TASK_SPAN_PREFIX: Final = "task "
EXECUTION_SPAN_PREFIX: Final = "execute "

PHASE_ACTIONS: Final = ("transfer", "compute", "disk-read", "disk-write", "deserialize")
"""Worker ``startstops`` actions that become phase spans under an execution span."""


def task_span_name(prefix: str) -> str:
    """Name of the scheduler span of one attempt of a task with *prefix*."""
    return TASK_SPAN_PREFIX + prefix


def execution_span_name(prefix: str) -> str:
    """Name of the worker span that executes one attempt of a task with *prefix*."""
    return EXECUTION_SPAN_PREFIX + prefix


def phase_span_name(action: str, prefix: str) -> str:
    """Name of a worker phase span (``"compute inc"``, ``"transfer sum"``, ...)."""
    return f"{action} {prefix}"


# --------------------------------------------------------------------------
# Record types: the value of RECORD_TYPE on every span
# --------------------------------------------------------------------------
RECORD_TYPE: Final = "dask.record.type"
RECORD_COMPUTATION: Final = "computation"
RECORD_TASK_ATTEMPT: Final = "task_attempt"
RECORD_TASK_EXECUTION: Final = "task_execution"
RECORD_TASK_PHASE: Final = "task_phase"
RECORD_WORKER: Final = "worker"
"""A worker-level span (one per worker process), e.g. carrying Darshan counters."""

# --------------------------------------------------------------------------
# Resource attributes (standard, from the semantic conventions)
# --------------------------------------------------------------------------
SERVICE_NAME: Final = "service.name"
SERVICE_INSTANCE_ID: Final = "service.instance.id"
HOST_NAME: Final = "host.name"
PROCESS_PID: Final = "process.pid"
PROCESS_RUNTIME_NAME: Final = "process.runtime.name"
PROCESS_RUNTIME_VERSION: Final = "process.runtime.version"
OS_TYPE: Final = "os.type"
OS_DESCRIPTION: Final = "os.description"
K8S_POD_NAME: Final = "k8s.pod.name"
K8S_NAMESPACE_NAME: Final = "k8s.namespace.name"
K8S_NODE_NAME: Final = "k8s.node.name"
DEPLOYMENT_ENVIRONMENT_NAME: Final = "deployment.environment.name"
"""Added by the collector configs of ``collector-config/`` (resource processor), not by the SDK."""

SCHEDULER_SERVICE: Final = "dask-scheduler"
WORKER_SERVICE: Final = "dask-worker"
CLIENT_SERVICE: Final = "dask-client"

# Project resource attributes
DASK_VERSION: Final = "dask.version"
DISTRIBUTED_VERSION: Final = "dask.distributed.version"
PROCESS_ROLE: Final = "dask.process.role"
"""``scheduler``, ``worker`` or ``client``."""
SCHEDULER_ADDRESS: Final = "dask.scheduler.address"
TOOL_VERSION: Final = "otel_dask_prov.version"

# --------------------------------------------------------------------------
# Standard span attributes
# --------------------------------------------------------------------------
THREAD_ID: Final = "thread.id"
"""Python ``threading.get_ident()`` of the thread that executed the task."""
THREAD_NAME: Final = "thread.name"
THREAD_NATIVE_ID: Final = "dask.thread.native_id"
"""Operating-system thread id (``threading.get_native_id()``)."""
CODE_FUNCTION_NAME: Final = "code.function.name"

EXCEPTION_EVENT: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"

# --------------------------------------------------------------------------
# Computation (root span)
# --------------------------------------------------------------------------
COMPUTATION_ID: Final = "dask.computation.id"
"""Identifier of the computation (root span only); equals the trace id in lowercase hex."""
CLIENT_ID: Final = "dask.client.id"
COMPUTATION_TASK_COUNT: Final = "dask.computation.task_count"
COMPUTATION_KEYS: Final = "dask.computation.keys"
"""The keys the client asked for (capped at :data:`MAX_LISTED_KEYS`)."""
COMPUTATION_KEY_COUNT: Final = "dask.computation.key_count"
COMPUTATION_CODE: Final = "dask.computation.code"
"""Source code that submitted the graph, as the scheduler received it."""
COMPUTATION_CODE_FILENAME: Final = "dask.computation.code.filename"
COMPUTATION_CODE_LINENO: Final = "dask.computation.code.lineno"
COMPUTATION_ERRED_TASKS: Final = "dask.computation.erred_tasks"
COMPUTATION_PREFIXES: Final = "dask.computation.prefixes"
DASK_SPAN_ID: Final = "dask.span.id"
"""Id of Dask's own span (``distributed.span``), not an OpenTelemetry span id."""
DASK_SPAN_NAME: Final = "dask.span.name"

# --------------------------------------------------------------------------
# Task attempt (scheduler) and execution (worker)
# --------------------------------------------------------------------------
TASK_KEY: Final = "dask.task.key"
"""``str(key)``: tuple keys appear as their Python repr, e.g. ``"('x-1f2e', 0, 1)"``."""
TASK_PREFIX: Final = "dask.task.prefix"
TASK_GROUP: Final = "dask.task.group"
TASK_DEPENDENCIES: Final = "dask.task.dependencies"
"""Keys (``str``) of the dependencies the attempt used, in a string array."""
TASK_DEPENDENCY_SPAN_IDS: Final = "dask.task.dependency_span_ids"
"""``"<trace id>/<span id>"`` of the attempt that produced each dependency, in the
order of :data:`TASK_DEPENDENCIES` (empty string where unknown)."""
TASK_PRIORITY: Final = "dask.task.priority"
TASK_ATTEMPT: Final = "dask.task.attempt"
"""1 for the first attempt of a key, 2 for its first retry or re-run, ..."""
TASK_RUN_ID: Final = "dask.task.run_id"
"""The scheduler's ``run_id`` of the attempt (absent when it was never dispatched)."""
TASK_STATE: Final = "dask.task.state"
"""Scheduler state in which the attempt ended (``memory``, ``erred``, ``released``, ...)."""
TASK_OUTCOME: Final = "dask.task.outcome"
"""One of the ``OUTCOME_*`` values below."""
TASK_RETRIES_LEFT: Final = "dask.task.retries_left"
"""Retries the scheduler still grants the key (absent when none)."""
TASK_SUCCEEDED_AFTER_RETRY: Final = "dask.task.succeeded_after_retry"
TASK_PREVIOUS_ATTEMPT_SPAN_ID: Final = "dask.task.previous_attempt_span_id"
TASK_RERUN_REASON: Final = "dask.task.rerun_reason"
"""Why this attempt exists: ``retry`` (after an error), ``worker-lost`` (the
previous attempt's worker died while running it) or ``result-lost`` (a result
held in memory was lost with its worker and is computed again)."""
TASK_EXCEPTION_BLAME: Final = "dask.task.exception_blame"
"""Key of the task whose failure made this one fail without running."""
TASK_RESULT_TYPE: Final = "dask.task.result.type"
TASK_RESULT_NBYTES: Final = "dask.task.result.nbytes"
TASK_RESULT_HASH: Final = "dask.task.result.hash"
TASK_FUNCTION: Final = CODE_FUNCTION_NAME
TASK_FUNCTION_DIGEST: Final = "dask.task.function.digest"
TASK_ARGUMENTS: Final = "dask.task.arguments"
TASK_DURATION_PREFIX: Final = "dask.task.duration."
"""Prefix of per-phase durations in seconds: ``dask.task.duration.compute``, ..."""
TASK_FUSED: Final = "dask.task.fused"

WORKER_ADDRESS: Final = "dask.worker.address"
WORKER_NAME: Final = "dask.worker.name"

PHASE_ACTION: Final = "dask.phase.action"
PHASE_SOURCE: Final = "dask.phase.source"
"""For ``transfer``: the worker the data came from, when known."""

# Per-task I/O of the executing thread (Linux /proc counters)
IO_READ_BYTES: Final = "dask.io.read_bytes"
IO_WRITE_BYTES: Final = "dask.io.write_bytes"
IO_READ_CALLS: Final = "dask.io.read_calls"
IO_WRITE_CALLS: Final = "dask.io.write_calls"
IO_FILES: Final = "dask.io.files"
IO_FILE_MODES: Final = "dask.io.file_modes"

# Profiles
PROFILE_YAPPI: Final = "dask.profile.yappi"
"""JSON text of the top functions of a task's Yappi profile."""

# --------------------------------------------------------------------------
# Span events and links
# --------------------------------------------------------------------------
TRANSITION_FROM: Final = "dask.transition.from"
TRANSITION_STIMULUS: Final = "dask.transition.stimulus_id"

LINK_TYPE: Final = "dask.link.type"
LINK_DEPENDENCY: Final = "dependency"
LINK_PREVIOUS_ATTEMPT: Final = "previous_attempt"

# --------------------------------------------------------------------------
# Outcomes of a task attempt
# --------------------------------------------------------------------------
OUTCOME_SUCCESS: Final = "success"
OUTCOME_ERROR: Final = "error"
OUTCOME_RETRIED: Final = "error-retried"
"""The attempt failed and the scheduler will try again (``retries=``)."""
OUTCOME_WORKER_LOST: Final = "worker-lost"
OUTCOME_CANCELLED: Final = "cancelled"
OUTCOME_RELEASED: Final = "released"
"""Released before it finished, e.g. because the client lost interest."""
OUTCOME_DEPENDENCY_ERROR: Final = "dependency-error"
"""Never ran: a dependency failed (see :data:`TASK_EXCEPTION_BLAME`)."""
OUTCOME_UNFINISHED: Final = "unfinished"
"""The process shut down while the attempt was still open."""
OUTCOMES: Final = (
    OUTCOME_SUCCESS,
    OUTCOME_ERROR,
    OUTCOME_RETRIED,
    OUTCOME_WORKER_LOST,
    OUTCOME_CANCELLED,
    OUTCOME_RELEASED,
    OUTCOME_DEPENDENCY_ERROR,
    OUTCOME_UNFINISHED,
)

# --------------------------------------------------------------------------
# Context propagation through Dask annotations
# --------------------------------------------------------------------------
ANNOTATION: Final = "otel_dask_prov"
"""Dask annotation that carries a W3C ``traceparent`` string to the workers.

The scheduler plugin sets it on each new task of a sampled computation; a user
may also set it on the client (``dask.annotate(otel_dask_prov=traceparent)``) so
that the computation joins an existing trace."""

MAX_LISTED_KEYS: Final = 1000
"""At most this many keys are listed in one array attribute."""

# --------------------------------------------------------------------------
# Provenance (see docs/provenance.md for what carries what, and the defaults)
# --------------------------------------------------------------------------
# Code: on the execution span (the function the worker ran) and, for the
# notebook cell, on the computation span too.
CODE_FILE_PATH: Final = "code.file.path"
CODE_LINE_NUMBER: Final = "code.line.number"
NOTEBOOK_CELL: Final = "dask.code.notebook_cell"
"""Jupyter cell that defined the code: ``"In[3]"`` (IPython input number) or
``"ipykernel:<hash>"`` (ipykernel's cell file, named by a hash of the cell's source)."""

# Deployment: resource attributes of every process
OS_VERSION: Final = "os.version"
HOST_ARCH: Final = "host.arch"
PROCESS_EXECUTABLE_PATH: Final = "process.executable.path"
PROCESS_RUNTIME_DESCRIPTION: Final = "process.runtime.description"
PACKAGE_VERSION_PREFIX: Final = "dask.deployment.package."
"""``dask.deployment.package.<name>``: version of a key package (numpy, pandas, xarray...)."""
PACKAGES_DIGEST: Final = "dask.deployment.packages.digest"
"""``sha256:<hex>`` of the sorted ``name==version`` lines of every installed distribution."""
PACKAGES_COUNT: Final = "dask.deployment.packages.count"
PACKAGES: Final = "dask.deployment.packages"
"""The full ``name==version`` list (opt-in: ``record_packages``)."""
DASK_CONFIG: Final = "dask.deployment.config"
"""JSON object of the Dask config values that differ from Dask's defaults (opt-in)."""
ENVIRONMENT_PREFIX: Final = "dask.deployment.env."
"""``dask.deployment.env.<NAME>``: an allowlisted environment variable."""
VCS_REVISION: Final = "vcs.ref.head.revision"
VCS_BRANCH: Final = "vcs.ref.head.name"
VCS_REPOSITORY_URL: Final = "vcs.repository.url.full"
VCS_DIRTY: Final = "dask.vcs.dirty"
"""True when the git working tree had uncommitted changes."""
CLIENT_PREFIX: Final = "dask.client."
"""The client's deployment attributes go on its computations' root spans as
``dask.client.<resource attribute>`` (``dask.client.host.name``,
``dask.client.vcs.ref.head.revision``...): the client has no resource of its own."""
CLIENT_EVENT_TOPIC: Final = "otel-dask-prov-client"
"""Topic of the Dask event a client sends its deployment attributes under."""
CODE_ORIGIN_EVENT_TOPIC: Final = "otel-dask-prov-code-origins"
"""Topic of the Dask event a client in IPython sends ``{"origins": {digest: cell file}}``
under: which notebook cell defined each function (see provenance.notebook)."""
CODE_ORIGIN_ANNOTATION: Final = "otel_dask_prov.code_origin"
"""Key of a ``compute-task`` message's annotations: the file name of the notebook
cell that defined the task's function, added by the scheduler plugin when a
client told it (the function's own code no longer says, once shipped by value)."""

# Per-task I/O of the executing thread: dask.io.read_bytes/write_bytes are the
# bytes passed through read/write system calls (rchar/wchar), the *_calls their
# counts; the storage counters are what reached the block layer.
IO_STORAGE_READ_BYTES: Final = "dask.io.storage_read_bytes"
IO_STORAGE_WRITE_BYTES: Final = "dask.io.storage_write_bytes"
IO_FILES_OMITTED: Final = "dask.io.files_omitted"
"""Files opened past the per-task cap, counted but not listed."""
FILE_PATH: Final = "file.path"

# Profiles
PROFILE_YAPPI_CLOCK: Final = "dask.profile.yappi.clock"
PROFILE_SKIPPED: Final = "dask.profile.skipped"
"""Why a task that should have been profiled was not (e.g. another task was)."""

# Darshan
DARSHAN_SPAN_NAME: Final = "darshan"
"""Name of the worker-level span carrying a worker's Darshan counters."""
RECORD_DARSHAN_TASK_IO: Final = "darshan_task_io"
"""Record type of the span, under an execution span, of the DXT I/O segments
attributed to that execution."""
DARSHAN_TASK_SPAN_PREFIX: Final = "darshan-io "
DARSHAN_LOG: Final = "dask.darshan.log"
DARSHAN_RUNTIME_VERSION: Final = "dask.darshan.runtime_version"
DARSHAN_JOB_ID: Final = "dask.darshan.job_id"
DARSHAN_FILE_EVENT: Final = "darshan.file"
"""Span event: one file seen by one Darshan module, with its counters."""
DARSHAN_MODULE: Final = "dask.darshan.module"
DARSHAN_RANK: Final = "dask.darshan.rank"
"""On a worker's ``darshan.file`` events: the MPI rank of the record (0 for a process
that is not an MPI program; an MPI log has a record per rank and file)."""
DARSHAN_COUNTER_PREFIX: Final = "dask.darshan."
"""``dask.darshan.<counter name in lower case>``, e.g. ``dask.darshan.posix_bytes_read``
(:func:`darshan_counter_attribute`)."""
DARSHAN_COUNTER_MODULES: Final = ("posix_", "stdio_", "mpiio_")
"""How the names of the counters we keep begin (POSIX, STDIO and MPI-IO interfaces)."""
DARSHAN_FILE_COUNT: Final = "dask.darshan.file_count"
DARSHAN_SEGMENTS: Final = "dask.darshan.segments"
DARSHAN_UNATTRIBUTED_SEGMENTS: Final = "dask.darshan.unattributed_segments"
"""DXT segments in no task's time window, or in the windows of several tasks
(DXT segments carry no thread id)."""
DARSHAN_SEGMENT_EVENT: Final = "darshan.segment"
"""Span event on a ``darshan-io`` span: one DXT read or write, at its start time, with
:data:`DARSHAN_MODULE`, :data:`FILE_PATH` and the attributes below."""
DARSHAN_OPERATION: Final = "dask.darshan.operation"
"""``read`` or ``write``."""
DARSHAN_OFFSET: Final = "dask.darshan.offset"
DARSHAN_LENGTH: Final = "dask.darshan.length"
DARSHAN_END_TIME: Final = "dask.darshan.end_time_unix_nano"
"""When the read or write ended (nanoseconds since the epoch, the span's clock)."""
DARSHAN_SEGMENTS_OMITTED: Final = "dask.darshan.segments_omitted"
DARSHAN_ATTRIBUTED_BY: Final = "dask.darshan.attributed_by"
"""On a ``darshan.file`` event of a ``darshan-io`` span: how the file record was found to be
the task's; :data:`DARSHAN_BY_OPEN_CLOSE` when its first open and last close fell in the
task's window (a log without DXT for that file)."""
DARSHAN_BY_OPEN_CLOSE: Final = "open-close"
"""Segments of an execution past the per-span cap: counted, without an event."""
TASK_ATTEMPT_SPAN_ID: Final = "dask.task.attempt_span_id"
"""Span id (16 hex digits) of the attempt span an execution belongs to, on spans
under the execution span (``darshan-io``), so that readers need not look it up."""


# -- per-attempt logs (OpenTelemetry log records) ------------------------------
# What a task logged while it ran is exported as OTLP log records (one
# ``ExportLogsServiceRequest`` per JSON line, ``{"resourceLogs": [...]}``), each
# carrying the trace id and span id of the task's execution span, the same
# resource as the process's spans, and the instrumentation scope of the spans.
# In the embedded default they are lines of the process's trace file, beside
# its span lines; through a collector they go to its logs pipeline.
LOG_SOURCE: Final = "dask.log.source"
"""Where a log record came from: one of :data:`LOG_SOURCES`."""
LOG_FROM_LOGGING: Final = "logging"
"""A ``logging`` record emitted on the thread that executed the task."""
LOG_FROM_STDOUT: Final = "stdout"
"""Text the task wrote to ``sys.stdout`` (opt-in), one record per line."""
LOG_FROM_STDERR: Final = "stderr"
"""Text the task wrote to ``sys.stderr`` (opt-in), one record per line."""
LOG_FROM_WORKER: Final = "worker"
"""The Dask worker's own record about the task (its "Compute Failed" warning)."""
LOG_SOURCES: Final = (LOG_FROM_LOGGING, LOG_FROM_STDOUT, LOG_FROM_STDERR, LOG_FROM_WORKER)
LOG_LOGGER: Final = "dask.log.logger"
"""Name of the ``logging`` logger that emitted the record."""
LOG_DROPPED: Final = "dask.log.dropped"
"""On the last record of an attempt that hit a cap: how many records were not kept. An
attempt none of whose records was kept (the worker's ``log_max_process_records`` was
reached) gets one WARNING record of source ``logging``, without a logger, saying so."""
LOG_KEY: Final = TASK_KEY
"""Every log record also names its task's key (``dask.task.key``) and run id
(:data:`TASK_RUN_ID`), so that a log file can be read without its spans."""

# -- the code of a run (``record_source``) ------------------------------------
CODE_SOURCE: Final = "dask.code.source"
"""The source text of a task's function, on the first execution span of each
(computation, function digest) in a worker process; keyed by
``dask.task.function.digest``."""
CLIENT_SOURCE: Final = "dask.client.source"
"""The submitting script's or notebook cells' source text, on the root span of
the first computation a client submits."""

def darshan_task_span_name(prefix: str) -> str:
    """Name of the span of the Darshan DXT segments attributed to one execution."""
    return DARSHAN_TASK_SPAN_PREFIX + prefix


def darshan_counter_attribute(counter: str) -> str:
    """``POSIX_BYTES_READ`` -> ``dask.darshan.posix_bytes_read``."""
    return DARSHAN_COUNTER_PREFIX + counter.lower()


def darshan_counter(attribute: str) -> str | None:
    """The Darshan counter an attribute carries (``dask.darshan.posix_reads`` ->
    ``POSIX_READS``), or ``None`` for other attributes."""
    if not attribute.startswith(DARSHAN_COUNTER_PREFIX):
        return None
    name = attribute[len(DARSHAN_COUNTER_PREFIX):]
    return name.upper() if name.startswith(DARSHAN_COUNTER_MODULES) else None
