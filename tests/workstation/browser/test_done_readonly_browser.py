"""A case marked done is read-only in both reader pages until "Open case again"; the admin
page counts the reopens.

These tests have their own seeded database and server (module fixtures below), so marking
cases done here changes nothing the other browser tests look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from fracturelab.workstation.models import Reading, User
from tests.workstation.browser.conftest import screenshot
from tests.workstation.browser.harness import (
    PASSWORDS,
    LiveServer,
    Seeded,
    live_server,
    open_spine,
    reading,
    seed_database,
    spine_answer,
    wait_saved,
)

pytestmark = pytest.mark.slow

LOCKED_TEXT = "This case is marked done — Open case again to change it."


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, playwright_api: Any) -> Seeded:
    return seed_database(tmp_path_factory.mktemp("done-readonly") / "seed")


@pytest.fixture(scope="module")
def server(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(seeded.url, tmp_path_factory.mktemp("done-cache")) as running:
        yield running


def record_answer_writes(page: Any) -> list[str]:
    """Every answer save the page sends from now on (method and path)."""
    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(f"{request.method} {request.url}") if "/answers/" in request.url else None
        ),
    )
    return sent


def stored(server: LiveServer, username: str, case_id: int) -> dict[str, Any]:
    """The reading as stored, less the reading time (the page reports it every 15 s)."""
    row = reading(server, username, case_id)
    assert row is not None
    return {key: value for key, value in row.items() if key != "time_spent_s"}


def reopen_count(server: LiveServer, username: str, case_id: int) -> int:
    with server.database.session() as session:
        return int(
            session.scalars(
                select(Reading.reopen_count)
                .join(User, User.id == Reading.reader_id)
                .where(User.username == username, Reading.case_id == case_id)
            ).one()
        )


def assert_locked(page: Any) -> None:
    page.wait_for_selector("body[data-case-status='done'][data-locked='true']")
    notice = page.locator("#done-lock")
    assert notice.is_visible()
    assert " ".join(notice.text_content().split()) == LOCKED_TEXT


def test_spine_case_marked_done_takes_no_changes_until_opened_again(
    new_page: Any, server: LiveServer, seeded: Seeded
) -> None:
    case_id = seeded.spine_ids["case1"]
    page = new_page("alice")
    open_spine(page, case_id)
    assert page.locator("#done-lock").is_hidden()
    page.click('#levels [data-level="L1"]')
    page.keyboard.press("2")
    page.keyboard.press("w")
    wait_saved(page)
    assert reading(server, "alice", case_id)["answers"]["L1"] == spine_answer(2, "wedge")

    page.click("#done")
    assert_locked(page)
    before = stored(server, "alice", case_id)
    assert before["status"] == "done"
    for control in ("#grade-0", "#grade-3", "#morph-crush", "#not-assessable", "#accept",
                    "#clear-answer", "#accept-all"):  # fmt: skip
        assert page.locator(control).is_disabled(), control

    sent = record_answer_writes(page)
    # Keys on the selected level, on another one, and the accept keys.
    for key in ("3", "c", "x", "Backspace", "a", "Shift+A"):
        page.keyboard.press(key)
    page.click('#levels [data-level="L2"]')  # choosing a level still works
    assert page.evaluate("() => window.fracturelabViewer.selected") == "L2"
    for key in ("1", "b"):
        page.keyboard.press(key)
    # Clicks on the (disabled) choices.
    page.click('label[for="grade-3"]', force=True)
    page.click('label[for="morph-biconcave"]', force=True)
    page.click("#accept-all", force=True)
    page.wait_for_selector(f".banner.info:has-text('{LOCKED_TEXT}')")
    page.wait_for_timeout(300)  # time for a (wrong) save to be sent
    assert sent == []
    assert stored(server, "alice", case_id) == before
    assert page.locator('#levels [data-level="L1"]').get_attribute("data-grade") == "2"
    assert page.locator('#levels [data-level="L2"]').get_attribute("data-grade") in ("", None)
    assert page.locator("#status").get_attribute("data-state") != "error"
    screenshot(page, "spine-done-locked")

    page.click("#reopen-case")
    page.wait_for_selector("body[data-case-status='open'][data-locked='false']")
    assert page.locator("#done-lock").is_hidden()
    assert reopen_count(server, "alice", case_id) == 1
    page.click('#levels [data-level="L1"]')
    page.keyboard.press("3")
    page.keyboard.press("c")
    wait_saved(page)
    after = reading(server, "alice", case_id)
    assert after["status"] == "open"
    assert after["answers"]["L1"] == spine_answer(3, "crush")
    assert sent  # saved again once the case is open


def test_femur_case_marked_done_takes_no_changes_until_opened_again(
    new_page: Any, server: LiveServer, seeded: Seeded
) -> None:
    case_id = seeded.femur_id
    page = new_page("alice")
    page.goto(f"/cases/{case_id}")
    page.wait_for_selector("body[data-viewer-ready='true']")
    box = page.locator("#xray").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.keyboard.press("1")
    wait_saved(page)
    page.keyboard.press("d")
    assert_locked(page)
    before = stored(server, "alice", case_id)
    assert before["answers"]["fracture"]["label"] == "AFF"
    for control in ("#label-AFF", "#label-NFF", "#not-assessable", "#accept", "#clear-centre"):
        assert page.locator(control).is_disabled(), control

    sent = record_answer_writes(page)
    page.mouse.click(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.6)
    for key in ("2", "x", "a", "Backspace"):
        page.keyboard.press(key)
    page.click('label[for="label-NFF"]', force=True)
    page.wait_for_selector(f".banner.info:has-text('{LOCKED_TEXT}')")
    page.wait_for_timeout(300)
    assert sent == []
    assert stored(server, "alice", case_id) == before
    assert page.evaluate("() => window.fracturelabFemur.answer") == before["answers"]["fracture"]

    page.click("#reopen-case")
    page.wait_for_selector("body[data-case-status='open'][data-locked='false']")
    page.keyboard.press("2")
    wait_saved(page)
    assert reading(server, "alice", case_id)["answers"]["fracture"]["label"] == "NFF"
    assert reopen_count(server, "alice", case_id) == 1

    # Marked done elsewhere (another tab): the next change is refused (409), the page
    # reloads the case, says so and becomes read-only; nothing is left to retry.
    csrf = page.request.get("/api/me").json()["csrf_token"]
    done = page.request.post(
        f"/api/cases/{case_id}/status", data={"done": True}, headers={"X-CSRF-Token": csrf}
    )
    assert done.ok
    marked = stored(server, "alice", case_id)
    page.keyboard.press("1")
    assert_locked(page)
    page.wait_for_selector(".banner.warning:has-text('marked done in another tab/window')")
    page.wait_for_selector("#status:has-text('Not saved: the case is marked done')")
    assert stored(server, "alice", case_id) == marked
    assert page.evaluate("() => window.fracturelabFemur.answer.label") == "NFF"


def test_admin_sees_how_often_each_reading_was_opened_again(
    new_page: Any, server: LiveServer, seeded: Seeded, playwright_api: Any
) -> None:
    case_id = seeded.spine_ids["case1"]
    # bob marks his reading of case1 done and opens it again, once, through the API.
    bob = playwright_api.request.new_context(base_url=server.base_url)
    try:
        me = bob.post("/api/login", data={"username": "bob", "password": PASSWORDS["bob"]})
        csrf = {"X-CSRF-Token": me.json()["csrf_token"]}
        for done in (True, False):
            answer = bob.post(f"/api/cases/{case_id}/status", data={"done": done}, headers=csrf)
            assert answer.ok, answer.text()
    finally:
        bob.dispose()
    assert reopen_count(server, "bob", case_id) == 1

    page = new_page("admin")
    page.goto("/admin")
    page.wait_for_selector("body[data-ready='true']")
    progress = page.request.get("/api/admin/progress").json()
    expected = {
        (entry["case_id"], r["username"]): r["reopen_count"]
        for entry in progress["cases"]
        for r in entry["readings"]
    }
    assert expected[(case_id, "bob")] == 1
    shown = page.locator("#cases-body tr[data-reader]:not([data-reader=''])").evaluate_all(
        """(rows) => rows.map((row) => {
            const cell = row.querySelector('td[data-reopen-count]');
            return [Number(row.dataset.caseId), row.dataset.reader, Number(cell.textContent),
                    cell.classList.contains('reopened')];
        })"""
    )
    assert {(c, r): n for c, r, n, _ in shown} == expected
    for _, _, count, highlighted in shown:
        assert highlighted == (count > 0)
    bob_cell = page.locator(f'#cases-body tr[data-case-id="{case_id}"][data-reader="bob"] '
                            "td[data-reopen-count]")  # fmt: skip
    assert bob_cell.text_content() == "1"
    reading_id = progress_reading_id(progress, case_id, "bob")
    detail = page.request.get(f"/api/admin/readings/{reading_id}").json()
    assert detail["reopen_count"] == 1
    page.locator(f'#cases-body tr[data-case-id="{case_id}"][data-reader="bob"] '
                 "button.view-reading").click()  # fmt: skip
    page.wait_for_selector("#reading-title:has-text('opened again 1 × after done')")
    screenshot(page, "admin-reopened")


def progress_reading_id(progress: dict[str, Any], case_id: int, username: str) -> int:
    entry = next(c for c in progress["cases"] if c["case_id"] == case_id)
    return int(next(r["reading_id"] for r in entry["readings"] if r["username"] == username))
