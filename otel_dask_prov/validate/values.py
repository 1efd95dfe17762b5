"""Read the few PROV-JSON values the constraints need: times, qualified names, types.

Times are ``xsd:dateTime`` strings (``2024-05-01T12:00:00.123456789Z``), given
plainly or as a typed literal ``{"$": "...", "type": "xsd:dateTime"}``. They
become float seconds since the Unix epoch; a time without a time zone is read
as UTC, the zone otel-dask-prov writes. Qualified names (``dask:TaskExecution``)
are expanded to full URIs with the prefixes in scope, so a document may bind
any prefix to a namespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timezone
from typing import Any

PROV_NAMESPACE = "http://www.w3.org/ns/prov#"
XSD_NAMESPACE = "http://www.w3.org/2001/XMLSchema#"
IMPLICIT_PREFIXES: Mapping[str, str] = {"prov": PROV_NAMESPACE, "xsd": XSD_NAMESPACE}
"""Prefixes bound in every PROV document without a declaration."""

_QUALIFIED_NAME_TYPES = frozenset(
    {"prov:QUALIFIED_NAME", "xsd:QName", PROV_NAMESPACE + "QUALIFIED_NAME", XSD_NAMESPACE + "QName"}
)

_DATETIME = re.compile(
    r"(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?\Z"
)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class TimeFormatError(ValueError):
    """A value that should be an ``xsd:dateTime`` is not one."""


def parse_time(value: Any) -> float:
    """Return an ``xsd:dateTime`` value as seconds since the Unix epoch.

    >>> parse_time("1970-01-02T00:00:01.5Z")
    86401.5
    >>> parse_time({"$": "1970-01-01T01:00:00+01:00", "type": "xsd:dateTime"})
    0.0
    """
    text = value.get("$") if isinstance(value, dict) else value
    if not isinstance(text, str):
        raise TimeFormatError(f"{value!r} is not an xsd:dateTime")
    match = _DATETIME.match(text)
    if match is None:
        raise TimeFormatError(f"{text!r} is not an xsd:dateTime")
    try:  # fast for what fromisoformat reads (Python >= 3.11 reads nearly every xsd:dateTime)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return _epoch_seconds(text, match)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _epoch_seconds(text: str, match: re.Match[str]) -> float:
    """Seconds since the epoch of an xsd:dateTime that fromisoformat does not read."""
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        days = date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    except ValueError as error:
        raise TimeFormatError(f"{text!r} is not an xsd:dateTime ({error})") from None
    if int(hour) > 24 or int(minute) > 59 or int(second) > 60:
        raise TimeFormatError(f"{text!r} is not an xsd:dateTime (time out of range)")
    seconds = days * 86400 + int(hour) * 3600 + int(minute) * 60 + int(second)
    if zone and zone != "Z":
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        seconds -= offset if zone[0] == "+" else -offset
    return seconds + float(fraction) if fraction else float(seconds)


def expand(qualified_name: str, prefixes: Mapping[str, str]) -> str | None:
    """Return the full URI of *qualified_name*, or None if its prefix is not bound.

    A name without a prefix is in the ``default`` namespace, when there is one.

    >>> expand("prov:Plan", IMPLICIT_PREFIXES)
    'http://www.w3.org/ns/prov#Plan'
    """
    prefix, colon, local_name = qualified_name.partition(":")
    if not colon:
        prefix, local_name = "default", qualified_name
    namespace = prefixes.get(prefix)
    return namespace + local_name if namespace is not None else None


def type_names(value: Any) -> Iterator[str]:
    """Yield the qualified names among the values of a ``prov:type`` attribute.

    A value counts when it is a typed literal of type ``prov:QUALIFIED_NAME``
    (or ``xsd:QName``), as the ``prov`` library writes them, or a plain string.
    """
    for item in value if isinstance(value, list) else (value,):
        if isinstance(item, str):
            yield item
        elif (
            isinstance(item, dict)
            and isinstance(item.get("$"), str)
            and item.get("type") in _QUALIFIED_NAME_TYPES
        ):
            yield item["$"]


def has_type(value: Any, type_uri: str, prefixes: Mapping[str, str]) -> bool:
    """Whether a ``prov:type`` *value* includes the type *type_uri*."""
    return any(expand(name, prefixes) == type_uri for name in type_names(value))
