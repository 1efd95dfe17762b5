"""Record identifiers: deterministic, safe in every PROV serialization, derived from the traces.

Every instance id lives in one namespace, prefix :data:`RUN_PREFIX`
(``run``), and its local part starts with a word naming the kind of thing::

    run:trace.<trace id>                      the bundle of one trace
    run:computation.<span id>                 one graph submission (activity)
    run:graph.<span id>                       the graph it submitted (plan)
    run:plan.<span id>.<prefix>               the plan of one task prefix
    run:task.<key>.<span id>                  one task attempt (activity)
    run:value.<key>.<span id>                 the value that attempt produced
    run:error.<key>.<span id>                 the exception that attempt raised
    run:data.<key>                            a value no traced attempt produced
    run:argument.<key>.<span id>.<position or name>  a literal argument of that attempt (taskdata)
    run:profile.<key>.<span id>               the Yappi profile of that attempt (taskdata)
    run:worker.<instance>                     a worker process (agent)
    run:scheduler.<instance>, run:client.<id>, run:tool.otel-dask-prov-<version>
    run:file.<sha256>, run:conversion.<digest>
    run:path.<digest>[.<span id>[.write-<n>]]  a file, a version a task wrote (taskdata, darshan)
    run:darshan-log.<digest>, run:darshan-file.<digest>.<module>.<rank>.<path digest>,
    run:darshan-io.<key>.<span id>            a Darshan log, its file records, a task's DXT I/O

Span ids are those of the OpenTelemetry spans (16 lowercase hex digits), so an
id can be computed from the one span that mentions it: a dependency named by
``"<trace id>/<span id>"`` in ``dask.task.dependency_span_ids`` becomes
``run:value.<key>.<span id>`` without looking the producing span up, even when
it lies in another trace or another file.

Local parts are XML NCNames and PROV-N ``PN_LOCAL`` names without escapes:
letters, digits, ``_``, ``-`` and ``.``, never ending with ``.``, and never
holding ``_`` followed by two hex digits: ProvToolbox reads ``_XX`` in a PROV-XML
name as an escaped character (``_21`` becomes ``!``, ``_00`` disappears), so such
an id would not survive it. A Dask key that is not already of that form (tuple
keys such as ``('x-1f2e', 0, 1)``, or ``load_data-1f2e``) is rewritten with ``-``
for every run of other characters and for ``_``, and a short digest of the
original appended so that two keys never share an id; the original key is kept
in the ``dask:key`` attribute.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

RUN_PREFIX: Final = "run"
RUN_NAMESPACE_URI: Final = "https://otel-dask-prov.readthedocs.io/id/"
"""Base of every instance id; ids are names, not addresses to dereference."""

_SAFE = re.compile(r"[A-Za-z0-9_.\-]+")
_ESCAPE_LIKE = re.compile(r"_[0-9A-Fa-f]{2}")
"""What ProvToolbox's PROV-XML reader takes for an escaped character."""
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9.\-]+")


_known: dict[str, str] = {}


def safe_name(text: str) -> str:
    """*text* if it is usable in a local part, else a readable rewrite plus a digest.

    >>> safe_name("inc-1f2e")
    'inc-1f2e'
    >>> safe_name("('x-1f2e', 0, 1)")
    'x-1f2e-0-1-db10c1ba'
    >>> safe_name("fail_once-b103")
    'fail_once-b103'
    >>> safe_name("load_data-b103")
    'load-data-b103-bf12a6c0'
    """
    known = _known.get(text)
    if known is not None:
        return known
    if _SAFE.fullmatch(text) and not text.endswith(".") and not _ESCAPE_LIKE.search(text):
        name = text
    else:
        readable = _UNSAFE_RUN.sub("-", text).strip("-.")
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
        name = f"{readable}-{digest}" if readable else digest
    if len(_known) >= 65536:  # a key is asked about a few times, close together
        _known.clear()
    _known[text] = name
    return name


def _run(local: str) -> str:
    return f"{RUN_PREFIX}:{local}"


def trace_id(trace: str) -> str:
    """The bundle of one trace."""
    return _run(f"trace.{trace}")


def computation_id(span: str) -> str:
    """One graph submission (activity), named by its ``dask.computation`` span:

    >>> computation_id("15248648c814646a")
    'run:computation.15248648c814646a'
    """
    return _run(f"computation.{span}")


