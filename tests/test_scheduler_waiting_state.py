"""How the scheduler plugin keeps a task's transitions before it is dispatched.

A graph submitted at once has all its tasks waiting together, so each keeps only
the times of its waiting transitions; they come back as full transitions when
the attempt record opens at dispatch.
"""

from __future__ import annotations

from otel_dask_prov.capture.scheduler_plugin import _note_waiting, _waiting_transitions


def test_the_first_step_of_a_task_is_kept_as_its_time_alone() -> None:
    early = _note_waiting(None, "released", "waiting", 10.0, chain=True)
    assert early == 10.0
    assert _waiting_transitions(early) == [(10.0, "released", "waiting", None)]


def test_a_queued_task_keeps_the_chain_of_its_transitions() -> None:
    early = _note_waiting(None, "released", "waiting", 10.0, chain=True)
    early = _note_waiting(early, "waiting", "queued", 11.0, chain=True)
    assert early == ("released", 10.0, "waiting", 11.0, "queued")
    assert _waiting_transitions(early) == [
        (10.0, "released", "waiting", None),
        (11.0, "waiting", "queued", None),
    ]


def test_a_transition_that_breaks_the_chain_is_not_kept_compactly() -> None:
    assert _note_waiting(None, "no-worker", "waiting", 10.0, chain=True) is None
    assert _note_waiting(10.0, "queued", "waiting", 11.0, chain=True) is None
    chained = ("released", 10.0, "waiting", 11.0, "queued")
    assert _note_waiting(chained, "waiting", "queued", 12.0, chain=True) is None


def test_without_recorded_transitions_only_the_first_time_is_kept() -> None:
    early = _note_waiting(None, "released", "waiting", 10.0, chain=False)
    assert _note_waiting(early, "waiting", "queued", 11.0, chain=False) == 10.0
