"""Accounts in a real browser: an admin creates and deactivates an account, a user changes
their own password; checked against the database and by logging in."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from fracturelab.workstation.models import AuditEvent, User, WebSession
from tests.workstation.browser.conftest import screenshot
from tests.workstation.browser.harness import LiveServer

pytestmark = pytest.mark.slow


def log_in(page: Any, username: str, password: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-button")


def log_in_fails(page: Any, username: str, password: str) -> None:
    log_in(page, username, password)
    page.wait_for_selector("#login-error:not(:empty)")
    assert "/login" in page.url


def account(server: LiveServer, username: str) -> dict[str, Any] | None:
    """The account as stored: role, state, open sessions and its audited account actions."""
    with server.database.session() as session:
        user = session.scalars(select(User).where(User.username == username)).one_or_none()
        if user is None:
            return None
        sessions = session.scalars(select(WebSession).where(WebSession.user_id == user.id)).all()
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.in_(["user_add", "user_deactivate", "password_change"]))
            .order_by(AuditEvent.id)
        ).all()
        audit = [e.action for e in events if (e.new or {}).get("username") == username]
        return {"role": user.role, "active": user.active, "sessions": len(sessions),
                "audit": audit}  # fmt: skip


def test_admin_creates_an_account_and_deactivates_it(new_page: Any, server: LiveServer) -> None:
    admin = new_page("admin")
    admin.goto("/admin")
    admin.wait_for_selector("body[data-ready='true']")
    admin.fill("#new-username", "carol")
    admin.select_option("#new-role", "reader")
    admin.fill("#new-account-password", "carol-first-pw")
    admin.click("#create-account")
    admin.wait_for_selector("#account-result:has-text('Created reader carol')")
    row = admin.locator('#accounts-body tr[data-username="carol"]')
    assert row.get_attribute("data-active") == "true"
    # the new reader can be assigned cases straight away
    admin.locator('#reader-choices input[data-reader="carol"]').wait_for()
    assert account(server, "carol") == {
        "role": "reader", "active": True, "sessions": 0, "audit": ["user_add"]
    }  # fmt: skip

    carol = new_page(None)
    log_in(carol, "carol", "carol-first-pw")
    carol.wait_for_selector("body[data-ready='true']")
    assert carol.locator("#who").text_content() == "carol (reader)"
    assert account(server, "carol")["sessions"] == 1  # type: ignore[index]

    # A password that breaks the rule is refused with the server's one line.
    admin.fill("#new-username", "dave")
    admin.fill("#new-account-password", "short")
    admin.click("#create-account")
    admin.wait_for_selector("#account-result:has-text('too short')")
    assert account(server, "dave") is None

    admin.reload()
    admin.wait_for_selector("body[data-ready='true']")
    row = admin.locator('#accounts-body tr[data-username="carol"]')
    assert row.locator("td").nth(3).text_content() == "1"  # carol's open session
    row.locator("button.deactivate").click()
    row.locator("button.confirm").click()
    admin.wait_for_selector('#accounts-body tr[data-username="carol"][data-active="false"]')
    admin.wait_for_selector(".banner.info:has-text('carol is deactivated')")
    screenshot(admin, "admin-accounts")
    assert account(server, "carol") == {
        "role": "reader", "active": False, "sessions": 0, "audit": ["user_add", "user_deactivate"]
    }  # fmt: skip

    # carol's open page loses its session: the next request sends her to the login page.
    carol.reload()
    carol.wait_for_url("**/login?next=*")
    log_in_fails(carol, "carol", "carol-first-pw")


def test_generated_password_is_shown_once_and_works(new_page: Any, server: LiveServer) -> None:
    admin = new_page("admin")
    admin.goto("/admin")
    admin.wait_for_selector("body[data-ready='true']")
    admin.fill("#new-username", "erin")
    admin.click("#create-account")
    secret = admin.locator('#generated-password[data-username="erin"]')
    secret.wait_for()
    password = secret.text_content()
    assert password and len(password) >= 8
    erin = new_page(None)
    log_in(erin, "erin", password)
    erin.wait_for_selector("body[data-ready='true']")
    admin.reload()
    admin.wait_for_selector("body[data-ready='true']")
    assert admin.locator("#generated-password").count() == 0  # not shown again


def test_a_user_changes_their_password_and_logs_in_with_it(
    new_page: Any, server: LiveServer, playwright_api: Any
) -> None:
    # A user of this test only, so that the shared readers keep their passwords.
    api = playwright_api.request.new_context(base_url=server.base_url)
    try:
        me = api.post("/api/login", data={"username": "admin", "password": "admin-password"})
        made = api.post(
            "/api/admin/accounts",
            data={"username": "frank", "role": "reader", "password": "frank-old-pw"},
            headers={"X-CSRF-Token": me.json()["csrf_token"]},
        )
        assert made.status == 201, made.text()
    finally:
        api.dispose()
    other_browser = new_page(None)
    log_in(other_browser, "frank", "frank-old-pw")
    other_browser.wait_for_selector("body[data-ready='true']")

    page = new_page(None)
    log_in(page, "frank", "frank-old-pw")
    page.wait_for_selector("body[data-ready='true']")
    page.click("#change-password")
    page.fill("#current-password", "not-my-password")
    page.fill("#new-password", "frank-new-pw")
    page.fill("#repeat-password", "frank-new-pw")
    page.click("#password-save")
    page.wait_for_selector("#password-message:has-text('current password is wrong')")
    page.fill("#current-password", "frank-old-pw")
    page.fill("#repeat-password", "frank-typo-pw")
    page.click("#password-save")
    page.wait_for_selector("#password-message:has-text('differ')")
    page.fill("#repeat-password", "frank-new-pw")
    page.click("#password-save")
    page.wait_for_selector("#password-dialog", state="hidden")
    page.wait_for_selector(".banner.info:has-text('password was changed')")
    assert account(server, "frank")["audit"] == ["user_add", "password_change"]  # type: ignore[index]

    # This browser stays logged in; the other one is logged out.
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    other_browser.reload()
    other_browser.wait_for_url("**/login?next=*")

    page.click("#logout")
    page.wait_for_url("**/login")
    log_in_fails(page, "frank", "frank-old-pw")
    log_in(page, "frank", "frank-new-pw")
    page.wait_for_selector("body[data-ready='true']")
    assert page.locator("#who").text_content() == "frank (reader)"
