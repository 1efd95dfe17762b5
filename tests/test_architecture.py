"""The package's folders are its stages, and imports follow the data flow.

capture ──records──▶ export ──OTLP JSON files──▶ convert ──PROV──▶ validate
                                                       ├──PROV records──▶ report
                                                       └──PROV records──▶ query (Parquet, SQL)
                                                                             └──▶ publish

Every stage may import the shared vocabulary at the top of the package
(``attributes``, ``prov_vocabulary``, ``settings``, ``errors``, ``version``);
the shared vocabulary imports no stage. Capture hands its records to export in
the same process; convert reads what export writes, so it may use export's
OTLP JSON format modules (the encoder and the typed decoder); report summarizes
the records convert makes, so it may use convert, and so may query, which
writes them as tables; publish reads those tables (and writes the events in
export's OpenLineage format, the one the scheduler sends live); convert hands
its ``openlineage`` and ``ro-crate`` output formats to publish, imported only when
asked; no other
arrow between stages exists. The CLI, the façade ``__init__`` and the demo sit on
top and may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import otel_dask_prov

PACKAGE = Path(otel_dask_prov.__file__).parent
SHARED = {"attributes", "prov_vocabulary", "settings", "errors", "version"}
STAGES = ("capture", "export", "convert", "validate", "report", "query", "publish")

ALLOWED: dict[str, set[str]] = {
    "shared": set(),
    "capture": {"export"},
    "export": set(),
    "convert": {"export.otlp_json", "export.otlp_json_decode", "export.trace_file_reader",
                "publish.openlineage_events",
                "publish.ro_crate"},
    "validate": set(),
    "report": {"convert"},
    "query": {"convert"},
    "publish": {"query", "convert", "export.openlineage_format"},
}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(parts), path))
    return found


def _imported(module: str, path: Path) -> set[str]:
    """Package-relative names of the package modules that *module* imports."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "otel_dask_prov":
                target = node.module.partition(".")[2]
            else:
                continue
            for alias in node.names:  # `from ..export import otlp_json` names a module
                submodule = f"{target}.{alias.name}".strip(".")
                names.add(submodule if submodule in MODULES else target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("otel_dask_prov."):
                    names.add(alias.name.partition(".")[2])
    return names


def _stage(module: str) -> str | None:
    top = module.split(".")[0]
    if top in SHARED:
        return "shared"
    return top if top in STAGES else None


MODULES = {name for name, _ in _modules()}


@pytest.mark.parametrize("module,path", _modules(), ids=[name or "__init__" for name, _ in _modules()])
def test_imports_point_from_stages_to_the_shared_vocabulary(module: str, path: Path) -> None:
    stage = _stage(module)
    if stage is None:
        return  # the CLI, the façade and the demo may use every stage
    wrong = []
    for target in sorted(_imported(module, path)):
        target_stage = _stage(target)
        if target_stage in (None, "shared", stage):
            if target_stage is None and target.split(".")[0] not in ("", *SHARED):
                wrong.append(target)
            continue
        if not any(target == allowed or target.startswith(allowed + ".")
                   for allowed in ALLOWED[stage]):
            wrong.append(target)
    assert not wrong, f"{module} ({stage}) imports {wrong} against the data flow"


def test_the_tree_shows_the_stages() -> None:
    top_modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    assert top_modules == SHARED | {"cli", "settings_command"}
    assert {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()} == {
        *STAGES, "demo"}


def test_no_module_name_stands_in_two_stages() -> None:
    """Apart from ``command`` (a stage's ``otel-prov`` subcommand), a module name says which one."""
    names: dict[str, str] = {}
    for module, path in _modules():
        if path.name == "__init__.py" or path.stem == "command":
            continue
        leaf = module.rpartition(".")[2]
        assert leaf not in names, f"{module} and {names[leaf]} share a name"
        names[leaf] = module
