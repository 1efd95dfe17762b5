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

import hashlib
import random

from opentelemetry.sdk.trace import sampling
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from .settings import Settings


def new_trace_id() -> int:
    return random.getrandbits(128) or 1


def new_span_id() -> int:
    return random.getrandbits(64) or 1


def derived_span_id(*parts: object) -> int:
    """A non-zero 64-bit span id that is a pure function of *parts*."""
    text = "\x1f".join(str(part) for part in parts).encode("utf-8", "surrogatepass")
    value = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")
    return value or 1


def attempt_span_id(trace_id: int, key: str, run_id: int | None, attempt: int) -> int:
    """Span id of one attempt of task *key*; the worker computes the same from *run_id*."""
    if run_id is not None:
        return derived_span_id(trace_id, key, "run", run_id)
    return derived_span_id(trace_id, key, "attempt", attempt)


def execution_span_id(trace_id: int, key: str, run_id: int | str) -> int:
    """Span id of the worker's execution of the dispatch *run_id* of *key* (or of a phase)."""
    return derived_span_id(trace_id, key, "execute", run_id)


def format_traceparent(trace_id: int, span_id: int, sampled: bool = True) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"


def parse_traceparent(text: object) -> SpanContext | None:
    """The span context in a W3C ``traceparent`` string, or ``None`` if malformed."""
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
    return result.decision.is_sampled()
