"""Trace and span ids, and the per-computation sampling decision.

The scheduler and the workers never exchange span ids. Both derive the id of a
task attempt's span from the same three facts: the computation's trace id
(carried to the worker in the task's ``otel_dask_prov`` annotation as a W3C
``traceparent``), the task key, and the scheduler's ``run_id`` of the attempt,
which Dask itself sends to the worker with every dispatch, including re-sends
after work stealing. So a worker span always finds its parent, across retries,
stealing and lost workers, at no cost to the scheduler.
"""

from __future__ import annotations

import random
from hashlib import blake2b

from opentelemetry.sdk.trace import sampling
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from ..settings import Settings


def new_trace_id() -> int:
    return random.getrandbits(128) or 1


def new_span_id() -> int:
    return random.getrandbits(64) or 1


def derived_span_id(*parts: object) -> int:
    """A non-zero 64-bit span id that is a pure function of *parts*.

    The first 8 bytes of the BLAKE2b digest of the parts' ``str`` joined by
    ``"\\x1f"`` (UTF-8, surrogates passed through), as a big-endian integer.
    """
    text = "\x1f".join(map(str, parts)).encode("utf-8", "surrogatepass")
    return int.from_bytes(blake2b(text, digest_size=8).digest(), "big") or 1


_TRACE_HASHERS: dict[int, blake2b] = {}
"""Trace id -> a BLAKE2b hasher fed with ``f"{trace_id}\\x1f"``, copied for each id of the trace."""
_MAX_TRACE_HASHERS = 256


def _trace_span_id(trace_id: int, rest: str) -> int:
    """``derived_span_id(trace_id, *more)`` where *rest* is the other parts already joined.

    The same value, more cheaply: the hasher that has seen the trace
    id is kept, so each id hashes only *rest* (the scheduler derives one id per
    task attempt on its event loop, a worker about three per execution).
    """
    hasher = _TRACE_HASHERS.get(trace_id)
    if hasher is None:
        if len(_TRACE_HASHERS) >= _MAX_TRACE_HASHERS:
            _TRACE_HASHERS.clear()
        hasher = _TRACE_HASHERS[trace_id] = blake2b(f"{trace_id}\x1f".encode(), digest_size=8)
    hasher = hasher.copy()
    hasher.update(rest.encode("utf-8", "surrogatepass"))
    return int.from_bytes(hasher.digest(), "big") or 1


def attempt_span_id(trace_id: int, key: str, run_id: int | None, attempt: int) -> int:
    """Span id of one attempt of task *key*; the worker computes the same from *run_id*.

    ``derived_span_id(trace_id, key, "run", run_id)``, or with ``"attempt", attempt``
    when the attempt never ran. The first attempt of ``fail_once`` in
    ``tests/fixtures/traces/retry`` (its run 0):

    >>> trace_id, key = 0xF87C4CF58BDAE9F585CE6C0ED42FA3DF, "fail_once-b103bb7c979e6cbfb16dd456e58b7953"
    >>> f"{attempt_span_id(trace_id, key, 0, 1):016x}"
    'd69aa91c55b9ea97'
    >>> attempt_span_id(trace_id, key, 0, 1) == derived_span_id(trace_id, key, "run", 0)
    True
    """
    if run_id is not None:
        return _trace_span_id(trace_id, f"{key}\x1frun\x1f{run_id}")
    return _trace_span_id(trace_id, f"{key}\x1fattempt\x1f{attempt}")


def execution_span_id(trace_id: int, key: str, run_id: int | str) -> int:
    """Span id of the worker's execution of the dispatch *run_id* of *key* (or of a phase).

    ``derived_span_id(trace_id, key, "execute", run_id)``. The worker's ``execute``
    span of that first attempt of ``fail_once`` in ``tests/fixtures/traces/retry``:

    >>> trace_id, key = 0xF87C4CF58BDAE9F585CE6C0ED42FA3DF, "fail_once-b103bb7c979e6cbfb16dd456e58b7953"
    >>> f"{execution_span_id(trace_id, key, 0):016x}"
    '70605579840f8328'
    """
    return _trace_span_id(trace_id, f"{key}\x1fexecute\x1f{run_id}")


def format_traceparent(trace_id: int, span_id: int, sampled: bool = True) -> str:
    """The W3C ``traceparent`` of a span: what a computation's tasks carry to the workers.

    >>> format_traceparent(0xF87C4CF58BDAE9F585CE6C0ED42FA3DF, 0x15248648C814646A)
    '00-f87c4cf58bdae9f585ce6c0ed42fa3df-15248648c814646a-01'
    """
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"


def parse_traceparent(text: object) -> SpanContext | None:
    """The span context in a W3C ``traceparent`` string, or ``None`` if malformed.

    >>> context = parse_traceparent("00-f87c4cf58bdae9f585ce6c0ed42fa3df-15248648c814646a-01")
    >>> f"{context.span_id:016x}", context.trace_flags.sampled
    ('15248648c814646a', True)
    >>> parse_traceparent("00-f87c4cf5-15248648c814646a-01") is None
    True
    """
    if not isinstance(text, str):
        return None
    parts = text.strip().split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags & 1))


def build_sampler(settings: Settings) -> sampling.Sampler:
    """The configured OpenTelemetry sampler (``OTEL_TRACES_SAMPLER``)."""
    ratio = 1.0 if settings.sampler_arg is None else settings.sampler_arg
    roots = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": sampling.TraceIdRatioBased(ratio),
    }
    name = settings.sampler
    if name.startswith("parentbased_"):
        return sampling.ParentBased(roots[name.removeprefix("parentbased_")])
    return roots[name]


def is_sampled(sampler: sampling.Sampler, trace_id: int, parent: SpanContext | None) -> bool:
    """The sampling decision for a computation whose trace id is *trace_id*."""
    context = set_span_in_context(NonRecordingSpan(parent)) if parent is not None else None
    result = sampler.should_sample(context, trace_id, "dask.computation")
    return result.decision is sampling.Decision.RECORD_AND_SAMPLE
