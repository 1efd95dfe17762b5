"""Open an ``otel-prov report`` HTML file in real headless Chromium (through Playwright).

The browser is Debian's ``chromium`` (``apt-get install chromium``), driven by the
``playwright`` package (``pip install -e .[test]``); Playwright's own browser
download (``playwright install``) is never used.  Without either, the test is
skipped, saying how to install what is missing::

    def test_report_opens(tmp_path):
        with open_page(tmp_path / "report.html") as (page, errors):
            page.wait_for_function("window.reportReady === true")
            page.click("#failures .failure a[data-attempt]")
            assert page.locator("#task-view").get_attribute("data-attempt") is not None
            assert errors == []

*errors* collects, while the page is open, every console message of type
``error`` and every uncaught exception (``pageerror``), as text.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

INSTALL_HINT = "install Chromium (apt-get install chromium) and Playwright (pip install -e .[test])"


def chromium_path() -> str:
    """The ``chromium`` executable on PATH, else skip the test saying how to install it."""
    path = shutil.which("chromium")
    if path is None:
        pytest.skip(f"chromium is not on PATH; {INSTALL_HINT}")
    return path


def page_url(path_or_url: str | Path) -> str:
    """A ``file://`` URL for a local path; a URL (``file:``, ``http:``, ``data:``) is used as it is."""
    if isinstance(path_or_url, str) and re.match(r"[a-zA-Z][a-zA-Z0-9+.-]+:", path_or_url):
        return path_or_url
    return Path(path_or_url).resolve().as_uri()


@contextmanager
def open_page(
    path_or_url: str | Path,
    *,
    fragment: str = "",
    width: int = 1280,
    height: int = 900,
    wait_ready: bool = False,
) -> Iterator[tuple[Page, list[str]]]:
    """Open *path_or_url* in headless Chromium; yield ``(page, errors)``.

    *fragment* is added as the URL's ``#fragment`` (``"task=3"`` opens that task's
    view); a ``#`` in a path is part of the file name.  *errors* fills with console
    errors and uncaught page errors as they happen.  With *wait_ready*, return only
    once the report set ``window.reportReady``.
    """
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(f"the playwright package is missing; {INSTALL_HINT}")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    errors.append(f"console: {message.text}")

            page.on("console", on_console)
            page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
            page.goto(page_url(path_or_url) + (f"#{fragment}" if fragment else ""))
            if wait_ready:
                page.wait_for_function("window.reportReady === true")
            yield page, errors
        finally:
            browser.close()
