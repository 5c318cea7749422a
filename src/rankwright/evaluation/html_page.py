"""What every rankwright HTML page shares: the style, escaping and number cells,
figures embedded as base64 PNG, and the page itself (title, nav, sections). Pages are
self-contained: no scripts, no external resources, they open offline."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
nav a { margin-right: 1em; } .note { color: #555; font-style: italic; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.up { color: #1a7f37; } td.down { color: #c62828; }
tr.worst-query td { background: #f3f5f8; font-weight: 600; } .relevant { color: #1a7f37; }
img { max-width: 100%; } .row { display: flex; flex-wrap: wrap; gap: 1em; }
"""

#: (id, heading, HTML content) of one section of a page.
Section = tuple[str, str, str]


class Figures:
    """The figures of one page: PNG bytes by name, each embedded as an <img>."""

    def __init__(self) -> None:
        self.png: dict[str, bytes] = {}

    def img(self, name: str, draw: Callable[..., bytes], *args: Any, alt: str) -> str:
        self.png[name] = draw(*args)
        data = base64.b64encode(self.png[name]).decode("ascii")
        return f'<img id="fig-{name}" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'

    def write(self, folder: Path, stale: Iterable[str] = ()) -> None:
        """Write every figure as ``folder/<name>.png``, first removing the ``stale``
        names an earlier page in this folder may have left."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in stale:
            (folder / f"{name}.png").unlink(missing_ok=True)
        for name, png in self.png.items():
            (folder / f"{name}.png").write_bytes(png)


def esc(value: Any) -> str:
    return html.escape(str(value))


def num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}"


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def write_page(
    path: Path, title: str, subtitle: str, sections: list[Section], *, tab_title: str = "", style: str = ""
) -> Path:
    """``path`` as one HTML page: a title, a subtitle line, a nav bar and the sections."""
    nav = "".join(f'<a href="#{sid}">{esc(heading)}</a>' for sid, heading, _ in sections)
    body = "".join(
        f'<section><h2 id="{sid}">{esc(heading)}</h2>{content}</section>' for sid, heading, content in sections
    )
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(tab_title or title)}</title>'
        f"<style>{STYLE}{style}</style></head>\n<body><h1>{esc(title)}</h1>"
        f"<p>{esc(subtitle)}</p><nav>{nav}</nav>\n{body}\n</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
