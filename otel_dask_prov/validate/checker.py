"""Validate one PROV-JSON document in two streaming passes.

The first pass reads the whole document, so that unreadable input is reported
before any violation, and builds the indexes of each scope (the document's own
records, and each bundle); the second pass checks every record against the
schema and the constraints, in file order, and reports what is left at the end
of each scope. Each bundle's indexes are dropped once it has been checked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from ..errors import ProvDocumentError
from .constraints import ScopeChecker, Violation
from .jsonstream import BundleEnd, BundleStart, Event, Misplaced, Prefixes, Record
from .schema import ProvJsonSchema
from .values import IMPLICIT_PREFIXES

_CONTAINER_KEYS = frozenset({"prefix", "bundle"})


class _Scopes:
    """The :class:`ScopeChecker` of the document and of each of its bundles."""

    def __init__(self, skew: float) -> None:
        self.document = ScopeChecker(None, skew)
        self.bundles: dict[str, ScopeChecker] = {}
        self.occurrences: Counter[str] = Counter()
        self._skew = skew

    def __getitem__(self, bundle: str | None) -> ScopeChecker:
        return self.document if bundle is None else self.bundles[bundle]

    def open_bundle(self, bundle: str) -> None:
        if bundle not in self.bundles:
            self.bundles[bundle] = ScopeChecker(bundle, self._skew)
        self.occurrences[bundle] += 1


def check_events(
    read: Callable[[], Iterator[Event]], path: str, schema: ProvJsonSchema, skew: float
) -> Iterator[Violation]:
    """Yield the violations of the document whose events *read* gives, each time anew.

    Raises :class:`~otel_dask_prov.errors.ProvDocumentError` (before yielding
    anything) if the document cannot be read or is not PROV-JSON at all.
    """
    scopes = _index(read(), path, schema, skew)
    yield from _check(read(), scopes, schema)


def _index(events: Iterator[Event], path: str, schema: ProvJsonSchema, skew: float) -> _Scopes:
    scopes = _Scopes(skew)
    found_prov = False
    foreign_keys: list[str] = []
    for event in events:
        if isinstance(event, Record):
            scopes[event.bundle].index(event.kind, event.id, event.value)
        elif isinstance(event, Prefixes) and isinstance(event.value, dict):
            scopes[event.bundle].declared_prefixes.update(
                (prefix, uri) for prefix, uri in event.value.items() if isinstance(uri, str)
            )
        elif isinstance(event, BundleStart):
            scopes.open_bundle(event.bundle)
        elif (
            isinstance(event, Misplaced)
            and event.bundle is None
            and event.key not in schema.record_kinds | _CONTAINER_KEYS
        ):
            foreign_keys.append(event.key)
            continue
        found_prov = True
    if foreign_keys and not found_prov:
        keys = ", ".join(foreign_keys[:5])
        raise ProvDocumentError(
            path,
            None,
            f"not a PROV-JSON document: none of its keys ({keys}) is a PROV-JSON record kind"
            " (for trace files, use otel-prov convert)",
        )
    scopes.document.end_of_index(IMPLICIT_PREFIXES)
    for bundle in scopes.bundles.values():
        bundle.end_of_index(scopes.document.prefixes)
    return scopes


def _check(events: Iterator[Event], scopes: _Scopes, schema: ProvJsonSchema) -> Iterator[Violation]:
    for event in events:
        if isinstance(event, Record):
            problem = schema.check_record(event.kind, event.value)
            if problem is not None:
                yield Violation(
                    event.id,
                    f"does not match the PROV-JSON schema for {event.kind}: {problem}",
                    event.bundle,
                )
            else:
                yield from scopes[event.bundle].check(event.kind, event.id, event.value)
        elif isinstance(event, Prefixes):
            problem = schema.check_prefixes(event.value)
            if problem is not None:
                yield Violation("prefix", f"does not match the PROV-JSON schema: {problem}", event.bundle)
        elif isinstance(event, Misplaced):
            yield Violation(event.key, event.reason, event.bundle)
        elif isinstance(event, BundleEnd):
            scopes.occurrences[event.bundle] -= 1
            if not scopes.occurrences[event.bundle]:
                yield from scopes.bundles.pop(event.bundle).finish()
    yield from scopes.document.finish()
