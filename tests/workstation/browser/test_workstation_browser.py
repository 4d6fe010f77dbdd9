"""The workstation in a real browser: login, NiiVue spine reading, femur centre marking,
worklist and admin, checked against the database and the exports.

The tests share one seeded database and server; each checks only what it changed itself
(its own case or reader), so their order does not matter.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from fracturelab.workstation.exporter import export_femur, export_spine
from fracturelab.workstation.models import AppSetting, Assignment, Case, User
from tests.workstation.browser.conftest import screenshot
from tests.workstation.browser.harness import (
    LiveServer,
    Seeded,
    open_spine,
    reading,
    spine_answer,
    wait_saved,
)

pytestmark = pytest.mark.slow


# ----------------------------------------------------------------------------- helpers


def suggestion(server: LiveServer, case_id: int) -> dict[str, Any]:
    with server.database.session() as session:
        value = session.get(Case, case_id).suggestion
    assert value, f"case {case_id} has no suggestion"
    return value


HIDE_PAGE = """() => {
    Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
    document.dispatchEvent(new Event('visibilitychange'));
}"""


def wait_until(page: Any, predicate: str, timeout_s: float = 10.0) -> None:
    """Poll a JavaScript predicate (page.wait_for_function would need eval, which the
    workstation's Content Security Policy rightly forbids)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        page.wait_for_timeout(50)


def canvas_point_of_mm(page: Any, mm: list[float]) -> tuple[float, float]:
    """Page coordinates of a world (RAS mm) point on the NiiVue canvas."""
    position = page.evaluate(
        """(mm) => {
            const nv = window.fracturelabViewer.nv;
            const pos = nv.frac2canvasPos(nv.mm2frac(mm));
            const dpr = window.devicePixelRatio;
            return pos ? [pos[0] / dpr, pos[1] / dpr] : null;
        }""",
        mm,
    )
    assert position is not None, f"{mm} is not on the canvas"
    box = page.locator("#gl").bounding_box()
    return box["x"] + position[0], box["y"] + position[1]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


# ----------------------------------------------------------------------------- login


def test_anonymous_visit_lands_on_login_and_login_shows_the_worklist(
    new_page: Any, server: LiveServer, seeded: Seeded
) -> None:
    page = new_page(None)
    page.goto("/")
    url = urlparse(page.url)
    assert url.path == "/login" and parse_qs(url.query)["next"] == ["/"]
    page.goto(f"/cases/{seeded.spine_ids['case1']}")
    assert parse_qs(urlparse(page.url).query)["next"] == [f"/cases/{seeded.spine_ids['case1']}"]

    page.fill("#username", "alice")
    page.fill("#password", "not-her-password")
    page.click("#login-button")
    page.wait_for_selector("#login-error:has-text('wrong user name or password')")
    assert urlparse(page.url).path == "/login"

    page.fill("#password", "alice-password")
    page.click("#login-button")
    # Back to the page asked for before the login.
    page.wait_for_url(f"**/cases/{seeded.spine_ids['case1']}")
    page.goto("/")
    page.wait_for_selector("body[data-ready='true']")
    names = page.locator("#worklist-body a.case-link").all_text_contents()
    with server.database.session() as session:
        expected = session.scalars(
            select(Case.name)
            .join(Assignment, Assignment.case_id == Case.id)
            .join(User, User.id == Assignment.reader_id)
            .where(User.username == "alice")
        ).all()
    assert sorted(names) == sorted(expected) and len(names) == 3
    assert page.locator("#admin-link").is_hidden()


# ----------------------------------------------------------------------------- spine


def test_spine_viewer_loads_ct_and_label_map(new_page: Any, seeded: Seeded) -> None:
    page = new_page("alice")
    open_spine(page, seeded.spine_ids["case1"])
    info = page.evaluate(
        """() => {
            const nv = window.fracturelabViewer.nv;
            return {
                n: nv.volumes.length,
                dims: nv.volumes.map((v) => Array.from(v.hdr.dims.slice(1, 4))),
                labelMax: nv.volumes[1].global_max,
                labelNames: nv.volumes[1].colormapLabel.labels,
                labelMin: nv.volumes[1].colormapLabel.min,
                calMin: nv.volumes[0].cal_min,
                calMax: nv.volumes[0].cal_max,
                sliceType: nv.opts.sliceType,
                sagittal: nv.sliceTypeSagittal,
            };
        }"""
    )
    assert info["n"] == 2
    assert info["dims"] == [list(seeded.spine_shape_xyz)] * 2
    assert info["labelMax"] == max(seeded.spine_labels.values())
    # Label value -> level name, as NiiVue's label colormap knows it.
    names = info["labelNames"]
    for level, label in seeded.spine_labels.items():
        assert names[label - info["labelMin"]] == level
    assert (info["calMin"], info["calMax"]) == (-500, 1500)  # bone window W2000/L500
    assert info["sliceType"] == info["sagittal"]
    levels = page.locator("#levels [data-level]").evaluate_all(
        "(items) => items.map((item) => item.dataset.level)"
    )
    assert levels == seeded.spine_levels  # cranial first

    page.click("#window-soft")
    window = page.evaluate("() => [window.fracturelabViewer.nv.volumes[0].cal_min, "
                           "window.fracturelabViewer.nv.volumes[0].cal_max]")  # fmt: skip
    assert window == [-160, 240]
    page.click("#view-axial")
    assert page.evaluate("() => window.fracturelabViewer.nv.opts.sliceType") == 0
    page.click("#view-sagittal")
    page.click("#window-bone")
    screenshot(page, "spine-view")


def test_spine_keyboard_grading_is_saved_and_survives_reload(
    new_page: Any, server: LiveServer, seeded: Seeded
) -> None:
    case_id = seeded.spine_ids["case1"]
    page = new_page("alice")
    open_spine(page, case_id)
    case = page.request.get(f"/api/cases/{case_id}").json()
    centroids = {entry["level"]: entry["centroid_ras_mm"] for entry in case["levels"]}

    # The first level is selected; n / ArrowDown go caudal, p / ArrowUp cranial.
    assert page.evaluate("() => window.fracturelabViewer.selected") == "T12"
    page.keyboard.press("n")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => window.fracturelabViewer.selected") == "L2"
    page.keyboard.press("p")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => window.fracturelabViewer.selected") == "L1"
    # Selecting a level moved the crosshair to its centroid.
    crosshair = page.evaluate(
        "() => { const nv = window.fracturelabViewer.nv; "
        "return Array.from(nv.frac2mm(nv.scene.crosshairPos)).slice(0, 3); }"
    )
    assert all(abs(a - b) < 1.01 for a, b in zip(crosshair, centroids["L1"], strict=True))

    page.keyboard.press("3")
    page.keyboard.press("c")
    wait_saved(page)
    assert page.locator("#status").text_content() == "Saved ✓"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("0")  # grade 0 is morphology normal
    wait_saved(page)
    stored = reading(server, "alice", case_id)
    assert stored is not None
    assert stored["answers"]["L1"] == spine_answer(3, "crush")
    assert stored["answers"]["L2"] == spine_answer(0, "normal")

    page.reload()
    page.wait_for_selector("body[data-viewer-ready='true']")
    row = page.locator('#levels [data-level="L1"]')
    assert row.get_attribute("data-grade") == "3"
    assert row.get_attribute("data-morphology") == "crush"
    row.click()
    assert page.is_checked("#grade-3") and page.is_checked("#morph-crush")
    api = page.request.get(f"/api/cases/{case_id}").json()
    assert api["reading"]["answers"]["L1"] == spine_answer(3, "crush")

    # "x" marks a level not assessable and clears its grade; again clears the answer.
    page.keyboard.press("x")
    wait_saved(page)
    assert reading(server, "alice", case_id)["answers"]["L1"] == spine_answer(None, None, True)
    assert page.is_checked("#not-assessable") and not page.is_checked("#grade-3")
    page.keyboard.press("3")
    page.keyboard.press("c")
    wait_saved(page)
    assert reading(server, "alice", case_id)["answers"]["L1"] == spine_answer(3, "crush")


def test_clicking_a_vertebra_in_the_image_selects_it(
    new_page: Any, server: LiveServer, seeded: Seeded
) -> None:
    # bob reads case1 as well; his answers are his own.
    case_id = seeded.spine_ids["case1"]
    page = new_page("bob")
    open_spine(page, case_id)
    assert page.evaluate("() => window.fracturelabViewer.selected") == "T12"
    # The phantom's L1 body centre (LPS mm, ground truth) in RAS, where NiiVue works.
    truth = next(v for v in seeded.spine_truth["vertebrae"] if v["level"] == "L1")
    x, y, z = truth["body_center_mm"]
    page.mouse.click(*canvas_point_of_mm(page, [-x, -y, z]))
    assert page.evaluate("() => window.fracturelabViewer.selected") == "L1"
    assert page.locator("#loc-label").text_content() == "L1"
    assert page.get_attribute('#levels [data-level="L1"]', "aria-selected") == "true"
    page.keyboard.press("2")
    page.keyboard.press("w")
    wait_saved(page)
    assert reading(server, "bob", case_id)["answers"]["L1"] == spine_answer(2, "wedge")

    # Scrolling slices does not change the selection; right-drag changes the window.
    before = page.evaluate("() => window.fracturelabViewer.nv.volumes[0].cal_max")
    box = page.locator("#gl").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, 300)
    assert page.evaluate("() => window.fracturelabViewer.selected") == "L1"
    page.mouse.down(button="right")
    page.mouse.move(cx + 60, cy + 40, steps=6)
    page.mouse.up(button="right")
    after = page.evaluate("() => window.fracturelabViewer.nv.volumes[0].cal_max")
    assert after != before
    assert page.locator("#window-readout").text_content() != "W 2000 / L 500"


