"""The documentation site builds with no warning, and what it says matches the code.

The site is built with ``mkdocs build --strict``, which fails on a broken link
or anchor. The generated pages (configuration, CLI, trace picture) must be what
``scripts/gen-docs`` writes now. Every ``otel-prov`` command line shown in the
docs must parse with the real CLI, every ``--otel-...`` option and every
``dask.*`` name must exist, every module path named must exist, no example
under ``docs/`` may hold this machine's paths, and the HPC example must really
preload the tracing into a dask-jobqueue cluster.
"""

from __future__ import annotations

import os
import re
import runpy
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from otel_dask_prov import attributes as attr
from otel_dask_prov.cli import SUBCOMMANDS, cli
from otel_dask_prov.settings import SETTINGS
from tests.support.cluster import REPO_ROOT
from tests.support.machine_paths import machine_paths, path_pattern
from tests.support.traces import read_spans

DOCS = REPO_ROOT / "docs"
GEN_DOCS = REPO_ROOT / "scripts" / "gen-docs"
PAGES = [*sorted(DOCS.rglob("*.md")), REPO_ROOT / "deploy" / "kubernetes" / "README.md"]


def code_blocks(path: Path, language: str | None = None) -> list[str]:
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", path.read_text(), re.S | re.M)
    return [body for lang, body in blocks if language is None or lang == language]


def command_lines(text: str) -> Iterator[str]:
    """Shell command lines of a code block, with ``\\`` continuations joined and prompts removed."""
    for line in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"^\$ ", "", line.strip())
        if line and not line.startswith("#"):
            yield line.split(" # ")[0].split("    #")[0].strip()


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    site = tmp_path / "site"
    for page in ("index.html", "configuration/index.html", "cli/index.html",
                 "deployment/kubernetes/index.html"):
        assert (site / page).is_file(), page
    kubernetes = (site / "deployment/kubernetes/index.html").read_text()
    assert "Tracing Dask on Kubernetes" in kubernetes  # the README, included


