"""A traced computation, looked at in Jaeger's web UI in a real browser.

Dask processes -> OTLP/gRPC -> our collector (``local.yaml``) -> Jaeger
(``jaeger.yaml`` serving the UI that ``scripts/build-jaeger-ui`` builds) ->
headless Chromium (Debian's, driven by Playwright).  What a developer looking
for a slow task would check first: both services are searchable, the
computation's trace page shows each task span with its worker's ``execute``
span under it and every span we sent, the trace graph draws the call tree, and
a task's dependency links lead to the spans of the tasks that produced its
inputs.

Jaeger is the module's own (not the session's), so its search page holds this
computation only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from otel_dask_prov import attributes as attr
from tests.support.browser import open_page
from tests.support.collector import Runner
from tests.support.jaeger import Jaeger, same_trace_id, ui_assets
from tests.support.pipeline import TREE_KEYS, assert_tree_trace, run_tree_into_jaeger

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.collector, pytest.mark.jaeger, pytest.mark.slow]

TASK_PREFIXES = Counter(key.rsplit("-", 1)[0] if "-" in key else key for key in TREE_KEYS)
"""``{"inc": 4, "add": 2, "total": 1}``: task spans are named by prefix."""
TALL = {"width": 1400, "height": 1400}
"""The timeline draws only the rows in view: tall enough for every span of the tree."""


@dataclass(frozen=True)
class Traced:
    jaeger: Jaeger
    trace_id: str
    spans_sent: int

    @property
    def trace_url(self) -> str:
        return f"{self.jaeger.query_url}/trace/{self.trace_id}"


@pytest.fixture(scope="module")
def ui_jaeger(jaeger_runner: Runner, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jaeger]:
    """Jaeger serving the built UI (the image serves its own)."""
    service = Jaeger(jaeger_runner, tmp_path_factory.mktemp("jaeger-ui"), ui_assets(jaeger_runner))
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def traced(ui_jaeger: Jaeger, otelcol_runner: Runner, tmp_path_factory: pytest.TempPathFactory) -> Traced:
    """The tree computed through a collector into the UI's Jaeger, all its spans stored there."""
    spans = run_tree_into_jaeger(ui_jaeger, otelcol_runner, tmp_path_factory.mktemp("jaeger-ui-pipeline"))
    trace_id = assert_tree_trace(spans)
    sent = sum(1 for span in spans if same_trace_id(span.trace_id, trace_id))
    ui_jaeger.wait_for_trace(
        attr.WORKER_SERVICE,
        lambda trace: same_trace_id(trace["traceID"], trace_id) and len(trace["spans"]) == sent,
    )
    return Traced(ui_jaeger, trace_id, sent)


def test_the_search_page_lists_both_services_and_finds_the_computation(traced: Traced) -> None:
    jaeger = traced.jaeger
    with open_page(f"{jaeger.query_url}/search") as (page, errors):
        page.locator(".ant-select[name=service]").click()
        options = page.locator(".ant-select-item-option")
        options.first.wait_for()
        assert {option.get_attribute("title") for option in options.all()} == {
            attr.SCHEDULER_SERVICE, attr.WORKER_SERVICE}

        page.goto(f"{jaeger.query_url}/search?service={attr.WORKER_SERVICE}&lookback=1h&limit=20")
        result = page.locator(".ResultItem").filter(has=page.locator(f"a[href*='{traced.trace_id}']"))
        result.wait_for()
        text = result.inner_text()
        assert f"{attr.SCHEDULER_SERVICE}: {attr.COMPUTATION_SPAN_NAME}" in text
        assert f"{traced.spans_sent} Spans" in text
        assert attr.SCHEDULER_SERVICE in text and attr.WORKER_SERVICE in text
        assert errors == []


