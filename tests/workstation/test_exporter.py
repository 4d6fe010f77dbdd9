from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from fracturelab.errors import InputError
from fracturelab.femur.manifest import Manifest
from fracturelab.workstation.db import Database
from fracturelab.workstation.exporter import FEMUR_COLUMNS, export_femur, export_spine
from fracturelab.workstation.models import Case, User
from fracturelab.workstation.users import add_user
from fracturelab.workstation.worklist import open_reading, set_reference
from tests.workstation.helpers import read_case


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def readers(database: Database, fast_hashes: None) -> list[str]:
    with database.transaction() as session:
        for name in ("admin", "r1", "r2", "r3"):
            add_user(session, name, "password1", "admin" if name == "admin" else "reader")
    return ["r1", "r2", "r3"]


def _users(session: Session) -> dict[str, User]:
    return {u.username: u for u in session.query(User)}


def test_spine_export_per_reader_majority_median_and_reference(
    database: Database, readers: list[str], tmp_path: Path
) -> None:
    with database.transaction() as session:
        case = Case(task="spine", name="case1", image_path=str(tmp_path / "cts" / "case1.nii.gz"),
                    labels_path=str(tmp_path / "masks" / "case1.nii.gz"))  # fmt: skip
        session.add(case)
        session.flush()
        users = _users(session)
        wedge = {"morphology": "wedge"}
        read_case(session, case, users["r1"], {"L1": {"genant_grade": 2, **wedge},
                                           "T12": {"genant_grade": 0}})  # fmt: skip
        read_case(session, case, users["r2"], {"L1": {"genant_grade": 2, "morphology": "crush"},
                                           "T12": {"not_assessable": True}})  # fmt: skip
        read_case(session, case, users["r3"], {"L1": {"genant_grade": 3, **wedge},
                                           "T12": {"genant_grade": 1, **wedge}})  # fmt: skip
        reference = open_reading(session, case, users["r3"])
        set_reference(session, reference, users["admin"])
    out = tmp_path / "labels" / "spine.csv"
    with database.session() as session:
        summary = export_spine(session, out, reader="r1")
    rows = _rows(out)
    assert list(rows[0]) == ["case", "patient_id", "ct", "vertebrae", "level", "genant_grade",
                             "morphology", "not_assessable", "reader", "n_readers"]  # fmt: skip
    assert {r["patient_id"] for r in rows} == {r["case"] for r in rows}  # no patient recorded
    assert [(r["level"], r["genant_grade"], r["morphology"]) for r in rows] == [
        ("T12", "0", "normal"), ("L1", "2", "wedge"),
    ]  # fmt: skip
    assert (
        rows[0]["ct"] == "../cts/case1.nii.gz" and rows[0]["vertebrae"] == "../masks/case1.nii.gz"
    )
    assert rows[0]["reader"] == "r1" and summary.rows == 2 and summary.cases == 1

    with database.session() as session:
        summary = export_spine(session, out, consensus="majority")
    rows = {r["level"]: r for r in _rows(out)}
    # L1: grades 2, 2, 3 -> 2; morphologies of the grade-2 readers: wedge vs crush -> tie
    assert (rows["L1"]["genant_grade"], rows["L1"]["morphology"]) == ("2", "")
    assert rows["L1"]["n_readers"] == "3" and rows["L1"]["reader"] == "consensus:majority"
    # T12: 0 vs not assessable vs 1 -> three-way tie, left empty
    assert (rows["T12"]["genant_grade"], rows["T12"]["not_assessable"]) == ("", "false")
    assert any("T12" in tie for tie in summary.ties) and any("L1" in t for t in summary.ties)

    with database.session() as session:
        export_spine(session, out, consensus="median")
    rows = {r["level"]: r for r in _rows(out)}
    assert rows["L1"]["genant_grade"] == "2"
    assert rows["T12"]["genant_grade"] == "0"  # lower median of 0 and 1; 1 NA vs 2 graded

    with database.session() as session:
        export_spine(session, out, consensus="reference")
    rows = {r["level"]: r for r in _rows(out)}
    assert (rows["L1"]["genant_grade"], rows["L1"]["morphology"], rows["L1"]["reader"]) == (
        "3", "wedge", "r3",
    )  # fmt: skip

    with database.session() as session, pytest.raises(InputError, match="did you mean 'median'"):
        export_spine(session, out, consensus="medain")


def test_spine_open_readings_do_not_count(
    database: Database, readers: list[str], tmp_path: Path
) -> None:
    with database.transaction() as session:
        case = Case(task="spine", name="c", image_path="/x/c.nii.gz", labels_path="/x/m.nii.gz")
        session.add(case)
        session.flush()
        read_case(session, case, _users(session)["r1"], {"L1": {"genant_grade": 1}}, done=False)
    with database.session() as session:
        summary = export_spine(session, tmp_path / "s.csv")
    assert summary.rows == 0 and summary.skipped == ["c: no finished reading"]


