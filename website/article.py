"""The therapist's article (content/article.md) as HTML, with a deliberately tiny markdown subset.

Only what the article uses: `#`/`##`/`###` headings (each gets an id anchor), paragraphs (single
line breaks kept), `-` and `1.` lists and `**bold**`. Everything else is text: every character is
escaped before any tag is added, so the file can never inject markup into the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List

from markupsafe import Markup, escape

_HEADING = re.compile(r"^(#{1,3})\s+(.*)$")
_BULLET = re.compile(r"^[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\d+[.)]\s+(.*)$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def slug(text: str) -> str:
    """Anchor id for a heading; the widget computes the same one (static/haven-widget/render.js `slug`)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def inline(text: str) -> str:
    return _BOLD.sub(r"<strong>\1</strong>", str(escape(text)))


@dataclass(frozen=True)
class Article:
    title: str
    html: Markup


def render(source: str) -> Article:
    out: List[str] = []
    paragraph: List[str] = []
    items: List[str] = []
    list_tag = ""
    title = ""

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            out.append("<p>" + "<br>\n".join(inline(line) for line in paragraph) + "</p>")
            paragraph.clear()
        if items:
            out.append(f"<{list_tag}>" + "".join(f"<li>{inline(i)}</li>" for i in items) + f"</{list_tag}>")
            items.clear()
            list_tag = ""

    for raw in source.splitlines():
        line = raw.strip()
        heading = _HEADING.match(line)
        bullet = _BULLET.match(line)
        numbered = _NUMBERED.match(line)
        if not line:
            flush()
        elif heading:
            flush()
            level, text = len(heading.group(1)), heading.group(2).strip()
            title = title or text
            out.append(f'<h{level} id="{escape(slug(text))}">{inline(text)}</h{level}>')
        elif bullet or numbered:
            tag = "ul" if bullet else "ol"
            if paragraph or (items and tag != list_tag):
                flush()
            list_tag = tag
            items.append((bullet or numbered).group(1))
        elif items:
            items[-1] += " " + line  # a wrapped list item
        else:
            paragraph.append(line)
    flush()
    return Article(title=title, html=Markup("\n".join(out)))


def load(content_dir: Path) -> Article:
    return render((content_dir / "article.md").read_text(encoding="utf-8"))
