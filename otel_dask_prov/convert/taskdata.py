"""PROV records of the data provenance of one task attempt (the opt-in recording).

* ``dask.task.arguments`` (JSON list): one entity
  ``run:argument.<key>.<span>.<position or name>`` (``dask:Argument``) per
  literal argument, ``used`` by the attempt with ``prov:role`` = its position or
  name. Arguments that are other tasks' values are the dependency ``used``
  relations the core mapping states already.
* ``dask.io.files`` + ``dask.io.file_modes`` (aligned lists): the path entity
  ``run:path.<digest>`` (``dask:File``, ``prov:location`` = the path) is
  ``used`` by the attempt for a mode that reads (``r``, ``+``); for a mode that
  writes (``w``, ``a``, ``x``, ``+``) the attempt generates the version
  ``run:path.<digest>.<span>``, ``specializationOf`` the path entity.
* ``dask.profile.yappi`` (JSON): entity ``run:profile.<key>.<span>``
  (``dask:Profile``, ``prov:value`` = the JSON, ``dask:profileClock``)
  ``wasGeneratedBy`` the attempt.
* ``dask.io.files_omitted``, ``dask.profile.skipped`` and the ``omitted`` count
  of the arguments: attributes of the activity.

``<digest>`` is the first 16 hex digits of the SHA-256 of the path, so the same
path has the same id in every run and every bundle; each written version has
its own id, so that every entity has at most one generation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from .. import attributes as attr
from .. import prov_vocabulary as vocabulary
from ..prov_vocabulary import PROV_LOCATION, PROV_ROLE, PROV_TYPE, PROV_VALUE
from . import identifiers as ids
from .prov_records import QName, Record, Time

_ARGUMENT = QName(vocabulary.ARGUMENT)
_FILE = QName(vocabulary.FILE)
_PROFILE = QName(vocabulary.PROFILE)
_WRITE_MODES = frozenset("wax+")


def activity_pairs(execution: dict[str, Any]) -> list[tuple[str, Any]]:
    """Attributes of the activity about its data records: what was left out and why."""
    pairs: list[tuple[str, Any]] = []
    arguments = execution.get(attr.TASK_ARGUMENTS)
    if isinstance(arguments, str) and '"omitted"' in arguments:
        omitted = [item["omitted"] for item in _items(arguments) if "omitted" in item]
        if omitted and isinstance(omitted[0], int):
            pairs.append((vocabulary.ARGUMENTS_OMITTED, omitted[0]))
    files_omitted = execution.get(attr.IO_FILES_OMITTED)
    if isinstance(files_omitted, int) and files_omitted:
        pairs.append((vocabulary.FILES_OMITTED, files_omitted))
    skipped = execution.get(attr.PROFILE_SKIPPED)
    if skipped:
        pairs.append((vocabulary.PROFILE_SKIPPED, str(skipped)))
    return pairs


def _items(text: str) -> list[dict[str, Any]]:
    """The argument descriptions of a ``dask.task.arguments`` JSON list; [] if unreadable."""
    try:
        items = json.loads(text)
    except ValueError:
        return []
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def path_id(path: str) -> str:
    """The id of a file path, the same in every run: ``run:path.<digest>``."""
    digest = hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{ids.RUN_PREFIX}:path.{digest}"


def path_version_id(path: str, span: str) -> str:
    """The id of the version of *path* the attempt of span *span* wrote."""
    return f"{path_id(path)}.{span}"


def task_data_records(execution: dict[str, Any], key: str, span: str, task: str,
                      start: Time | None, end: Time | None,
                      once: Callable[[str], bool]) -> list[Record]:
    """Records of the arguments, files and profile of one attempt's execution span.

    *once* answers whether an id shared by attempts (a path) is new in the container.
    """
    records: list[Record] = []
    arguments = execution.get(attr.TASK_ARGUMENTS)
    if isinstance(arguments, str):
        records.extend(_arguments(arguments, key, span, task, start))
    paths = execution.get(attr.IO_FILES)
    if paths:
        modes = execution.get(attr.IO_FILE_MODES) or ()
        records.extend(_files(paths, modes, span, task, start, end, once))
    profile = execution.get(attr.PROFILE_YAPPI)
    if isinstance(profile, str):
        entity = f"{ids.RUN_PREFIX}:profile.{ids.safe_name(key)}.{span}"
        pairs: list[tuple[str, Any]] = [(PROV_TYPE, _PROFILE), (PROV_VALUE, profile)]
        clock = execution.get(attr.PROFILE_YAPPI_CLOCK)
        if clock:
            pairs.append((vocabulary.PROFILE_CLOCK, str(clock)))
        records.append(Record("entity", entity, (), tuple(pairs)))
        records.append(Record("wasGeneratedBy", None, (entity, task, end), ()))
    return records


def _arguments(text: str, key: str, span: str, task: str,
               start: Time | None) -> list[Record]:
    """An entity and a usage per literal argument of the JSON list *text*."""
    records: list[Record] = []
    for item in _items(text):
        if "key" in item:
            continue  # another task's value: the core mapping's dependency usage
        if "omitted" in item:
            continue  # counted on the activity (activity_pairs)
        position, name = item.get("position"), item.get("name")
        described: tuple[str, Any]
        if isinstance(position, int):
            role, described = str(position), (vocabulary.POSITION, position)
        elif isinstance(name, str):
            role, described = name, (vocabulary.NAME, name)
        else:
            continue
        entity = f"{ids.RUN_PREFIX}:argument.{ids.safe_name(key)}.{span}.{ids.safe_name(role)}"
        pairs: list[tuple[str, Any]] = [(PROV_TYPE, _ARGUMENT), described]
        for field, prov_name in (("type", vocabulary.TYPE), ("value", vocabulary.VALUE)):
            if isinstance(item.get(field), str):
                pairs.append((prov_name, item[field]))
        if item.get("keys"):
            pairs.append((vocabulary.KEYS, ", ".join(map(str, item["keys"]))))
        records.append(Record("entity", entity, (), tuple(pairs)))
        records.append(Record("used", None, (task, entity, start), ((PROV_ROLE, role),)))
    return records


def _files(paths: Any, modes: Any, span: str, task: str, start: Time | None,
           end: Time | None, once: Callable[[str], bool]) -> list[Record]:
    """Usages of the paths read and versions of the paths written by one attempt."""
    records: list[Record] = []
    seen: set[tuple[str, str]] = set()
    for position, path in enumerate(paths):
        path = str(path)
        mode = str(modes[position]) if position < len(modes) else ""
        general = path_id(path)
        if once(general):
            records.append(Record("entity", general, (), (
                (PROV_TYPE, _FILE), (PROV_LOCATION, path))))
        if ("r" in mode or "+" in mode) and (path, "used") not in seen:
            seen.add((path, "used"))
            records.append(Record("used", None, (task, general, start),
                                  ((vocabulary.FILE_MODE, mode),)))
        if _WRITE_MODES.intersection(mode) and (path, "generated") not in seen:
            seen.add((path, "generated"))
            version = path_version_id(path, span)
            records.append(Record("entity", version, (), (
                (PROV_TYPE, _FILE), (PROV_LOCATION, path))))
            records.append(Record("wasGeneratedBy", None, (version, task, end),
                                  ((vocabulary.FILE_MODE, mode),)))
            records.append(Record("specializationOf", None, (version, general), ()))
    return records