@pytest.fixture
def femur_cases(database: Database, readers: list[str], tmp_path: Path) -> Path:
    """Three femur cases (images need not exist for the database, but Manifest.read checks)."""
    images = tmp_path / "data" / "images"
    images.mkdir(parents=True)
    from PIL import Image

    for name in ("a", "b", "c"):
        Image.new("L", (200, 100)).save(images / f"{name}.png")
    with database.transaction() as session:
        users = _users(session)
        for name, patient in (("a", "P1"), ("b", "P1"), ("c", "P2")):
            case = Case(task="femur", name=f"images/{name}.png",
                        image_path=str(images / f"{name}.png"), patient_id=patient,
                        pixel_spacing_mm=0.15)  # fmt: skip
            session.add(case)
            session.flush()
        cases = {c.name: c for c in session.query(Case)}
        a, b, c = cases["images/a.png"], cases["images/b.png"], cases["images/c.png"]
        read_case(
            session, a, users["r1"], {"fracture": {"center_x": 10, "center_y": 20, "label": "AFF"}}
        )
        read_case(
            session, a, users["r2"], {"fracture": {"center_x": 30, "center_y": 40, "label": "AFF"}}
        )
        read_case(
            session, a, users["r3"], {"fracture": {"center_x": 50, "center_y": 0, "label": "NFF"}}
        )
        read_case(
            session,
            b,
            users["r1"],
            {"fracture": {"center_x": 100.25, "center_y": 50.5, "label": "NFF"}},
        )
        read_case(
            session, b, users["r2"], {"fracture": {"center_x": 90, "center_y": 60, "label": "AFF"}}
        )
        read_case(session, c, users["r1"], {"fracture": {"not_assessable": True}})
        set_reference(session, open_reading(session, a, users["r3"]), users["admin"])
    return tmp_path


def test_femur_export_per_reader_reads_back_as_a_manifest(
    database: Database, femur_cases: Path
) -> None:
    out = femur_cases / "exports" / "manifest.csv"
    with database.session() as session:
        summary = export_femur(session, out, reader="r1")
    assert out.read_text().splitlines()[0] == ",".join(FEMUR_COLUMNS)
    manifest = Manifest.read(out)
    assert summary.skipped == ["images/c.png: not assessable"]
    got = {row.image.name: row for row in manifest}
    assert set(got) == {"a.png", "b.png"}
    assert got["a.png"].image == (femur_cases / "data" / "images" / "a.png").resolve()
    assert got["a.png"].image_text == "../data/images/a.png"
    assert (got["a.png"].label, got["a.png"].center_xy_px) == ("AFF", (10.0, 20.0))
    assert (got["b.png"].label, got["b.png"].center_xy_px) == ("NFF", (100.25, 50.5))
    assert got["b.png"].patient_id == "P1" and got["b.png"].pixel_spacing_mm == 0.15


def test_femur_consensus_rules(database: Database, femur_cases: Path) -> None:
    out = femur_cases / "consensus.csv"
    with database.session() as session:
        summary = export_femur(session, out, consensus="majority")
    got = {row.image.name: row for row in Manifest.read(out)}
    assert got["a.png"].label == "AFF"  # 2 AFF vs 1 NFF
    assert got["a.png"].center_xy_px == pytest.approx((30.0, 20.0))  # mean of three centres
    assert got["b.png"].label is None  # 1 vs 1: tie, reported
    assert summary.ties == ["images/b.png: labels ['AFF', 'NFF']"]
    with database.session() as session:
        export_femur(session, out, consensus="reference")
    got = {row.image.name: row for row in Manifest.read(out)}
    assert set(got) == {"a.png"} and got["a.png"].label == "NFF"
    assert got["a.png"].center_xy_px == (50.0, 0.0)
    with database.session() as session, pytest.raises(InputError, match="no user 'r9'"):
        export_femur(session, out, reader="r9")


def test_femur_columns_are_the_manifest_contract_and_need_no_torch() -> None:
    import subprocess
    import sys

    from fracturelab.femur.contract import MANIFEST_COLUMNS

    assert FEMUR_COLUMNS is MANIFEST_COLUMNS
    code = (
        "import sys, fracturelab.workstation.exporter; "
        "print(sorted({'torch', 'monai'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_spine_export_trains_without_conversion(database: Database, readers: list[str],
                                                 tmp_path: Path) -> None:  # fmt: skip
    """The spine export is a dataset `spine train` reads as it is, patients included."""
    from fracturelab.spine.dataset import read_dataset

    for folder in ("cts", "masks"):
        (tmp_path / folder).mkdir()
    with database.transaction() as session:
        users = _users(session)
        for name, patient in (("scan1", "P7"), ("scan2", "P7"), ("scan3", None)):
            (tmp_path / "cts" / f"{name}.nii.gz").write_bytes(b"")
            (tmp_path / "masks" / f"{name}.nii.gz").write_bytes(b"")
            case = Case(task="spine", name=name, patient_id=patient,
                        image_path=str(tmp_path / "cts" / f"{name}.nii.gz"),
                        labels_path=str(tmp_path / "masks" / f"{name}.nii.gz"))  # fmt: skip
            session.add(case)
            session.flush()
            read_case(session, case, users["r1"], {"L1": {"genant_grade": 2, "morphology": "wedge"},
                                                   "T12": {"genant_grade": 0}})  # fmt: skip
    out = tmp_path / "labels" / "spine.csv"
    with database.session() as session:
        export_spine(session, out, reader="r1")
    dataset = read_dataset(out)
    patients = {case.case_id: case.patient_id for case in dataset.cases}
    assert patients == {"scan1": "P7", "scan2": "P7", "scan3": "scan3"}
    assert {case.tier for case in dataset.cases} == {"graded"}
    assert dataset.grades_of("scan1")["L1"].genant_grade == 2
    assert dataset.grades_of("scan1")["L1"].morphology == "wedge"
