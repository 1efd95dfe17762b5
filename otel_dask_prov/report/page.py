"""The report's HTML page: the template of ``assets/`` with its style, script and data inlined.

The page is hand-written HTML, CSS and JavaScript (no library, no network);
the data is the JSON of :meth:`~otel_dask_prov.convert.run_summary.RunSummaryWriter.data`
in a ``<script type="application/json">`` element, which the script reads.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any, Final

_PLACEHOLDERS: Final = ("/*REPORT-CSS*/", "/*REPORT-DATA*/", "/*REPORT-JS*/", "REPORT-TITLE")


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("assets").joinpath(name).read_text(encoding="utf-8")


def data_json(data: dict[str, Any]) -> str:
    """*data* as JSON that is safe inside a ``<script>`` element, whatever text it holds.

    Every ``<`` is written ``\\u003c`` (JSON allows it), so no ``</script>`` and no
    ``<!--`` in a task key or an exception message can end the element early or
    switch the HTML parser into its script-comment states; U+2028 and U+2029,
    line ends to older JavaScript parsers, are escaped too.

    >>> data_json({"key": "<!--<script></script>"})
    '{"key":"\\\\u003c!--\\\\u003cscript>\\\\u003c/script>"}'
    """
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                      default=str)
    return (text.replace("<", "\\u003c").replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029"))


def render(data: dict[str, Any], title: str) -> str:
    """The whole page for the report *data*."""
    template = _asset("report.html")
    missing = [placeholder for placeholder in _PLACEHOLDERS if placeholder not in template]
    if missing:
        raise RuntimeError(f"the report template lacks {', '.join(missing)}")
    # the data last: nothing in it is mistaken for a placeholder
    page = template.replace("REPORT-TITLE", html.escape(title))
    page = page.replace("/*REPORT-CSS*/", _asset("report.css").replace("</", "<\\/"))
    page = page.replace("/*REPORT-JS*/", _asset("report.js").replace("</script", "<\\/script"))
    before, _, after = page.partition("/*REPORT-DATA*/")
    return before + data_json(data) + after