def test_the_generated_pages_are_up_to_date() -> None:
    result = subprocess.run([sys.executable, str(GEN_DOCS), "--check"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_configuration_reference_names_every_way_to_set_every_setting() -> None:
    page = (DOCS / "configuration.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in page.splitlines() if line.startswith("| `")}
    assert set(rows) == {setting.config_key for setting in SETTINGS}
    for setting in SETTINGS:
        row = rows[setting.config_key]
        for name in (setting.option, f"otel-dask-prov.{setting.config_key}", *setting.env):
            assert f"`{name}`" in row, (setting.name, name)


def test_every_variable_with_its_own_unit_or_meaning_is_explained() -> None:
    generator = runpy.run_path(str(GEN_DOCS), run_name="gen_docs")
    for setting in SETTINGS:
        if setting.env_parse is not None:
            assert all(name in generator["ENV_NOTES"] for name in setting.env), setting.name


def test_the_cli_reference_has_every_subcommand() -> None:
    page = (DOCS / "cli.md").read_text()
    for name in SUBCOMMANDS:
        assert f"## otel-prov {name}\n" in page
        assert f"$ otel-prov {name} --help" in page


DOCUMENTED_COMMANDS = sorted({
    (path.relative_to(REPO_ROOT).as_posix(), line[line.index("otel-prov "):])
    for path in PAGES for block in code_blocks(path) for line in command_lines(block)
    if re.search(r"(^|-- )otel-prov \w", line) and "--help" not in line and not line.startswith("Usage:")
})


@pytest.mark.parametrize(("page", "line"), DOCUMENTED_COMMANDS,
                         ids=[f"{page}: {line}" for page, line in DOCUMENTED_COMMANDS])
def test_every_otel_prov_command_shown_parses(page: str, line: str) -> None:
    args = shlex.split(line.replace("$USER", "user"))[1:]
    root = click.Context(cli, info_name="otel-prov")
    command = cli.get_command(root, args[0])
    assert command is not None, f"{page}: no subcommand {args[0]!r}"
    command.make_context(args[0], args[1:], parent=root)  # raises click.UsageError on a bad option


def test_every_preload_option_shown_exists() -> None:
    options = {setting.option for setting in SETTINGS}
    shown = {(path.name, option) for path in PAGES
             for option in re.findall(r"--otel-[a-z-]+", path.read_text())}
    assert shown, "the docs show no preload option"
    assert {option for _, option in shown} <= options, sorted(shown)


ATTRIBUTE_NAMES = {value for value in vars(attr).values() if isinstance(value, str)}


@pytest.mark.parametrize("page", ["concepts.md", "troubleshooting.md", "index.md"])
def test_every_dask_name_in_the_prose_is_in_the_attributes_module(page: str) -> None:
    names = set(re.findall(r"`(dask\.[a-z_.]+)`", (DOCS / page).read_text()))
    unknown = {name for name in names if name not in ATTRIBUTE_NAMES}
    assert unknown == set()


def test_the_example_trace_is_one_complete_computation() -> None:
    spans = read_spans([DOCS / "data" / "example-trace.jsonl"])
    by_id = {span.span_id: span for span in spans}
    assert len({span.trace_id for span in spans}) == 1
    assert {span.service for span in spans} == {attr.SCHEDULER_SERVICE, attr.WORKER_SERVICE}
    (root,) = [span for span in spans if span.parent_span_id is None]
    assert root.name == attr.COMPUTATION_SPAN_NAME
    executions = [span for span in spans if span.kind == attr.RECORD_TASK_EXECUTION]
    assert executions
    assert all(by_id[span.parent_span_id].kind == attr.RECORD_TASK_ATTEMPT for span in executions)
    links = [link for span in spans for link in span.links]
    assert links and all(link["span_id"] in by_id for link in links)


MODULE_PATH = re.compile(r"`((?:otel_dask_prov/)?(?:capture|export|convert|validate|demo)/[\w/.]*"
                         r"|otel_dask_prov/[\w/]+\.py|tests/[\w/.-]+|scripts/[\w-]+|benchmarks/[\w/.-]+)`")


def test_every_module_path_the_docs_name_exists() -> None:
    named = {(path.relative_to(REPO_ROOT).as_posix(), match)
             for path in PAGES for match in MODULE_PATH.findall(path.read_text())}
    assert named, "the docs name no module"
    missing = sorted((page, name) for page, name in named
                     if not any((root / name).exists() for root in (REPO_ROOT, REPO_ROOT / "otel_dask_prov")))
    assert missing == []


def test_the_architecture_page_names_only_modules_that_exist() -> None:
    package = REPO_ROOT / "otel_dask_prov"
    files = {path.name for path in package.rglob("*.py")}
    named = set(re.findall(r"`((?:[\w/]+/)?\w+\.py)`", (DOCS / "architecture.md").read_text()))
    missing = {name for name in named
               if not ((REPO_ROOT / name).exists() if name.startswith("tests/")
                       else name.rpartition("/")[2] in files)}
    assert named and not missing, sorted(missing)


def test_no_example_under_docs_holds_this_machines_paths() -> None:
    """Example data is recorded with neutral paths (``scripts/gen-docs --record``)."""
    pattern = path_pattern(machine_paths())
    found = {(path.relative_to(REPO_ROOT).as_posix(), match)
             for path in sorted(DOCS.rglob("*")) if path.is_file() and path.suffix != ".png"
             for match in pattern.findall(path.read_text())}
    assert found == set()


@pytest.mark.slow
def test_the_hpc_example_preloads_the_scheduler_and_the_worker_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    dask_jobqueue = pytest.importorskip(
        "dask_jobqueue", reason="dask-jobqueue is not installed (pip install -e '.[test]')")

    class LoopbackSLURMCluster(dask_jobqueue.SLURMCluster):  # type: ignore[misc]
        """The example's cluster, with its scheduler kept on the loopback interface."""

        def __init__(self, *args: Any, scheduler_options: dict[str, Any], **kwargs: Any) -> None:
            super().__init__(*args, scheduler_options={**scheduler_options, "host": "127.0.0.1",
                                                       "dashboard_address": ":0"}, **kwargs)

    monkeypatch.setattr(dask_jobqueue, "SLURMCluster", LoopbackSLURMCluster)
    example = code_blocks(DOCS / "deployment" / "hpc.md", "python")[0]
    namespace: dict[str, Any] = {"print": lambda *args: None}
    exec(compile(example, "hpc.md", "exec"), namespace)  # noqa: S102 - the page's own example
    cluster = namespace["cluster"]
    try:
        script = cluster.job_script()
        worker_command = next(line for line in script.splitlines() if "distributed.cli.dask_worker" in line)
        assert worker_command.endswith("--preload otel_dask_prov")
        assert "export OTEL_DASK_PROV_OUTPUT_DIR=/scratch/$USER/otel-dask-prov-traces" in script
        assert "otel-dask-prov" in cluster.scheduler.plugins
    finally:
        cluster.close()


def test_the_optional_pages_hook_drops_what_does_not_exist_yet(tmp_path: Path) -> None:
    hook = runpy.run_path(str(DOCS / "hooks" / "optional_pages.py"))
    (tmp_path / "concepts.md").write_text("")
    config = {"docs_dir": str(tmp_path),
              "nav": [{"Concepts": "concepts.md"}, {"Provenance": [{"Mapping": "prov-mapping.md"}]},
                      {"Performance": "performance.md"}]}
    assert hook["on_config"](config)["nav"] == [{"Concepts": "concepts.md"}]

    class Page:
        class file:  # noqa: N801 - the shape of mkdocs' Page.file
            src_uri = "deployment/hpc.md"

    text = "See [the mapping](../prov-mapping.md#x) and [concepts](../concepts.md)."
    assert (hook["on_page_markdown"](text, Page, config, None)
            == "See the mapping and [concepts](../concepts.md).")