def test_accepting_suggestions_stores_them_and_export_has_them(
    new_page: Any, server: LiveServer, seeded: Seeded, tmp_path: Path
) -> None:
    case_id = seeded.spine_ids["case2"]
    suggested = suggestion(server, case_id)
    page = new_page("alice")
    opened = time.monotonic()
    open_spine(page, case_id)

    page.click('#levels [data-level="T12"]')
    page.keyboard.press("1")
    page.keyboard.press("b")
    page.click('#levels [data-level="L1"]')
    page.keyboard.press("a")
    wait_saved(page)
    answers = reading(server, "alice", case_id)["answers"]
    assert answers["L1"] == spine_answer(
        suggested["L1"]["genant_grade"], suggested["L1"]["morphology"]
    )
    assert answers["L1"]["genant_grade"] >= 1  # the phantom's L1 is fractured
    assert "L2" not in answers

    page.keyboard.press("Shift+A")
    wait_saved(page)
    answers = reading(server, "alice", case_id)["answers"]
    assert answers["L2"] == spine_answer(
        suggested["L2"]["genant_grade"], suggested["L2"]["morphology"]
    )
    assert answers["T12"] == spine_answer(1, "biconcave")  # answered before: kept

    # Hiding the page reports the reading time so far (otherwise sent every 15 s).
    page.evaluate(HIDE_PAGE)
    deadline = time.monotonic() + 10
    while reading(server, "alice", case_id)["time_spent_s"] == 0:
        assert time.monotonic() < deadline, "the reading time was not reported"
        page.wait_for_timeout(100)
    assert 0.5 <= reading(server, "alice", case_id)["time_spent_s"] <= time.monotonic() - opened

    page.keyboard.press("d")
    page.wait_for_selector("body[data-case-status='done']")
    assert reading(server, "alice", case_id)["status"] == "done"
    screenshot(page, "spine-done")

    with server.database.session() as session:
        summary = export_spine(session, tmp_path / "spine.csv", reader="alice")
    assert summary.cases >= 1
    rows = {row["level"]: row for row in read_csv(tmp_path / "spine.csv") if row["case"] == "case2"}
    assert set(rows) == set(seeded.spine_levels)
    for level, answer in answers.items():
        assert rows[level]["genant_grade"] == str(answer["genant_grade"])
        assert rows[level]["morphology"] == answer["morphology"]
        assert rows[level]["reader"] == "alice"


