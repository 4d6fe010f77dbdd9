"""Report blocks rendered as Markdown and HTML."""

from __future__ import annotations

from pathlib import Path

from fracturelab.document import to_html, to_markdown

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


def _blocks(folder: Path) -> list[tuple]:
    (folder / "figures").mkdir()
    (folder / "figures" / "roc.png").write_bytes(PNG)
    return [
        ("h1", "Title"),
        ("p", "AUC <0.9 & more"),
        ("ul", ["one", 2]),
        ("table", ["a", "b"], [[1, "x|y"]]),
        ("img", folder / "figures" / "roc.png", "ROC"),
    ]


def test_markdown(tmp_path: Path) -> None:
    text = to_markdown(_blocks(tmp_path), tmp_path)
    assert text == (
        "# Title\n\nAUC <0.9 & more\n\n- one\n- 2\n\n| a | b |\n|---|---|\n| 1 | x|y |\n\n"
        "![ROC](figures/roc.png)\n"
    )


def test_html_links_or_embeds_figures_and_escapes_text(tmp_path: Path) -> None:
    blocks = _blocks(tmp_path)
    linked = to_html(blocks, tmp_path, "R & D")
    assert "<title>R &amp; D</title>" in linked
    assert "<p>AUC &lt;0.9 &amp; more</p>" in linked
    assert '<img src="figures/roc.png" alt="ROC">' in linked
    embedded = to_html(blocks, tmp_path, "R", embed_images=True)
    assert '<img src="data:image/png;base64,iVBORw0KGgoAAAAAAAAAAA==" alt="ROC">' in embedded
