"""The reader shell (reader.js): one key map per view drives both the keys and the help table.

The expected rows are the help tables the pages had written out by hand before the shell
generated them, so a key added to the map without its help (or the reverse) shows here.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.workstation.browser.harness import Seeded

pytestmark = pytest.mark.slow

#: (keys, what they do) per row, as the pages' hand-written help tables had them.
SPINE_HELP = [
    (
        "<kbd>0</kbd> <kbd>1</kbd> <kbd>2</kbd> <kbd>3</kbd>",
        "Genant grade of the selected vertebra (0 also sets morphology normal)",
    ),
    ("<kbd>W</kbd> <kbd>B</kbd> <kbd>C</kbd>", "Morphology wedge / biconcave / crush"),
    ("<kbd>X</kbd>", "Not assessable on / off"),
    ("<kbd>A</kbd>", "Accept the suggestion for the selected vertebra"),
    ("<kbd>Shift</kbd>+<kbd>A</kbd>", "Accept all suggestions not yet answered"),
    ("<kbd>Backspace</kbd>", "Clear the selected vertebra's answer"),
    ("<kbd>N</kbd> / <kbd>↓</kbd>", "Next vertebra (caudal)"),
    ("<kbd>P</kbd> / <kbd>↑</kbd>", "Previous vertebra (cranial)"),
    ("<kbd>V</kbd>", "Next view: sagittal, axial, coronal, multiplanar"),
    ("<kbd>]</kbd> / <kbd>[</kbd>", "Next / previous case"),
    ("<kbd>D</kbd>", "Mark the case done (again: open it again)"),
    ("<kbd>?</kbd>", "Show / hide this help"),
    (
        "Mouse",
        "Left-click: move the crosshair and select the vertebra under it. Wheel: scroll "
        "slices. Right-drag or Shift+drag: window (left-right) and level (up-down). "
        "Middle-drag or Ctrl+drag: pan.",
    ),
]
FEMUR_HELP = [
    ("Click", "Place or move the fracture centre (a click without dragging)"),
    ("<kbd>1</kbd> / <kbd>2</kbd>", "Atypical (AFF) / normal (NFF) femur fracture"),
    ("<kbd>X</kbd>", "Not assessable on / off"),
    ("<kbd>A</kbd>", "Accept the suggestion (centre and type)"),
    ("<kbd>Backspace</kbd>", "Remove the centre"),
    ("<kbd>+</kbd> / <kbd>−</kbd>", "Zoom in / out (or the mouse wheel)"),
    ("<kbd>F</kbd>", "Fit the image to the window"),
    ("<kbd>I</kbd>", "Invert grey levels"),
    ("<kbd>]</kbd> / <kbd>[</kbd>", "Next / previous case"),
    ("<kbd>D</kbd>", "Mark the case done (again: open it again)"),
    ("<kbd>?</kbd>", "Show / hide this help"),
    ("Mouse", "Drag: pan. Right-drag or Shift+drag: window (left-right) and level (up-down)."),
]

ROWS = "(rows) => rows.map((row) => [row.cells[0].innerHTML, row.cells[1].innerHTML])"


def _open(page: Any, case_id: int) -> None:
    page.goto(f"/cases/{case_id}")
    page.wait_for_selector("body[data-viewer-ready='true']")


def _toggle_help(page: Any, shown: bool) -> None:
    page.keyboard.press("?")
    page.wait_for_selector("#help", state="visible" if shown else "hidden")


def test_spine_help_table_comes_from_the_key_map(new_page: Any, seeded: Seeded) -> None:
    page = new_page("alice")
    _open(page, seeded.spine_ids["case1"])
    assert page.locator("#help tbody tr").evaluate_all(ROWS) == [list(r) for r in SPINE_HELP]
    _toggle_help(page, True)
    page.keyboard.press("v")  # the view's keys rest while the help is open
    assert page.evaluate("() => document.body.dataset.view") == "sagittal"
    _toggle_help(page, False)
    page.keyboard.press("v")
    assert page.evaluate("() => document.body.dataset.view") == "axial"


def test_femur_help_table_comes_from_the_key_map(new_page: Any, seeded: Seeded) -> None:
    page = new_page("alice")
    _open(page, seeded.femur_id)
    assert page.locator("#help tbody tr").evaluate_all(ROWS) == [list(r) for r in FEMUR_HELP]
    _toggle_help(page, True)
    _toggle_help(page, False)
    page.keyboard.press("i")
    page.wait_for_selector("#invert[aria-pressed='true']")  # redrawn on the next frame
    zoom = page.text_content("#zoom-readout")
    page.keyboard.press("+")
    for _ in range(100):
        if page.text_content("#zoom-readout") != zoom:
            break
        page.wait_for_timeout(50)
    else:
        pytest.fail(f"+ did not zoom in (still {zoom})")