def test_a_change_from_another_tab_reloads_the_case(
    new_page: Any, server: LiveServer, seeded: Seeded
) -> None:
    case_id = seeded.spine_ids["case1"]
    page = new_page("bob")
    open_spine(page, case_id)
    page.click('#levels [data-level="L1"]')
    page.keyboard.press("3")
    page.keyboard.press("b")
    wait_saved(page)
    version = page.evaluate("() => window.fracturelabViewer.version")
    assert version == reading(server, "bob", case_id)["version"]

    # "Another tab": the same session gives T12 an answer this page has not seen.
    current = reading(server, "bob", case_id)["answers"].get("T12")
    other_answer = (
        spine_answer(2, "crush")
        if current == spine_answer(1, "wedge")
        else (spine_answer(1, "wedge"))
    )
    csrf = page.request.get("/api/me").json()["csrf_token"]
    other = page.request.put(
        f"/api/cases/{case_id}/answers/T12",
        data={"value": other_answer, "base_version": version},
        headers={"X-CSRF-Token": csrf},
    )
    assert other.ok and not other.json()["conflict"]
    t12 = page.locator('#levels [data-level="T12"]')
    assert t12.get_attribute("data-grade") != str(other_answer["genant_grade"])

    page.click('#levels [data-level="L2"]')
    page.keyboard.press("0")
    page.wait_for_selector(".banner.warning:has-text('changed in another tab/window — reloaded')")
    page.wait_for_selector(
        f'#levels [data-level="T12"][data-grade="{other_answer["genant_grade"]}"]'
    )
    assert t12.get_attribute("data-morphology") == other_answer["morphology"]
    stored = reading(server, "bob", case_id)
    assert stored["answers"]["L2"] == spine_answer(0, "normal")
    assert stored["answers"]["T12"] == other_answer
    assert page.evaluate("() => window.fracturelabViewer.version") == stored["version"]