def graph_id(computation_span: str) -> str:
    """The graph a computation submitted: a plan, and the collection of the plans of
    its task prefixes (:func:`plan_id`)."""
    return _run(f"graph.{computation_span}")


def plan_id(computation_span: str, prefix: str) -> str:
    """The plan of one task prefix in a computation: the code its tasks ran, as the
    executions of those tasks describe it."""
    return _run(f"plan.{computation_span}.{safe_name(prefix)}")


def task_id(key: str, span: str) -> str:
    """One task attempt, e.g. the first of ``fail_once`` in ``tests/fixtures/traces/retry``:

    >>> task_id("fail_once-b103bb7c979e6cbfb16dd456e58b7953", "d69aa91c55b9ea97")
    'run:task.fail_once-b103bb7c979e6cbfb16dd456e58b7953.d69aa91c55b9ea97'
    """
    return _run(f"task.{safe_name(key)}.{span}")


def value_id(key: str, span: str) -> str:
    """The value an attempt produced; a dependency ``"<trace id>/<span id>"`` names it:

    >>> dependency = "f87c4cf58bdae9f585ce6c0ed42fa3df/0d98a756ecbd32c7"
    >>> value_id("fail_once-b103bb7c979e6cbfb16dd456e58b7953", dependency.split("/")[1])
    'run:value.fail_once-b103bb7c979e6cbfb16dd456e58b7953.0d98a756ecbd32c7'
    """
    return _run(f"value.{safe_name(key)}.{span}")


def error_id(key: str, span: str) -> str:
    """The exception an attempt raised (the same key and span as its :func:`task_id`)."""
    return _run(f"error.{safe_name(key)}.{span}")


def data_id(key: str) -> str:
    """A value no traced attempt produced: a dependency whose producing attempt the
    scheduler did not name (the same value in every trace that uses it)."""
    return _run(f"data.{safe_name(key)}")


def agent_id(kind: str, name: str) -> str:
    """``run:worker.<name>``, ``run:scheduler.<name>``, ``run:client.<name>``."""
    return _run(f"{kind}.{safe_name(name)}")


def tool_id(version: str) -> str:
    """otel-dask-prov, in its *version*, as the agent of a conversion."""
    return _run(f"tool.otel-dask-prov-{safe_name(version)}")


def file_id(sha256: str) -> str:
    """An input file of a conversion, by the hex SHA-256 of its bytes."""
    return _run(f"file.{sha256}")


def conversion_id(digest: str) -> str:
    """A conversion, by a digest of what decides its document: the tool's version, the
    inputs, the flattening (:func:`~.pipeline.header_records`)."""
    return _run(f"conversion.{digest}")


# --------------------------------------------------------------------------
# Reading ids back (for writers that read the records: report, query)
# --------------------------------------------------------------------------
TASK: Final = f"{RUN_PREFIX}:task."
"""How the id of a task attempt starts (:func:`task_id`); likewise for the other kinds."""
VALUE: Final = f"{RUN_PREFIX}:value."
ERROR: Final = f"{RUN_PREFIX}:error."
DATA: Final = f"{RUN_PREFIX}:data."
PATH: Final = f"{RUN_PREFIX}:path."
ARGUMENT: Final = f"{RUN_PREFIX}:argument."
COMPUTATION: Final = f"{RUN_PREFIX}:computation."
GRAPH: Final = f"{RUN_PREFIX}:graph."
TRACE: Final = f"{RUN_PREFIX}:trace."
WORKER: Final = f"{RUN_PREFIX}:worker."
SCHEDULER: Final = f"{RUN_PREFIX}:scheduler."
CLIENT: Final = f"{RUN_PREFIX}:client."


def span_of(identifier: str) -> str:
    """The span id that ends a task, value or error id:

    >>> span_of("run:value.fail_once-b103bb7c979e6cbfb16dd456e58b7953.0d98a756ecbd32c7")
    '0d98a756ecbd32c7'
    """
    return identifier.rpartition(".")[2]


def general_path_id(identifier: str) -> str:
    """The id of the file a path version id (``run:path.<digest>.<span>...``) is a version of."""
    return ".".join(identifier.split(".")[:2])
