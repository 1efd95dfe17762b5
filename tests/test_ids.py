"""Span ids derived from (trace id, key, run id) are the same on every side and in every release.

The scheduler and the workers derive the same ids independently, and traces
recorded by earlier releases must still link up, so the derivation is pinned
here against its definition: BLAKE2b-64 of the parts joined by ``"\\x1f"``.
"""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from otel_dask_prov.capture import span_ids as ids

trace_ids = st.integers(min_value=1, max_value=2**128 - 1)
keys = st.text()  # any text, lone surrogates included
run_ids = st.integers(min_value=0, max_value=2**63)


def reference(*parts: object) -> int:
    text = "\x1f".join(str(part) for part in parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") or 1


@given(trace_ids, keys, run_ids, st.integers(min_value=0, max_value=100))
def test_attempt_span_ids_follow_their_definition(
    trace_id: int, key: str, run_id: int, attempt: int
) -> None:
    assert ids.attempt_span_id(trace_id, key, run_id, attempt) == reference(
        trace_id, key, "run", run_id)
    assert ids.attempt_span_id(trace_id, key, None, attempt) == reference(
        trace_id, key, "attempt", attempt)


@given(trace_ids, keys, st.one_of(run_ids, st.text()))
def test_execution_span_ids_follow_their_definition(
    trace_id: int, key: str, run_id: int | str
) -> None:
    assert ids.execution_span_id(trace_id, key, run_id) == reference(
        trace_id, key, "execute", run_id)


@given(st.lists(st.one_of(trace_ids, keys, run_ids), min_size=1, max_size=5))
def test_derived_span_ids_follow_their_definition(parts: list[object]) -> None:
    assert ids.derived_span_id(*parts) == reference(*parts)


def test_known_values_do_not_change() -> None:
    trace_id = 0x0123456789ABCDEF0123456789ABCDEF
    key = "('inc-abc', 3)"
    assert f"{ids.attempt_span_id(trace_id, key, 17, 1):016x}" == "2a348ceceaa2ccad"
    assert f"{ids.attempt_span_id(trace_id, 'inc-abc', None, 2):016x}" == "b246058a25bac4bf"
    assert f"{ids.execution_span_id(trace_id, 'ключ', '17/0'):016x}" == "20794bc0fc3e8d2b"


def test_ids_of_many_traces_stay_right_past_the_cache_bound() -> None:
    for trace_id in range(1, 3 * ids._MAX_TRACE_HASHERS):
        assert ids.attempt_span_id(trace_id, "k", 1, 1) == reference(trace_id, "k", "run", 1)
