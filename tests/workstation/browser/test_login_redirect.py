"""The login page never sends a browser to another site, whatever ``next`` says."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlparse

import pytest

from tests.workstation.browser.harness import PASSWORDS, LiveServer

pytestmark = pytest.mark.slow

# Each of these once led, or could lead, a browser off the server after logging in: the
# browser strips tabs and newlines from URLs and reads "\" as "/", so "/\t/evil" is "//evil".
MALICIOUS_NEXT = [
    "/\t/evil.invalid/",
    "/\n/evil.invalid/",
    "/\r\n/evil.invalid/",
    "//evil.invalid/",
    "/\\evil.invalid/",
    "/./\t/evil.invalid/",
    "/.//evil.invalid/",
    "https://evil.invalid/",
    "javascript:alert(1)",
]


def _on_server(page: Any, server: LiveServer) -> bool:
    return urlparse(page.url).netloc == urlparse(server.base_url).netloc


@pytest.mark.parametrize("target", MALICIOUS_NEXT)
def test_logging_in_with_a_foreign_next_stays_on_the_server(
    new_page: Callable[..., Any], server: LiveServer, target: str
) -> None:
    page = new_page(None)
    page.goto(f"/login?next={quote(target, safe='')}")
    page.fill("#username", "alice")
    page.fill("#password", PASSWORDS["alice"])
    with page.expect_navigation():
        page.click("#login-button")
    page.wait_for_load_state()
    assert _on_server(page, server), page.url


@pytest.mark.parametrize("target", MALICIOUS_NEXT[:3])
def test_an_open_session_with_a_foreign_next_stays_on_the_server(
    new_page: Callable[..., Any], server: LiveServer, target: str
) -> None:
    page = new_page("alice")  # logged in: the login page forwards at once
    page.goto(f"/login?next={quote(target, safe='')}")
    page.wait_for_url(lambda url: "/login" not in url)
    page.wait_for_load_state()
    assert _on_server(page, server), page.url


def test_a_next_on_the_server_is_followed(new_page: Callable[..., Any], server: LiveServer) -> None:
    page = new_page(None)
    page.goto(f"/login?next={quote('/admin?tab=1', safe='')}")
    login_page_url = page.url
    page.fill("#username", "admin")
    page.fill("#password", PASSWORDS["admin"])
    with page.expect_navigation():
        page.click("#login-button")
    page.wait_for_selector("body[data-ready='true']")
    assert _on_server(page, server) and page.url != login_page_url
    assert urlparse(page.url).path == "/admin" and urlparse(page.url).query == "tab=1"
