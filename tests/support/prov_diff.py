"""Compare two PROV documents record by record, with a readable difference.

``prov``'s own ``==`` says only *whether* two documents differ. :func:`difference`
says *how*: the PROV-N of every record found in one document and not the other,
per bundle, so that a failing comparison (a round trip, two conversions of one
run) points at the record at fault.

>>> from prov.model import ProvDocument
>>> first, second = ProvDocument(), ProvDocument()
>>> first.set_default_namespace("https://example.org/")
>>> second.set_default_namespace("https://example.org/")
>>> _ = first.entity("a"), second.entity("b")
>>> print("\\n".join(difference(first, second)))
(document) only in the first: entity(a)
(document) only in the second: entity(b)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def containers(document: Any) -> dict[str, set[Any]]:
    """The records of *document* by container: ``"(document)"`` and each bundle's id."""
    found = {"(document)": set(document.get_records())}
    for bundle in document.bundles:
        found[str(bundle.identifier)] = set(bundle.get_records())
    return found


def difference(first: Any, second: Any, limit: int = 20) -> list[str]:
    """Lines describing how *first* and *second* differ; empty if they are equal."""
    lines: list[str] = []
    left, right = containers(first), containers(second)
    for name in sorted(left.keys() | right.keys()):
        if name not in right:
            lines.append(f"{name}: bundle only in the first")
            continue
        if name not in left:
            lines.append(f"{name}: bundle only in the second")
            continue
        lines.extend(_unmatched(name, "first", left[name], right[name]))
        lines.extend(_unmatched(name, "second", right[name], left[name]))
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
    return lines


def _unmatched(name: str, side: str, records: Iterable[Any], others: set[Any]) -> list[str]:
    """Records of *records* equal to none of *others* (``prov``'s record equality)."""
    missing = [record for record in records if record not in others
               and not any(record == other for other in others)]
    return sorted(f"{name} only in the {side}: {record.get_provn()}" for record in missing)
