"""PROV records as plain tuples: what the mapping produces and every writer consumes.

A :class:`Record` is one PROV statement, independent of any serialization; the
task ``inc`` of ``tests/fixtures/traces/retry`` using the value of ``fail_once``::

    Record("used", None, ("run:task.inc-03d39a0582556c27968e5e31f665f53c.1c297fb86b7e6293",
                          "run:value.fail_once-b103bb7c979e6cbfb16dd456e58b7953.0d98a756ecbd32c7",
                          Time("2026-11-22T05:29:45.042449+00:00")), ())

* ``kind`` is the PROV-N keyword (``"entity"``, ``"wasGeneratedBy"``, ...);
* ``identifier`` is a qualified name (``"run:task...."``) or ``None`` for an
  anonymous relation;
* ``formal`` holds the formal attributes in PROV-N order (:data:`FORMAL`):
  qualified names, :class:`Time` (or :class:`~datetime.datetime`) for times,
  ``None`` for ``-``;
* ``attributes`` holds the other attributes as ``(name, value)`` pairs. A name
  may repeat (several ``prov:type`` values), in adjacent pairs, never with a list
  as value. Values
  are ``str``, ``bool``, ``int``, finite ``float``, :class:`Time`, UTC
  :class:`~datetime.datetime` or :class:`QName`.

The streaming writers (:mod:`.streaming`) turn records into text directly; the
``prov`` library builds its document from the same records (:mod:`.formats`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Final, NamedTuple, TypeAlias


class QName(str):
    """A qualified name used as an attribute *value* (``prov:type='dask:Worker'``), not text."""

    __slots__ = ()


class Time(str):
    """A moment in UTC as ISO 8601 text, exactly as ``datetime.isoformat()`` writes it.

    What the mapping puts in records for times (see :func:`moment`): the
    writers copy the text, which costs far less than making and formatting a
    :class:`~datetime.datetime` for each of the millions of times of a large
    trace; :meth:`datetime` gives the moment as ``datetime`` for the ``prov`` library.
    """

    __slots__ = ()

    def datetime(self) -> datetime:
        return datetime.fromisoformat(self)


Value: TypeAlias = str | bool | int | float | Time | datetime | QName
Attributes: TypeAlias = tuple[tuple[str, Value], ...]


class Record(NamedTuple):
    """One PROV statement (see the module documentation)."""

    kind: str
    identifier: str | None
    formal: tuple[str | Time | datetime | None, ...]
    attributes: Attributes


FORMAL: Final[dict[str, tuple[str, ...]]] = {
    "entity": (),
    "activity": ("prov:startTime", "prov:endTime"),
    "agent": (),
    "wasGeneratedBy": ("prov:entity", "prov:activity", "prov:time"),
    "used": ("prov:activity", "prov:entity", "prov:time"),
    "wasInformedBy": ("prov:informed", "prov:informant"),
    "wasStartedBy": ("prov:activity", "prov:trigger", "prov:starter", "prov:time"),
    "wasEndedBy": ("prov:activity", "prov:trigger", "prov:ender", "prov:time"),
    "wasInvalidatedBy": ("prov:entity", "prov:activity", "prov:time"),
    "wasDerivedFrom": (
        "prov:generatedEntity", "prov:usedEntity", "prov:activity", "prov:generation",
        "prov:usage",
    ),
    "wasAttributedTo": ("prov:entity", "prov:agent"),
    "wasAssociatedWith": ("prov:activity", "prov:agent", "prov:plan"),
    "actedOnBehalfOf": ("prov:delegate", "prov:responsible", "prov:activity"),
    "wasInfluencedBy": ("prov:influencee", "prov:influencer"),
    "hadMember": ("prov:collection", "prov:entity"),
    "specializationOf": ("prov:specificEntity", "prov:generalEntity"),
}
"""PROV-N keyword -> its formal attributes, in PROV-N order (PROV-DM, W3C 2013)."""

ELEMENTS: Final = frozenset({"entity", "activity", "agent"})

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)


_LATEST: Final = int((datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc) - _EPOCH)
                    .total_seconds())
_EARLIEST: Final = int((datetime(1, 1, 1, tzinfo=timezone.utc) - _EPOCH).total_seconds())
_second_texts: dict[int, str] = {}
_DIGITS: Final = tuple(f"{number:03d}" for number in range(1000))
"""Three digits of a fraction of a second (cheaper than formatting ``:06d``; ``docs/performance.md``)."""


def utc(unix_nanos: int) -> datetime:
    """A UTC datetime from nanoseconds since the epoch (truncated to microseconds)."""
    return _EPOCH + timedelta(microseconds=unix_nanos // 1000)


def moment(unix_nanos: int) -> Time:
    """The :class:`Time` of nanoseconds since the epoch (truncated to microseconds), the
    moment :func:`utc` gives; :class:`ValueError` outside the years 1 to 9999."""
    seconds, nanos = divmod(unix_nanos, 1_000_000_000)
    whole = _second_texts.get(seconds)
    if whole is None:
        if not _EARLIEST <= seconds <= _LATEST:
            raise ValueError(f"time {unix_nanos} ns since 1970 is outside the years 1 to 9999")
        if len(_second_texts) >= 4096:
            _second_texts.clear()
        whole = _second_texts[seconds] = (
            _EPOCH + timedelta(seconds=seconds)).isoformat()[:-len("+00:00")]
    if nanos < 1000:
        return Time(f"{whole}+00:00")
    milliseconds, microseconds = divmod(nanos // 1000, 1000)
    return Time(f"{whole}.{_DIGITS[milliseconds]}{_DIGITS[microseconds]}+00:00")


def merge_attributes(first: Attributes, second: Attributes) -> Attributes:
    """The pairs of *first* and those of *second* that *first* lacks, each new pair
    placed after the last pair of its name (writers rely on names being adjacent)."""
    merged = list(first)
    seen = set(first)
    for pair in second:
        if pair in seen:
            continue
        seen.add(pair)
        names = [name for name, _ in merged]
        if pair[0] in names:
            merged.insert(len(names) - names[::-1].index(pair[0]), pair)
        else:
            merged.append(pair)
    return tuple(merged)
