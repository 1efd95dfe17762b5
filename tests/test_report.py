"""``otel-prov report``: the HTML page of real runs, opened in real headless Chromium.

The runs are real: ``otel-prov demo`` (real ``dask scheduler`` and ``dask
worker`` processes), the recorded real runs of ``tests/fixtures/traces`` with
an error, a dependency error, a retry and a killed worker, and a run of over
100,000 tasks on real processes. The page is driven as a person would use it:
read the failures, expand a group, open a task.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dask.array as da
import pytest

from otel_dask_prov.report import write_report
from tests.support.browser import open_page
from tests.support.cluster import DaskProcesses
from tests.support.synthetic_traces import SyntheticTask, write

FIXTURES = Path(__file__).parent / "fixtures" / "traces"

pytestmark = pytest.mark.slow


def otel_prov(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "otel_dask_prov.cli", *arguments],
                          capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report ``otel-prov demo`` writes at its end."""
    workdir = tmp_path_factory.mktemp("demo")
    done = otel_prov("demo", "--workdir", str(workdir / "demo"), cwd=workdir)
    assert done.returncode == 0, done.stderr
    report = workdir / "demo" / "report.html"
    assert f"report: {report} (open it in a browser)" in done.stdout
    return report


@pytest.fixture(scope="module")
def failures_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One report of the recorded runs that failed: an error and the task that needed its
    result, a retry, and a worker killed while it ran a task."""
    output = tmp_path_factory.mktemp("failures") / "report.html"
    done = otel_prov("report", *(str(FIXTURES / name) for name in ("erred", "retry", "worker-killed")),
                     "-o", str(output), cwd=output.parent)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"otel-prov: wrote {output} (")
    assert done.stderr.endswith("8 attempt(s) of 6 task(s) in 6 computation(s), 4 failed\n")
    return output


@pytest.fixture(scope="module")
def large_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a real run of over 100,000 tasks (two worker processes, ~2 minutes)."""
    workdir = tmp_path_factory.mktemp("large")
    with DaskProcesses(workdir / "cluster", n_workers=2) as cluster:
        with cluster.client() as client:
            x = da.random.default_rng(0).random((50_000,), chunks=1)
            assert 0 < client.compute((x * 2).sum(split_every=8)).result() < 100_000
        cluster.stop()
    output = workdir / "report.html"
    result = write_report([cluster.trace_dir], output)
    assert result.attempts >= 100_000
    assert result.sampled
    return output


def test_the_demo_report_shows_the_run_and_opens_a_task(demo_report: Path) -> None:
    with open_page(demo_report, wait_ready=True) as (page, errors):
        summary = page.locator("#summary").inner_text()
        assert "68" in summary and "69" in summary  # tasks, attempts
        assert "1 task retried" in summary
        failures = page.locator("#failures .failure")
        assert failures.count() == 1
        assert "ConnectionError" in failures.first.inner_text()
        computations = page.locator("#run").inner_text()
        assert "compute()" in computations  # the code that submitted the array computation
        # expand the group of the eight load_partition tasks, open one of them
        group = page.locator("#groups g.group-node", has_text="load_partition")
        group.click()
        rows = page.locator("#group-tasks tr[data-attempt]")
        assert rows.count() == 8
        rows.first.click()
        view = page.locator("#task-view")
        assert view.is_visible()
        text = view.inner_text()
        assert "load_partition-" in text
        assert "otel_dask_prov.demo.command.load_partition" in text  # the code it ran
        assert errors == []


def test_failures_come_first_with_what_to_blame(failures_report: Path) -> None:
    with open_page(failures_report, wait_ready=True) as (page, errors):
        failures = page.locator("#failures")
        text = failures.inner_text()
        assert "ZeroDivisionError" in text
        assert "RuntimeError" in text  # the attempt that was retried
        assert "Lost workers (1)" in text
        entry = page.locator("#failures .failure", has_text="ZeroDivisionError").first
        entry.locator("a[data-attempt]").first.click()
        view = page.locator("#task-view")
        attempt = view.get_attribute("data-attempt")
        assert attempt is not None
        assert "ZeroDivisionError" in view.inner_text()
        assert page.evaluate("location.hash") == f"#task={attempt}"
        assert errors == []


def test_a_link_to_a_task_opens_it(failures_report: Path) -> None:
    with open_page(failures_report.as_uri() + "#task=0", wait_ready=True) as (page, errors):
        assert page.locator("#task-view").get_attribute("data-attempt") == "0"
        assert errors == []


@pytest.mark.timeout(900)  # the run itself takes 2-5 minutes on two loaded cores
def test_a_run_of_100k_tasks_opens_with_a_sample_and_exact_groups(large_report: Path) -> None:
    with open_page(large_report, wait_ready=True) as (page, errors):
        assert "Showing a sample of" in page.locator("#summary").inner_text()
        nodes = page.locator("#groups g.group-node")
        assert 3 <= nodes.count() <= 50  # the program's groups, not the data's chunks
        nodes.first.click()
        rows = page.locator("#group-tasks tr[data-attempt]")
        assert 1 <= rows.count() <= 50  # one page of its tasks
        rows.first.click()
        assert page.locator("#task-view").is_visible()
        assert errors == []
    assert large_report.stat().st_size < 32 * 2**20


def test_text_from_the_run_is_shown_as_text_never_run_as_html(tmp_path: Path) -> None:
    key = "<!--<script>document.title='owned'</script>-1"
    write(tmp_path / "traces", [SyntheticTask(key, failures=1), SyntheticTask("ok-1", (key,))],
          workers=1, seed=1)
    write_report([tmp_path / "traces"], tmp_path / "report.html", title="</title><b>bold")
    with open_page(tmp_path / "report.html", wait_ready=True) as (page, errors):
        assert page.title() == "</title><b>bold"
        assert key in page.locator("#failures").inner_text()
        assert errors == []


def test_bad_input_is_one_line_and_no_report(tmp_path: Path) -> None:
    broken = FIXTURES / "broken" / "malformed-line.jsonl"
    done = otel_prov("report", str(broken), "-o", str(tmp_path / "report.html"), cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(f"otel-prov: {broken}:")
    assert not (tmp_path / "report.html").exists()


def test_skip_invalid_reports_the_rest_and_says_what_it_skipped(tmp_path: Path) -> None:
    done = otel_prov("report", str(FIXTURES / "broken"), "--skip-invalid", "-o",
                     str(tmp_path / "report.html"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = done.stderr.splitlines()[-1]
    assert summary.startswith(f"otel-prov: wrote {tmp_path / 'report.html'} (")
    assert summary.endswith("; skipped 2 invalid line(s)")  # as convert says


def test_nothing_to_report_says_so(tmp_path: Path) -> None:
    done = otel_prov("report", str(FIXTURES / "broken" / "metrics-only.jsonl"), "-o",
                     str(tmp_path / "report.html"), cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "report.html").exists()