def test_the_trace_page_nests_each_execute_span_under_its_task_span(traced: Traced) -> None:
    with open_page(traced.trace_url, **TALL) as (page, errors):
        page.locator(".span-row").first.wait_for()
        header = page.locator(".TracePageHeader--overviewItems").inner_text()
        assert f"TotalSpans{traced.spans_sent}" in "".join(header.split())
        rows = [
            (row.locator(".SpanTreeOffset--indentGuide").count(),
             row.locator(".span-svc-name").inner_text().strip(),
             row.locator(".endpoint-name").inner_text().strip())
            for row in page.locator(".span-row").all()
        ]
        assert errors == []
    assert len(rows) == traced.spans_sent
    assert rows[0][1:] == (attr.SCHEDULER_SERVICE, attr.COMPUTATION_SPAN_NAME)
    tasks = Counter(name.removeprefix(attr.TASK_SPAN_PREFIX) for depth, service, name in rows
                    if service == attr.SCHEDULER_SERVICE and name.startswith(attr.TASK_SPAN_PREFIX))
    assert tasks == TASK_PREFIXES
    executions = 0
    for index, (depth, service, name) in enumerate(rows):
        if not name.startswith(attr.EXECUTION_SPAN_PREFIX):
            continue
        executions += 1
        assert service == attr.WORKER_SERVICE
        parent = next(row for row in reversed(rows[:index]) if row[0] == depth - 1)
        prefix = name.removeprefix(attr.EXECUTION_SPAN_PREFIX)
        assert parent[1:] == (attr.SCHEDULER_SERVICE, f"{attr.TASK_SPAN_PREFIX}{prefix}"), rows
    assert executions == len(TREE_KEYS)


def test_the_trace_graph_draws_the_call_tree(traced: Traced) -> None:
    with open_page(traced.trace_url) as (page, errors):
        page.locator(".span-row").first.wait_for()
        choose_view(page, "Trace Graph")
        nodes = page.locator(".OpNode:not(.OpNode--legendNode)")
        nodes.first.wait_for()
        counts = {
            (node.locator(".OpNode--service").inner_text().split()[0], node.locator(".OpNode--op").inner_text()):
            node.locator(".OpNode--count").inner_text().strip()
            for node in nodes.all()
        }
        edges = page.locator(".plexus-Digraph--SvgEdge").count()
        assert errors == []
    # one node per operation and path from the root, with its span count / errors:
    # the computation, each task prefix under it, their executions, the phases
    assert counts[(attr.SCHEDULER_SERVICE, attr.COMPUTATION_SPAN_NAME)] == "1 / 0"
    for prefix, count in TASK_PREFIXES.items():
        assert counts[(attr.SCHEDULER_SERVICE, f"{attr.TASK_SPAN_PREFIX}{prefix}")] == f"{count} / 0"
        assert counts[(attr.WORKER_SERVICE, f"{attr.EXECUTION_SPAN_PREFIX}{prefix}")] == f"{count} / 0"
    assert edges == len(counts) - 1, counts  # a tree


def test_a_tasks_dependency_links_lead_to_the_spans_of_its_inputs(traced: Traced) -> None:
    with open_page(traced.trace_url, **TALL) as (page, errors):
        total = page.locator(".span-row").filter(
            has=page.get_by_text(f"{attr.TASK_SPAN_PREFIX}total", exact=True))
        total.locator(".ReferencesButton-MultiParent").click()
        menu = page.locator(".ant-dropdown:visible")
        menu.wait_for()
        links = menu.inner_text()
        assert links.count(f"{attr.SCHEDULER_SERVICE}:{attr.TASK_SPAN_PREFIX}add") == 2
        page.locator(".TracePageHeader--title").click()  # closes the menu (not Escape: Jaeger UI
        menu.wait_for(state="hidden")                     # 1.74's "clear search" key throws here)

        total.locator(".span-name").click()
        page.locator(".AccordianReferences--header").click()
        references = page.locator(".ReferencesList--Item").all_inner_texts()
        assert errors == []
    kinds = Counter(
        ("FOLLOWS_FROM" if "FOLLOWS_FROM" in text else "CHILD_OF",
         text.split("FOLLOWS_FROM")[0].split("CHILD_OF")[0].strip())
        for text in references)
    assert kinds == {
        ("CHILD_OF", f"{attr.SCHEDULER_SERVICE}{attr.COMPUTATION_SPAN_NAME}"): 1,
        ("FOLLOWS_FROM", f"{attr.SCHEDULER_SERVICE}{attr.TASK_SPAN_PREFIX}add"): 2,
    }


def choose_view(page: Page, view: str) -> None:
    """Switch the trace page to *view* ("Trace Graph", "Trace Statistics", ...) with its view menu.

    The menu opens with an animation: on a busy machine a click can land before its
    item takes it, so the switch is tried again until the header names *view*.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    header = page.locator(".TracePageHeader")
    for _ in range(3):
        header.get_by_text("Trace Timeline", exact=True).click()
        item = page.locator(".ant-dropdown:visible").get_by_text(view, exact=True)
        item.wait_for()
        item.click()
        try:
            header.get_by_text(view, exact=True).wait_for(timeout=10_000)
            return
        except PlaywrightTimeoutError:
            page.keyboard.press("Tab")  # the menu, if still open, closes with the focus
    raise AssertionError(f"the trace page did not switch to {view}")
