"""Reports as a list of blocks, written as Markdown and as self-contained-enough HTML.

The femur and spine reports build the same small document: headings, paragraphs, bullet
lists, tables and figures. They are described once as blocks and rendered here, so that the
Markdown and HTML versions say the same thing.

A block is a tuple whose first item is its kind:

- ``("h1", text)``, ``("h2", text)``: headings;
- ``("p", text)``: a paragraph (Markdown inline syntax is kept as is);
- ``("ul", items)``: a bullet list;
- ``("table", header, rows)``: a table; cells are converted with ``str``;
- ``("img", png_path, caption)``: a figure; the path must lie inside the report's folder.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["Block", "to_html", "to_markdown"]

Block = tuple[Any, ...]

_STYLE = (
    "body{font-family:sans-serif;max-width:70em;margin:2em auto;line-height:1.4}"
    "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:0.25em 0.5em;text-align:left}"
    "img{max-width:100%}figcaption{color:#555;font-size:0.9em}"
)


def to_markdown(blocks: Sequence[Block], folder: Path) -> str:
    """Render blocks as Markdown; figures are linked relative to ``folder``."""
    lines: list[str] = []
    for kind, *rest in blocks:
        if kind in ("h1", "h2"):
            lines += ["#" * int(kind[1]) + " " + rest[0], ""]
        elif kind == "p":
            lines += [rest[0], ""]
        elif kind == "ul":
            lines += [f"- {item}" for item in rest[0]] + [""]
        elif kind == "table":
            header, rows = rest[0], rest[1]
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
            lines.append("")
        elif kind == "img":
            lines += [f"![{rest[1]}]({Path(rest[0]).relative_to(folder).as_posix()})", ""]
    return "\n".join(lines)


def to_html(
    blocks: Sequence[Block], folder: Path, title: str, *, embed_images: bool = False
) -> str:
    """Render blocks as one HTML page.

    Args:
        blocks: The document.
        folder: The report's folder; figures are linked relative to it.
        title: The page title.
        embed_images: Put each PNG into the page (base64) instead of linking it, so the page
            can be sent on its own.

    """
    e = html.escape
    body: list[str] = []
    for kind, *rest in blocks:
        if kind in ("h1", "h2", "p"):
            body.append(f"<{kind}>{e(rest[0])}</{kind}>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{e(str(i))}</li>" for i in rest[0]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{e(h)}</th>" for h in rest[0])
            cells = "".join(
                "<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rest[1]
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
        elif kind == "img":
            if embed_images:
                data = base64.b64encode(Path(rest[0]).read_bytes()).decode("ascii")
                source = f"data:image/png;base64,{data}"
            else:
                source = e(Path(rest[0]).relative_to(folder).as_posix())
            body.append(
                f'<figure><img src="{source}" alt="{e(rest[1])}">'
                f"<figcaption>{e(rest[1])}</figcaption></figure>"
            )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
