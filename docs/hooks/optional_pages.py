"""MkDocs hook: leave out the pages that other parts of the project have not written yet.

The navigation names some pages that are written alongside other features
(:data:`OPTIONAL_PAGES`). While one of them does not exist, its navigation entry
is dropped and links to it are shown as plain text, so that the strict build
still fails on every other broken link. Once the page exists, nothing changes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

OPTIONAL_PAGES = ("prov-mapping.md", "provenance.md", "performance.md")

_LINK = re.compile(r"\[(?P<text>[^\]]+)\]\((?P<target>[^)#\s]+)(?:#[^)\s]*)?\)")


def _missing(config: Any) -> set[str]:
    docs = Path(config["docs_dir"])
    return {page for page in OPTIONAL_PAGES if not (docs / page).exists()}


def _prune(nav: list[Any], missing: set[str]) -> list[Any]:
    kept = []
    for item in nav:
        if isinstance(item, dict):
            (title, target), = item.items()
            if isinstance(target, list):
                target = _prune(target, missing)
                if not target:
                    continue
            elif target in missing:
                continue
            kept.append({title: target})
        elif item not in missing:
            kept.append(item)
    return kept


def on_config(config: Any) -> Any:
    missing = _missing(config)
    if missing and config["nav"]:
        config["nav"] = _prune(config["nav"], missing)
    return config


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    missing = _missing(config)
    if not missing:
        return markdown
    base = Path(page.file.src_uri).parent

    def unlink(match: re.Match[str]) -> str:
        target = (base / match["target"]).as_posix()
        target = re.sub(r"(^|/)[^/]+/\.\./", r"\1", target)
        return match["text"] if target in missing else match[0]

    return _LINK.sub(unlink, markdown)
