"""``otel-prov convert -o run.svg|png|dot``: a picture a person can read.

Up to 200 attempts it draws every attempt with a short label (details in the
tooltip); above, one box per task group. ``--view`` chooses.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from otel_dask_prov.convert import convert
from tests.support.synthetic_traces import map_reduce, write

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
needs_graphviz = pytest.mark.skipif(shutil.which("dot") is None,
                                    reason="Graphviz `dot` is not installed (apt-get install graphviz)")


def picture(paths: list[Path], output: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "otel_dask_prov.cli", "convert", *map(str, paths),
                           "-o", str(output), "-q", *options],
                          capture_output=True, text=True, timeout=300)


def labels(dot_source: str) -> list[str]:
    return re.findall(r'\blabel="((?:[^"\\]|\\.)*)"', dot_source)


@pytest.fixture(scope="module")
def map_reduce_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A graph of 201 tasks, as the plugins would have recorded it."""
    directory = tmp_path_factory.mktemp("map-reduce")
    write(directory, map_reduce(200), workers=2, seed=1)
    return directory


def test_small_runs_are_drawn_task_by_task_with_short_labels(tmp_path: Path) -> None:
    out = tmp_path / "run.dot"
    convert([FIXTURES / "retry"], out)
    source = out.read_text()
    assert source.count("subgraph cluster_") == 2  # one per computation
    task_labels = [label for label in labels(source) if not label.startswith("computation")]
    assert sorted(task_labels) == ["fail_once", "fail_once", "inc"]
    assert "fail_once-b103bb7c979e6cbfb16dd456e58b7953\\noutcome: error-retried" in source
    assert 'style=dashed, color="#b00020", tooltip="retried"' in source


def test_above_200_attempts_the_picture_shows_task_groups(map_reduce_run: Path,
                                                          tmp_path: Path) -> None:
    done = picture([map_reduce_run], tmp_path / "run.dot")
    assert done.returncode == 0, done.stderr
    source = (tmp_path / "run.dot").read_text()
    boxes = [label.split("\\n") for label in labels(source)]
    assert [(name, count.split(" · ")[0]) for name, count in boxes] == [
        ("inc", "175 task(s)"), ("sum", "26 task(s)")]


@needs_graphviz
def test_the_tasks_view_of_200_tasks_stays_readable(map_reduce_run: Path, tmp_path: Path) -> None:
    done = picture([map_reduce_run], tmp_path / "run.svg", "--view", "tasks")
    assert done.returncode == 0, done.stderr
    svg = ElementTree.parse(tmp_path / "run.svg").getroot()  # noqa: S314 - drawn by dot here
    texts = [text.text or "" for text in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert len(texts) >= 201
    assert max(map(len, texts)) <= 40  # the boxes hold short labels ...
    tooltips = [a.get("{http://www.w3.org/1999/xlink}title") or ""
                for a in svg.iter("{http://www.w3.org/2000/svg}a")]
    assert any(tip.startswith("inc-17\noutcome: success\nworker: ") for tip in tooltips)  # ... details on hover


@needs_graphviz
def test_the_groups_view_is_a_small_png(map_reduce_run: Path, tmp_path: Path) -> None:
    done = picture([map_reduce_run], tmp_path / "run.png", "--view", "groups")
    assert done.returncode == 0, done.stderr
    header = (tmp_path / "run.png").read_bytes()[:24]
    assert header.startswith(b"\x89PNG")
    width, height = struct.unpack(">II", header[16:24])
    assert width <= 1920 and height <= 1080


def test_view_is_refused_for_documents(tmp_path: Path) -> None:
    done = picture([FIXTURES / "retry"], tmp_path / "run.json", "--view", "groups")
    assert done.returncode == 2
    assert done.stderr == ("otel-prov: --view groups draws a picture: use it with dot, svg or png "
                           "output, not json\n")
    assert not (tmp_path / "run.json").exists()
