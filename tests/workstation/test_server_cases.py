"""What readers and admins get from the server: cases, images, answers, time, progress."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
import SimpleITK as sitk
from fastapi import FastAPI
from sqlalchemy import select

from fracturelab.imaging.radiograph import Radiograph
from fracturelab.imaging.radiograph_io import read_radiograph, write_radiograph
from fracturelab.workstation.db import Database
from fracturelab.workstation.models import Answer, AuditEvent, Case, Reading, User
from fracturelab.workstation.server.images import DISPLAY_MAX_PX
from tests.dicom_files import DX_STORAGE, new_dataset

from .server_helpers import PASSWORDS, live_server, login, make_app


@pytest.fixture
def app(
    database: Database, people: dict[str, User], cases: dict[str, int], tmp_path: Path
) -> FastAPI:
    return make_app(database, tmp_path / "cache")


def _label_centroids_ras(path: Path) -> dict[int, np.ndarray]:
    """Centroids of every label by SimpleITK, LPS turned into RAS."""
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(sitk.ReadImage(str(path), sitk.sitkUInt16))
    return {label: np.array(stats.GetCentroid(label)) * [-1, -1, 1] for label in stats.GetLabels()}


def test_spine_case_lists_levels_with_centroids_in_world_ras(
    app: FastAPI, cases: dict[str, int], spine_files: dict[str, Path]
) -> None:
    case = login(app, "alice").get(f"/api/cases/{cases['spine']}").json()
    assert [level["level"] for level in case["levels"]] == ["T12", "L1", "L2"]
    assert [level["label"] for level in case["levels"]] == [19, 20, 21]  # VerSe numbering
    expected = _label_centroids_ras(spine_files["labels_LPS"])
    for level in case["levels"]:
        assert np.allclose(level["centroid_ras_mm"], expected[level["label"]], atol=0.01)
    assert case["suggestion"]["L1"]["genant_grade"] == 2
    assert case["image"] == {
        "url": f"/api/cases/{cases['spine']}/image", "format": "nifti",
        "name": f"case{cases['spine']}-ct.nii.gz",
    }  # fmt: skip
    assert case["reading"] is None and case["dicom"] is None and case["can_edit"] is True


def test_levels_do_not_depend_on_how_the_ct_is_stored(app: FastAPI, cases: dict[str, int]) -> None:
    alice = login(app, "alice")
    lps = alice.get(f"/api/cases/{cases['spine']}").json()["levels"]
    pir = alice.get(f"/api/cases/{cases['spine_pir']}").json()["levels"]
    assert [level["level"] for level in pir] == [level["level"] for level in lps]
    for a, b in zip(lps, pir, strict=True):  # same anatomy, voxel centres 1 mm apart at most
        assert np.allclose(a["centroid_ras_mm"], b["centroid_ras_mm"], atol=1.0)


def test_nifti_files_are_served_as_they_are(
    app: FastAPI, cases: dict[str, int], spine_files: dict[str, Path]
) -> None:
    alice = login(app, "alice")
    image = alice.get(f"/api/cases/{cases['spine']}/image")
    labels = alice.get(f"/api/cases/{cases['spine']}/labels")
    assert image.content == spine_files["ct_LPS"].read_bytes()
    assert labels.content == spine_files["labels_LPS"].read_bytes()
    assert image.headers["cache-control"] == "private, no-store"


def test_other_formats_are_converted_to_nifti_with_their_geometry(
    app: FastAPI, cases: dict[str, int], spine_files: dict[str, Path], tmp_path: Path
) -> None:
    served = tmp_path / "served.nii.gz"
    served.write_bytes(login(app, "alice").get(f"/api/cases/{cases['spine_mha']}/image").content)
    original, converted = sitk.ReadImage(str(spine_files["ct_mha"])), sitk.ReadImage(str(served))
    assert np.array_equal(sitk.GetArrayFromImage(original), sitk.GetArrayFromImage(converted))
    assert np.allclose(original.GetOrigin(), converted.GetOrigin(), atol=1e-4)
    assert np.allclose(original.GetDirection(), converted.GetDirection(), atol=1e-6)
    assert np.allclose(original.GetSpacing(), converted.GetSpacing(), atol=1e-6)
    assert list((tmp_path / "cache").glob("*.nii.gz"))  # converted once, into the cache


def test_radiograph_is_sent_as_uint16_at_full_size_when_small(
    app: FastAPI, cases: dict[str, int], database: Database
) -> None:
    alice = login(app, "alice")
    case = alice.get(f"/api/cases/{cases['femur']}").json()
    with database.session() as session:
        stored = session.get(Case, cases["femur"])
        assert stored is not None
        truth = read_radiograph(stored.image_path, stored.pixel_spacing_mm)
    rows, columns = truth.array.shape
    image = case["image"]
    assert (image["width_px"], image["height_px"]) == (columns, rows)
    assert (image["display_width_px"], image["display_height_px"]) == (columns, rows)
    assert image["pixel_spacing_mm"] == pytest.approx(stored.pixel_spacing_mm)
    response = alice.get(image["url"])
    pixels = np.frombuffer(response.content, dtype="<u2").reshape(rows, columns)
    assert np.array_equal(pixels, np.rint(truth.array * 65535).astype(np.uint16))
    assert case["levels"] == [] and case["labels"] is None


def test_large_radiographs_are_reduced_for_display(
    app: FastAPI, database: Database, people: dict[str, User], tmp_path: Path
) -> None:
    from fracturelab.workstation.worklist import assign

    rows, columns = 40, 4100
    gradient = np.tile(np.linspace(0, 1, columns, dtype=np.float32), (rows, 1))
    path = write_radiograph(Radiograph(gradient, (0.1, 0.1)), tmp_path / "wide.png")
    with database.session() as session:
        case = Case(task="femur", name="wide", image_path=str(path), pixel_spacing_mm=0.1)
        session.add(case)
        session.flush()
        assign(session, [case], session.get(User, people["alice"].id))
        session.commit()
        case_id = case.id
    alice = login(app, "alice")
    image = alice.get(f"/api/cases/{case_id}").json()["image"]
    assert image["display_width_px"] == DISPLAY_MAX_PX
    assert image["display_height_px"] == round(rows * DISPLAY_MAX_PX / columns)
    shown = np.frombuffer(alice.get(image["url"]).content, dtype="<u2")
    shown = shown.reshape(image["display_height_px"], image["display_width_px"]) / 65535
    # area averaging keeps the ramp: display column c covers original columns around
    # (c + 0.5) * columns / width - 0.5
    centres = (np.arange(DISPLAY_MAX_PX) + 0.5) * columns / DISPLAY_MAX_PX - 0.5
    assert np.allclose(shown[0], centres / (columns - 1), atol=2e-3)


def test_missing_image_files_give_a_clear_404(
    app: FastAPI, database: Database, cases: dict[str, int], spine_files: dict[str, Path]
) -> None:
    with database.transaction() as session:
        case = session.get(Case, cases["spine_pir"])
        assert case is not None
        case.image_path = str(spine_files["ct_PIR"].with_name("gone.nii.gz"))
    response = login(app, "alice").get(f"/api/cases/{cases['spine_pir']}/image")
    assert response.status_code == 404
    assert "missing on the server" in response.json()["detail"]
    assert "gone.nii.gz" not in response.json()["detail"]  # server paths stay on the server


def test_answers_save_validate_and_count_versions(app: FastAPI, cases: dict[str, int]) -> None:
    alice = login(app, "alice")
    url = f"/api/cases/{cases['spine']}/answers"
    first = alice.put(f"{url}/L1", json={"value": {"genant_grade": 2, "morphology": "wedge"},
                                         "base_version": None}).json()  # fmt: skip
    assert first == {
        "key": "L1", "value": {"genant_grade": 2, "morphology": "wedge", "not_assessable": False},
        "version": 1, "changed": True, "conflict": False,
    }  # fmt: skip
    same = alice.put(f"{url}/L1", json={"value": first["value"], "base_version": 1}).json()
    assert (same["version"], same["changed"], same["conflict"]) == (1, False, False)
    bad = alice.put(f"{url}/L1", json={"value": {"genant_grade": 4}})
    assert bad.status_code == 422 and "genant_grade" in bad.json()["detail"]
    typo = alice.put(f"{url}/L1", json={"value": {"morphologie": "wedge"}})
    assert typo.status_code == 422 and "did you mean 'morphology'" in typo.json()["detail"]
    stale = alice.put(f"{url}/L2", json={"value": {"genant_grade": 0}, "base_version": 0}).json()
    assert (stale["version"], stale["conflict"]) == (2, True)  # someone saved version 1 meanwhile
    reading = alice.get(f"/api/cases/{cases['spine']}").json()["reading"]
    assert reading["version"] == 2 and set(reading["answers"]) == {"L1", "L2"}
    centre = {"center_x": 101.5, "center_y": 80, "label": "aff"}
    femur = alice.put(f"/api/cases/{cases['femur']}/answers/fracture", json={"value": centre})
    assert femur.json()["value"] == {"center_x": 101.5, "center_y": 80.0, "label": "AFF",
                                     "not_assessable": False}  # fmt: skip


def test_worklist_time_and_status(app: FastAPI, cases: dict[str, int]) -> None:
    alice = login(app, "alice")
    base = f"/api/cases/{cases['spine']}"
    assert alice.post(f"{base}/time", json={"seconds": 15}).json() == {"time_spent_s": 15.0}
    assert alice.post(f"{base}/time", json={"seconds": 20.5}).json() == {"time_spent_s": 35.5}
    assert alice.post(f"{base}/time", json={"seconds": -1}).status_code == 422
    alice.put(f"{base}/answers/L1", json={"value": {"genant_grade": 1}})
    assert alice.post(f"{base}/status", json={"done": True}).json() == {"status": "done"}
    rows = {row["case_id"]: row for row in alice.get("/api/worklist").json()}
    assert rows[cases["spine"]] | {"case_id": 0} == {
        "case_id": 0, "task": "spine", "name": "lps", "status": "done", "answered": 1,
        "time_spent_s": 35.5,
    }  # fmt: skip
    assert rows[cases["femur"]]["status"] == "new"
    assert alice.post(f"{base}/status", json={"done": False}).json() == {"status": "open"}
    empty = {"genant_grade": None, "morphology": None, "not_assessable": False}
    alice.put(f"{base}/answers/L2", json={"value": empty})  # a cleared answer says nothing
    alice.put(f"{base}/answers/T12", json={"value": {"not_assessable": True}})
    rows = {row["case_id"]: row for row in alice.get("/api/worklist").json()}
    assert rows[cases["spine"]]["answered"] == 2
    assert [row["task"] for row in alice.get("/api/worklist?task=femur").json()] == ["femur"] * 2
    assert alice.get("/api/worklist?task=knee").status_code == 422


def test_next_and_previous_case_follow_the_worklist(app: FastAPI, cases: dict[str, int]) -> None:
    alice = login(app, "alice")
    order = [row["case_id"] for row in alice.get("/api/worklist?task=spine").json()]
    middle = alice.get(f"/api/cases/{order[1]}").json()
    assert (middle["previous_case_id"], middle["next_case_id"]) == (order[0], order[2])
    last = alice.get(f"/api/cases/{order[2]}").json()
    assert last["next_case_id"] is None


def test_two_clients_saving_the_same_case_at_once_lose_nothing(
    app: FastAPI, cases: dict[str, int], database: Database
) -> None:
    """Two tabs of one reader hammer one case over real HTTP: every key keeps its last value,
    and the audit table holds exactly the changes that were made."""
    levels = ["T12", "L1", "L2"]
    rounds = 12
    results: dict[str, list[dict[str, object]]] = {"a": [], "b": []}
    errors: list[str] = []
    with live_server(app) as url:

        def tab(name: str, offset: int) -> None:
            with httpx.Client(base_url=url, timeout=30) as client:
                login_reply = client.post(
                    "/api/login", json={"username": "alice", "password": PASSWORDS["alice"]}
                )
                client.headers["X-CSRF-Token"] = login_reply.json()["csrf_token"]
                for i in range(rounds):
                    key = f"{name}-{levels[i % 3]}"  # each tab its own keys ...
                    for level, grade in ((key.split("-")[1], (i + offset) % 4), ("L1", i % 4)):
                        path = f"/api/cases/{cases['spine']}/answers/{level}"
                        reply = client.put(path, json={"value": {"genant_grade": grade}})
                        if reply.status_code != 200:
                            errors.append(reply.text)
                        else:
                            results[name].append(reply.json())

        threads = [threading.Thread(target=tab, args=(n, k)) for n, k in (("a", 0), ("b", 1))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    with database.session() as session:
        reading = session.scalars(select(Reading).where(Reading.case_id == cases["spine"])).one()
        stored = {a.key: a.value["genant_grade"] for a in session.scalars(
            select(Answer).where(Answer.reading_id == reading.id))}  # fmt: skip
        audits = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "answer").order_by(AuditEvent.id)
        ).all()
    changed = sum(reply["changed"] for name in results for reply in results[name])
    assert len(audits) == changed == reading.version  # every change audited and counted
    versions = sorted(
        reply["version"] for name in results for reply in results[name] if reply["changed"]
    )
    assert versions == list(range(1, changed + 1))  # saves ran one after another
    last_by_key: dict[str, int] = {}
    for event in audits:  # replaying the audit in order gives the stored answers
        last_by_key[str(event.key)] = event.new["genant_grade"]
    assert stored == last_by_key
    assert set(stored) == {"T12", "L1", "L2"}


def test_admins_open_any_case_but_answer_only_their_own(
    app: FastAPI, cases: dict[str, int]
) -> None:
    admin = login(app, "admin")
    case = admin.get(f"/api/cases/{cases['spine']}").json()
    assert case["can_edit"] is False and case["reading"] is None
    refused = admin.put(f"/api/cases/{cases['spine']}/answers/L1", json={"value": {}})
    assert refused.status_code == 404


def test_admin_sees_progress_assigns_and_sets_the_reference(
    app: FastAPI, cases: dict[str, int], database: Database
) -> None:
    alice, bob, admin = login(app, "alice"), login(app, "bob"), login(app, "admin")
    alice.put(f"/api/cases/{cases['spine']}/answers/L1", json={"value": {"genant_grade": 2}})
    alice.post(f"/api/cases/{cases['spine']}/time", json={"seconds": 30})
    bob.put(f"/api/cases/{cases['spine']}/answers/L1", json={"value": {"genant_grade": 1}})
    bob.post(f"/api/cases/{cases['spine']}/status", json={"done": True})
    progress = admin.get("/api/admin/progress").json()
    readers = {(r["username"], r["task"]): r for r in progress["readers"]}
    assert readers[("alice", "spine")] == {"username": "alice", "task": "spine", "assigned": 3,
                                           "done": 0, "time_spent_s": 30.0}  # fmt: skip
    assert readers[("bob", "spine")]["done"] == 1 and readers[("bob", "femur")]["assigned"] == 1
    spine = next(c for c in progress["cases"] if c["case_id"] == cases["spine"])
    by_reader = {r["username"]: r for r in spine["readings"]}
    assert by_reader["alice"]["answered"] == 1 and by_reader["bob"]["status"] == "done"
    bobs = by_reader["bob"]["reading_id"]
    assert admin.get(f"/api/admin/readings/{bobs}").json()["answers"]["L1"]["genant_grade"] == 1
    assert admin.post("/api/admin/reference", json={"reading_id": bobs}).json() == {
        "case_id": cases["spine"], "reading_id": bobs,
    }  # fmt: skip
    assign = admin.post("/api/admin/assign",
                        json={"case_ids": [cases["spine_pir"]], "readers": ["bob"]})  # fmt: skip
    assert assign.json() == {"added": 1, "already": 0}
    assert cases["spine_pir"] in {row["case_id"] for row in bob.get("/api/worklist").json()}
    unknown = admin.post("/api/admin/assign", json={"case_ids": [999], "readers": ["bob"]})
    assert unknown.status_code == 422
    with database.session() as session:
        reference = session.get(Reading, bobs)
        assert reference is not None and reference.is_reference


def _dicom_radiograph(path: Path) -> Path:
    ds = new_dataset(DX_STORAGE)
    ds.PatientName, ds.PatientID, ds.Modality, ds.StudyDate = "Doe^Jane", "P77", "DX", "20260101"
    ds.Rows, ds.Columns = 32, 48
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.ImagerPixelSpacing = [0.2, 0.2]
    ds.PixelData = (np.arange(32 * 48, dtype=np.uint16) % 4096).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_patient_names_stay_hidden_until_an_admin_allows_them(
    app: FastAPI, database: Database, people: dict[str, User], tmp_path: Path
) -> None:
    from fracturelab.workstation.worklist import assign

    path = _dicom_radiograph(tmp_path / "dx.dcm")
    with database.session() as session:
        case = Case(task="femur", name="dx", image_path=str(path))
        session.add(case)
        session.flush()
        assign(session, [case], session.get(User, people["alice"].id))
        session.commit()
        case_id = case.id
    alice, admin = login(app, "alice"), login(app, "admin")
    hidden = alice.get(f"/api/cases/{case_id}").json()
    assert hidden["dicom"]["PatientName"] == "(hidden)" and hidden["dicom"]["Modality"] == "DX"
    assert "Doe" not in alice.get(f"/api/cases/{case_id}").text
    assert hidden["image"]["pixel_spacing_mm"] == pytest.approx(0.2)
    assert alice.put("/api/admin/settings", json={"show_patient_names": True}).status_code == 403
    assert admin.put("/api/admin/settings", json={"show_patient_names": True}).json() == {
        "show_patient_names": True
    }
    assert alice.get(f"/api/cases/{case_id}").json()["dicom"]["PatientName"] == "Doe^Jane"
    with database.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "setting")).one()
        assert (event.old, event.new) == ({"value": False}, {"value": True})


def test_answers_only_for_the_levels_of_the_cases_label_map(
    app: FastAPI, cases: dict[str, int], database: Database
) -> None:
    alice = login(app, "alice")
    base = f"/api/cases/{cases['spine']}"  # the phantom holds T12, L1, L2 (VerSe labels 19-21)
    for key in ("C1", "S1", "L6", "T13", "T11", "L3"):  # real level names, not in this case
        refused = alice.put(
            f"{base}/answers/{key}", json={"value": {"genant_grade": 1, "morphology": "wedge"}}
        )
        assert refused.status_code == 422, (key, refused.text)
        assert "T12, L1, L2" in refused.json()["detail"]
    for key in ("T12", "L1", "L2"):
        assert alice.put(f"{base}/answers/{key}", json={"value": {"genant_grade": 0}}).is_success
    with database.session() as session:
        stored = session.scalars(select(Answer.key)).all()
        case = session.get(Case, cases["spine"])
        assert case is not None and case.levels == ["T12", "L1", "L2"]  # remembered
    assert sorted(stored) == ["L1", "L2", "T12"]


def test_femur_centres_must_lie_on_the_image(
    app: FastAPI, cases: dict[str, int], database: Database
) -> None:
    with database.session() as session:
        stored = session.get(Case, cases["femur"])
        assert stored is not None
        truth = read_radiograph(stored.image_path, stored.pixel_spacing_mm)
    rows, columns = truth.array.shape
    alice = login(app, "alice")
    url = f"/api/cases/{cases['femur']}/answers/fracture"
    outside = [(1e308, 10), (10, 1e308), (columns, 10), (10, rows), (-0.6, 10), (10, -1)]
    for x, y in outside:
        refused = alice.put(url, json={"value": {"center_x": x, "center_y": y, "label": "AFF"}})
        assert refused.status_code == 422, (x, y, refused.text)
        detail = refused.json()["detail"]
        assert "outside the" in detail and (min(x, y) < 0 or f"{columns} x {rows} px" in detail)
    for x, y in ((-0.5, -0.5), (columns - 0.5, rows - 0.5), (columns / 2, rows / 3)):
        saved = alice.put(url, json={"value": {"center_x": x, "center_y": y, "label": "NFF"}})
        assert saved.status_code == 200, (x, y, saved.text)
    with database.session() as session:
        answers = session.scalars(select(Answer.value)).all()
    assert [(a["center_x"], a["center_y"]) for a in answers] == [(columns / 2, rows / 3)]


def test_done_readings_take_no_changes_until_reopened_and_admins_see_reopens(
    app: FastAPI, cases: dict[str, int], database: Database
) -> None:
    alice, admin = login(app, "alice"), login(app, "admin")
    base = f"/api/cases/{cases['spine']}"
    assert alice.put(
        f"{base}/answers/L1", json={"value": {"genant_grade": 2, "morphology": "wedge"}}
    ).is_success
    alice.post(f"{base}/status", json={"done": True})
    changed = alice.put(f"{base}/answers/L1", json={"value": {"genant_grade": 0}})
    assert changed.status_code == 409 and "open it again" in changed.json()["detail"]
    with database.session() as session:
        (value,) = session.scalars(select(Answer.value)).all()
    assert value["genant_grade"] == 2  # the done reading kept its answer
    for _ in range(2):
        assert alice.post(f"{base}/status", json={"done": False}).json()["status"] == "open"
        assert alice.put(f"{base}/answers/L1", json={"value": {"genant_grade": 0}}).is_success
        alice.post(f"{base}/status", json={"done": True})
    progress = admin.get("/api/admin/progress").json()
    (entry,) = [c for c in progress["cases"] if c["case_id"] == cases["spine"]]
    by_reader = {r["username"]: r for r in entry["readings"]}
    assert by_reader["alice"]["reopen_count"] == 2 and by_reader["bob"]["reopen_count"] == 0
    reading = admin.get(f"/api/admin/readings/{by_reader['alice']['reading_id']}").json()
    assert reading["reopen_count"] == 2 and reading["status"] == "done"
    with database.session() as session:
        reopens = session.scalars(select(AuditEvent).where(AuditEvent.action == "status")).all()
    assert [e.new["status"] for e in reopens] == ["done", "open", "done", "open", "done"]
