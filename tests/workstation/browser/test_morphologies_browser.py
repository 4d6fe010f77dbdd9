"""The spine view's morphology choices come from the server, declared once in Python.

``pages.render_page`` writes ``fracturelab.workstation.models.MORPHOLOGIES`` into spine.html
(``body[data-morphologies]``); the view builds its radio buttons, keys and help from it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from fracturelab.workstation.models import MORPHOLOGIES
from fracturelab.workstation.server.pages import STATIC_DIR, render_page
from tests.workstation.browser.harness import Seeded

#: The radio buttons of the morphology field, in order: [id, value, label text].
CHOICES = """() => [...document.querySelectorAll('#morph-choices input')].map((input) =>
  [input.id, input.value, document.querySelector(`label[for="${input.id}"]`).textContent])"""


def test_spine_page_carries_the_morphologies() -> None:
    body = re.search(r"<body [^>]*>", render_page("spine.html"))
    assert body is not None
    attribute = re.search(r'data-morphologies="([^"]*)"', body.group(0))
    assert attribute is not None
    assert json.loads(attribute.group(1).replace("&quot;", '"')) == list(MORPHOLOGIES)


def test_front_end_has_no_copy_of_the_morphologies() -> None:
    copies = [
        path.name
        for path in sorted(STATIC_DIR.glob("*.*"))
        if path.suffix in (".js", ".html") and "biconcave" in path.read_text(encoding="utf-8")
    ]
    assert copies == []


@pytest.mark.slow
def test_spine_form_is_built_from_the_served_morphologies(new_page: Any, seeded: Seeded) -> None:
    page = new_page("alice")
    case = f"/cases/{seeded.spine_ids['case1']}"
    page.goto(case)
    page.wait_for_selector("body[data-viewer-ready='true']")
    expected = [
        [f"morph-{name}", name, name if name == "normal" else f"{name} {name[0].upper()}"]
        for name in MORPHOLOGIES
    ]
    assert page.evaluate(CHOICES) == expected

    # A list the server did not send before: the form, the keys and the help follow it.
    served = json.dumps([*MORPHOLOGIES, "zigzag"]).replace('"', "&quot;")

    def with_zigzag(route: Any) -> None:
        response = route.fetch()
        body = re.sub(
            r'data-morphologies="[^"]*"',
            f'data-morphologies="{served}"',
            response.text(),
        )
        route.fulfill(response=response, body=body)

    page.route(f"**{case}", with_zigzag)
    page.goto(case)
    page.wait_for_selector("body[data-viewer-ready='true']")
    assert page.evaluate(CHOICES) == [*expected, ["morph-zigzag", "zigzag", "zigzag Z"]]
    keys = page.locator("#help tbody tr").nth(1).evaluate("(row) => row.cells[0].textContent")
    assert keys == "W B C Z"