# ----------------------------------------------------------------------------- femur


def femur_state(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
            const f = window.fracturelabFemur;
            const box = document.getElementById('xray').getBoundingClientRect();
            return {view: {...f.view}, box: {x: box.x, y: box.y},
                    image: {width: f.image.width, height: f.image.height,
                            dw: f.image.displayWidth, dh: f.image.displayHeight}};
        }"""
    )


# For three display pixels (i, j): the canvas pixel at the centre of (i, j) as the exposed
# transform places it, and the grey value the full-range window gives the pixel's data.
DRAWN_VS_DATA = """() => {
    const f = window.fracturelabFemur;
    const context = document.getElementById('xray').getContext('2d');
    const dpr = window.devicePixelRatio;
    const [w, h] = [f.image.displayWidth, f.image.displayHeight];
    return [[0.5, 0.3], [0.45, 0.7], [0.6, 0.5]].map(([fx, fy]) => {
        const i = Math.floor(fx * w), j = Math.floor(fy * h);
        const cx = f.view.tx + (i + 0.5) * f.view.scale;
        const cy = f.view.ty + (j + 0.5) * f.view.scale;
        const rgba = context.getImageData(Math.floor(cx * dpr), Math.floor(cy * dpr), 1, 1).data;
        return [rgba[0], Math.round(f.image.pixels[j * w + i] / 65535 * 255)];
    });
}"""


def expected_original(state: dict[str, Any], page_x: float, page_y: float) -> tuple[float, float]:
    """The contract: continuous display position u, x_display = u - 0.5, then
    x_orig = (x_display + 0.5) * width_px / display_width_px - 0.5."""
    view, box, image = state["view"], state["box"], state["image"]
    u = (page_x - box["x"] - view["tx"]) / view["scale"]
    v = (page_y - box["y"] - view["ty"]) / view["scale"]
    x_display, y_display = u - 0.5, v - 0.5
    return (
        (x_display + 0.5) * image["width"] / image["dw"] - 0.5,
        (y_display + 0.5) * image["height"] / image["dh"] - 0.5,
    )


def test_femur_centre_is_stored_in_original_pixels_and_exported(
    new_page: Any, server: LiveServer, seeded: Seeded, tmp_path: Path
) -> None:
    case_id = seeded.femur_id
    width, height = seeded.femur_size_px
    page = new_page("alice")
    page.goto(f"/cases/{case_id}")
    page.wait_for_selector("body[data-viewer-ready='true']")
    state = femur_state(page)
    image = state["image"]
    assert (image["width"], image["height"]) == (width, height)
    assert max(image["dw"], image["dh"]) < max(width, height)  # really downscaled

    # What is drawn is where the exposed transform says: the canvas pixel at the centre of
    # display pixel (i, j) has that pixel's grey value (full-range window).
    probe = page.evaluate(DRAWN_VS_DATA)
    for drawn, expected in probe:
        assert abs(drawn - expected) <= 12, probe

    # Zoom in around a point of the femur so a CSS pixel is finer than an original pixel.
    box = page.locator("#xray").bounding_box()
    anchor = (box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.55)
    page.mouse.move(*anchor)
    for _ in range(6):
        page.mouse.wheel(0, -300)
    wait_until(page, "() => window.fracturelabFemur.view.scale * window.fracturelabFemur.image"
               ".displayWidth / window.fracturelabFemur.image.width > 1.0")  # fmt: skip
    state = femur_state(page)
    assert state["view"]["scale"] * image["dw"] / image["width"] > 1.0

    target = (round(anchor[0]) + 7, round(anchor[1]) - 5)
    page.mouse.click(*target)
    page.keyboard.press("1")
    wait_saved(page)
    x, y = expected_original(state, *target)
    stored = reading(server, "alice", case_id)["answers"]["fracture"]
    assert stored["label"] == "AFF" and stored["not_assessable"] is False
    # The page rounds to 0.1 px; the contract's formula applied to the exact click position.
    assert abs(stored["center_x"] - x) <= 0.06 and abs(stored["center_y"] - y) <= 0.06
    spacing = seeded.femur_spacing_mm
    assert (
        page.locator("#centre-mm")
        .text_content()
        .startswith(f"{stored['center_x'] * spacing:.1f}, {stored['center_y'] * spacing:.1f} mm")
    )
    screenshot(page, "femur-view")

    # A drag pans and places nothing.
    page.mouse.move(target[0] + 40, target[1] + 40)
    page.mouse.down()
    page.mouse.move(target[0] + 120, target[1] + 90, steps=5)
    page.mouse.up()
    assert reading(server, "alice", case_id)["answers"]["fracture"] == stored

    # "a" takes the suggestion: centre and label.
    page.keyboard.press("a")
    wait_saved(page)
    suggested = seeded.femur_suggestion
    assert reading(server, "alice", case_id)["answers"]["fracture"] == {
        "center_x": suggested["center_x"],
        "center_y": suggested["center_y"],
        "label": suggested["label"],
        "not_assessable": False,
    }

    # The final answer: a new centre (after "fit"), NFF, done; the export holds it.
    page.keyboard.press("f")
    wait_until(page, "() => window.fracturelabFemur.view.fitted")
    state = femur_state(page)
    view = state["view"]
    target = (
        round(box["x"] + view["tx"] + 0.62 * image["dw"] * view["scale"]),
        round(box["y"] + view["ty"] + 0.41 * image["dh"] * view["scale"]),
    )
    page.mouse.click(*target)
    page.keyboard.press("2")
    page.keyboard.press("d")
    page.wait_for_selector("body[data-case-status='done']")
    final = reading(server, "alice", case_id)
    assert final["status"] == "done"
    x, y = expected_original(state, *target)
    answer = final["answers"]["fracture"]
    assert answer["label"] == "NFF"
    # At the fitted zoom one CSS pixel spans several original pixels; the click position is
    # exact, so the contract still holds to the page's rounding.
    assert abs(answer["center_x"] - x) <= 0.06 and abs(answer["center_y"] - y) <= 0.06

    manifest = tmp_path / "femur.csv"
    with server.database.session() as session:
        export_femur(session, manifest, reader="alice")
    rows = read_csv(manifest)
    assert len(rows) == 1
    row = rows[0]
    assert row["label"] == "NFF"
    assert math.isclose(float(row["center_x"]), answer["center_x"], abs_tol=0.01)
    assert math.isclose(float(row["center_y"]), answer["center_y"], abs_tol=0.01)
    assert math.isclose(float(row["pixel_spacing_mm"]), spacing, rel_tol=1e-6)
    with server.database.session() as session:
        image_path = Path(session.get(Case, case_id).image_path)
    assert (manifest.parent / row["image"]).resolve() == image_path.resolve()


# ----------------------------------------------------------------------------- lists


def test_worklist_shows_the_readers_cases_as_the_api_does(new_page: Any) -> None:
    page = new_page("alice")
    expected = {row["case_id"]: row for row in page.request.get("/api/worklist").json()}
    shown = page.locator("#worklist-body tr").evaluate_all(
        """(rows) => rows.map((row) => ({id: Number(row.dataset.caseId), status: row.dataset.status,
            answered: Number(row.cells[3].textContent)}))"""
    )
    assert {row["id"] for row in shown} == set(expected)
    for row in shown:
        assert row["status"] == expected[row["id"]]["status"]
        assert row["answered"] == expected[row["id"]]["answered"]
    done = sum(row["status"] == "done" for row in expected.values())
    assert page.locator("#progress").get_attribute("aria-valuenow") == str(done)
    screenshot(page, "worklist")
    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto("/")
    assert urlparse(page.url).path == "/login"


def test_admin_sets_reference_assigns_and_changes_settings(
    new_page: Any, server: LiveServer, seeded: Seeded, playwright_api: Any
) -> None:
    case1, case2 = seeded.spine_ids["case1"], seeded.spine_ids["case2"]
    # bob starts a reading of case1 through the API, so there is a reading to choose.
    bob = playwright_api.request.new_context(base_url=server.base_url)
    try:
        me = bob.post("/api/login", data={"username": "bob", "password": "bob-password1"})
        assert me.ok
        saved = bob.put(
            f"/api/cases/{case1}/answers/L2",
            data={"value": spine_answer(0, "normal"), "base_version": None},
            headers={"X-CSRF-Token": me.json()["csrf_token"]},
        )
        assert saved.ok
    finally:
        bob.dispose()

    page = new_page("admin")
    assert page.locator("#admin-link").is_visible()
    page.goto("/admin")
    page.wait_for_selector("body[data-ready='true']")
    progress = page.request.get("/api/admin/progress").json()
    shown = page.locator("#readers-body tr").evaluate_all(
        "(rows) => rows.map((r) => [r.dataset.reader, r.dataset.task, "
        "Number(r.cells[2].textContent), Number(r.cells[3].textContent)])"
    )
    expected = [[r["username"], r["task"], r["assigned"], r["done"]] for r in progress["readers"]]
    assert shown == expected

    bob_reading = reading(server, "bob", case1)
    row = page.locator(f'#cases-body tr[data-case-id="{case1}"][data-reader="bob"]')
    row.locator("button.make-reference").click()
    row.locator(".badge.reference").wait_for()
    assert reading(server, "bob", case1)["is_reference"] is True
    assert bob_reading is not None and reading(server, "bob", case1)["id"] == bob_reading["id"]

    page.check(f'#cases-body input.case-select[data-case-id="{case2}"]')
    page.check('#reader-choices input[data-reader="bob"]')
    page.click("#assign-button")
    page.wait_for_selector("#assign-result:has-text('Added 1 assignment')")
    with server.database.session() as session:
        assigned = session.scalars(
            select(Assignment.case_id)
            .join(User, User.id == Assignment.reader_id)
            .where(User.username == "bob")
        ).all()
    assert sorted(assigned) == sorted([case1, case2])

    page.check("#show-patient-names")
    page.wait_for_selector(".banner.info:has-text('Readers now see patient names')")
    with server.database.session() as session:
        assert session.get(AppSetting, "show_patient_names").value is True
    page.uncheck("#show-patient-names")
    page.wait_for_selector(".banner.info:has-text('hidden from readers')")
    with server.database.session() as session:
        assert session.get(AppSetting, "show_patient_names").value is False
    screenshot(page, "admin")


def test_admins_see_cases_off_their_worklist_view_only(
    new_page: Any, server: LiveServer, seeded: Seeded
) -> None:
    case_id = seeded.spine_ids["case1"]
    page = new_page("admin")
    open_spine(page, case_id)
    assert page.locator(".banner[data-kind='info']", has_text="View only").count() == 1
    page.keyboard.press("3")
    page.keyboard.press("c")
    page.wait_for_timeout(300)  # give a (wrong) save the time to be sent
    assert reading(server, "admin", case_id) is None
    assert page.locator("#status").get_attribute("data-state") != "error"
