"""Browser tests: the real server on loopback, Debian's chromium driven by Playwright.

Skipped when ``/usr/bin/chromium`` (or the ``playwright`` package) is missing, unless
``FRACTURELAB_REQUIRE_BROWSER=1``, which turns the skip into a failure (for CI machines that
must run them). Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workstation.browser.harness import (
    PASSWORDS,
    LiveServer,
    Seeded,
    live_server,
    seed_database,
)

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_ENV = "FRACTURELAB_REQUIRE_BROWSER"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-gl=angle",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1400, "height": 850}


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}, but {REQUIRE_ENV}=1 requires the browser tests")
    pytest.skip(f"{reason}; install chromium (apt-get install chromium) to run the browser tests")


@pytest.fixture(scope="session")
def playwright_api() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_api: Any) -> Iterator[Any]:
    browser = playwright_api.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory, playwright_api: Any) -> Seeded:
    return seed_database(tmp_path_factory.mktemp("workstation") / "seed")


@pytest.fixture(scope="session")
def server(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(seeded.url, tmp_path_factory.mktemp("image-cache")) as running:
        yield running


@pytest.fixture
def new_page(browser: Any, server: LiveServer) -> Iterator[Callable[..., Any]]:
    """Open pages in fresh browser contexts (own cookies); fail on uncaught page errors.

    ``new_page(user)`` logs ``user`` in through the login form first; ``new_page(None)``
    stays anonymous.
    """
    contexts = []
    errors: list[str] = []

    def open_page(user: str | None = "alice") -> Any:
        context = browser.new_context(viewport=VIEWPORT, base_url=server.base_url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
        page.on(
            "console",
            lambda message: (
                errors.append(f"console: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        if user is not None:
            login(page, user)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, "the pages raised errors:\n" + "\n".join(errors)


def login(page: Any, user: str) -> None:
    """Log in through the form and wait for the worklist."""
    page.goto("/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORDS[user])
    page.click("#login-button")
    page.wait_for_selector("body[data-ready='true']")


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
