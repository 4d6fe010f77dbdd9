"""Take the README screenshots of the labelling workstation.

Seeds a throw-away database with synthetic cases (a spine phantom with two fractures, an
atypical femur fracture), serves it on loopback, drives Debian's chromium with Playwright and
writes ``docs/images/workstation-spine.png`` (level names beside the vertebrae),
``docs/images/workstation-femur.png`` (1400 x 850) and ``docs/images/workstation-accounts.png``
(the admin page's Accounts section), each reduced to 256 colours to stay small. Run from the
repository root::

    .venv/bin/python scripts/workstation_screenshots.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the seed and server helpers live with the browser tests

from tests.workstation.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT  # noqa: E402
from tests.workstation.browser.harness import (  # noqa: E402
    PASSWORDS,
    Seeded,
    live_server,
    seed_database,
)


def _true_centre(seeded: Seeded) -> tuple[float, float]:
    """The femur phantom's fracture centre (original pixels) from its manifest."""
    with seeded.files["manifest"].open(newline="") as handle:
        row = next(csv.DictReader(handle))
    return float(row["center_x"]), float(row["center_y"])


def _set_femur_suggestion(seeded: Seeded, centre: tuple[float, float]) -> None:
    """A plausible model suggestion a little off the true centre."""
    from fracturelab.workstation.db import Database
    from fracturelab.workstation.models import Case

    database = Database(seeded.url)
    with database.transaction() as session:
        case = session.get(Case, seeded.femur_id)
        case.suggestion = {
            "center_x": round(centre[0] + 46.0, 1),
            "center_y": round(centre[1] - 38.0, 1),
            "label": "AFF",
            "p_aff": 0.87,
        }
    database.dispose()


def _login(page: Any, base_url: str, user: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORDS[user])
    page.click("#login-button")
    page.wait_for_selector("body[data-ready='true']")


def _save(page: Any, path: Path, element: str | None = None) -> None:
    """Screenshot the page (or one element), stored as a 256-colour PNG (a third the size)."""
    from PIL import Image

    target = page.locator(element) if element else page
    target.screenshot(path=str(path))
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def _accounts(page: Any, base_url: str) -> None:
    """The admin page's Accounts section after creating an account with a generated password."""
    _login(page, base_url, "admin")
    page.goto(f"{base_url}/admin")
    page.wait_for_selector("body[data-ready='true']")
    page.fill("#new-username", "carol")
    page.click("#create-account")
    page.wait_for_selector("#generated-password")
    page.fill("#new-username", "")
    page.locator("#accounts-heading").scroll_into_view_if_needed()
    page.wait_for_timeout(200)


def main() -> int:
    """Seed, serve, drive the browser and write the three screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    if not CHROMIUM.is_file():
        print(f"error: {CHROMIUM} is missing; install chromium first", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fracturelab-shots-") as folder:
        root = Path(folder)
        seeded = seed_database(
            root / "seed",
            levels="T10-L3",
            fractures="T12:2:wedge,L1:3:crush",
            fov_mm=None,
            femur_aff=True,
        )
        centre = _true_centre(seeded)
        _set_femur_suggestion(seeded, centre)
        with live_server(seeded.url, root / "cache") as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            _login(page, server.base_url, "alice")

            page.goto(f"{server.base_url}/cases/{seeded.spine_ids['case1']}")
            page.wait_for_selector("body[data-viewer-ready='true']")
            # Accept the suggestions, then correct one level and leave L2 open.
            page.keyboard.press("Shift+A")
            page.click('#levels [data-level="L2"]')
            page.keyboard.press("Backspace")
            page.click('#levels [data-level="L1"]')
            page.keyboard.press("3")
            page.keyboard.press("c")
            page.evaluate("() => window.fracturelabViewer.drain()")
            page.wait_for_selector("#status[data-state='saved']")
            page.evaluate("() => document.getElementById('banners')?.replaceChildren()")
            page.wait_for_selector("#level-tags:not([data-count='0'])[data-count]")
            page.wait_for_timeout(300)
            spine = args.out / "workstation-spine.png"
            _save(page, spine)

            page.goto(f"{server.base_url}/cases/{seeded.femur_id}")
            page.wait_for_selector("body[data-viewer-ready='true']")
            page.click("#window-auto")
            # Zoom in around the fracture, then mark its centre and type.
            target = page.evaluate(
                "([x, y]) => window.fracturelabFemur.originalToScreen(x, y)", list(centre)
            )
            box = page.locator("#xray").bounding_box()
            page.mouse.move(box["x"] + target[0], box["y"] + target[1])
            for _ in range(3):
                page.mouse.wheel(0, -250)
                page.wait_for_timeout(50)
            target = page.evaluate(
                "([x, y]) => window.fracturelabFemur.originalToScreen(x, y)", list(centre)
            )
            page.mouse.click(box["x"] + target[0], box["y"] + target[1])
            page.keyboard.press("1")
            page.evaluate("() => window.fracturelabFemur.drain()")
            page.wait_for_selector("#status[data-state='saved']")
            page.mouse.move(box["x"] + 40, box["y"] + box["height"] - 40)
            page.wait_for_timeout(300)
            femur = args.out / "workstation-femur.png"
            _save(page, femur)

            admin = browser.new_page(viewport=VIEWPORT)
            _accounts(admin, server.base_url)
            accounts = args.out / "workstation-accounts.png"
            _save(admin, accounts, "section[aria-labelledby='accounts-heading']")
            browser.close()
    print(f"wrote {spine}, {femur} and {accounts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
