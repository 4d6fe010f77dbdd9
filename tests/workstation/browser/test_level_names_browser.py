"""Level names drawn on the spine image: one per vertebra the slice cuts, next to it, in order."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workstation.browser.conftest import screenshot
from tests.workstation.browser.harness import Seeded

pytestmark = pytest.mark.slow

TAGS = """() => Array.from(document.querySelectorAll('#level-tags .level-tag')).map((tag) => ({
    level: tag.dataset.level,
    text: tag.textContent,
    tile: Number(tag.dataset.tile),
    x: Number(tag.dataset.x),
    y: Number(tag.dataset.y),
    box: (() => { const r = tag.querySelector('.name').getBoundingClientRect();
                  return [r.left, r.top, r.width, r.height]; })(),
}))"""


def canvas_box(page: Any) -> dict[str, float]:
    box = page.locator("#gl").bounding_box()
    assert box is not None
    return box


def projected_css(page: Any, mm: list[float]) -> tuple[float, float]:
    """Where NiiVue itself draws a world (RAS mm) point moved onto the sagittal slice shown
    (its left-right coordinate replaced by the crosshair's), in CSS pixels of the canvas."""
    return tuple(  # type: ignore[return-value]
        page.evaluate(
            """(mm) => {
                const nv = window.fracturelabViewer.nv;
                const onSlice = [nv.frac2mm(nv.scene.crosshairPos)[0], mm[1], mm[2]];
                const pos = nv.frac2canvasPos(nv.mm2frac(onSlice));
                const css = nv.canvas.clientWidth / nv.canvas.width;
                return pos ? [pos[0] * css, pos[1] * css] : null;
            }""",
            mm,
        )
    )


def test_level_names_are_drawn_next_to_their_vertebrae(new_page: Any, seeded: Seeded) -> None:
    page = new_page("bob")
    page.goto(f"/cases/{seeded.spine_ids['case1']}")
    page.wait_for_selector("body[data-viewer-ready='true']")
    page.wait_for_selector("#level-tags[data-count]")
    tags = page.evaluate(TAGS)
    # Sagittal view through the spine: every level of the case, once.
    assert sorted(t["level"] for t in tags) == sorted(seeded.spine_levels)
    assert all(t["text"] == t["level"] and t["tile"] == 2 for t in tags)
    # Ordered along the spine as the phantom's vertebrae are: cranial first, top of the image.
    by_height = [t["level"] for t in sorted(tags, key=lambda t: t["y"])]
    assert by_height == seeded.spine_levels
    # Each name points at its own vertebra: at the height of the phantom's body centre
    # (ground truth, LPS mm), and a click on its anchor lands in that vertebra's label.
    box = canvas_box(page)
    truth = {v["level"]: v for v in seeded.spine_truth["vertebrae"]}
    for tag in tags:
        x, y, z = truth[tag["level"]]["body_center_mm"]
        _, expected_y = projected_css(page, [-x, -y, z])
        px_per_mm = page.evaluate(
            "() => { const nv = window.fracturelabViewer.nv; const t = nv.screenSlices[0];"
            " return Math.abs(t.leftTopWidthHeight[3]) / t.fovMM[1]"
            " * nv.canvas.clientWidth / nv.canvas.width; }"
        )
        assert abs(tag["y"] - expected_y) < 6 * px_per_mm, (tag, expected_y)
        # the name itself sits beside the anchor (to its left), not on top of the vertebra
        left, top, width, height = tag["box"]
        assert left + width <= box["x"] + tag["x"] and top <= box["y"] + tag["y"] <= top + height
    for tag in tags:
        page.mouse.click(box["x"] + tag["x"], box["y"] + tag["y"])
        assert page.locator("#loc-label").text_content() == tag["level"]
    screenshot(page, "spine-level-names")

    # Axial view: only the vertebra the slice cuts is named, the one under the crosshair.
    page.click("#view-axial")
    page.wait_for_timeout(200)
    axial = page.evaluate(TAGS)
    assert [t["level"] for t in axial] == [page.locator("#loc-label").text_content()]
    assert axial[0]["tile"] == 0

    # The names can be switched off.
    page.click("#view-sagittal")
    page.uncheck("#level-names")
    page.wait_for_timeout(100)
    assert page.evaluate(TAGS) == []
