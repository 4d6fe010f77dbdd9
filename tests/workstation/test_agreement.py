"""Inter-reader agreement from the workstation database, against kappas computed by hand."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from fracturelab.errors import InputError
from fracturelab.workstation.agreement import (
    FEMUR_CSV_COLUMNS,
    SPINE_CSV_COLUMNS,
    agreement_report,
    femur_agreement,
    spine_agreement,
    write_report,
)
from fracturelab.workstation.db import Database
from fracturelab.workstation.models import Case, User
from fracturelab.workstation.users import add_user
from tests.workstation.helpers import read_case

LEVELS = ("T11", "T12", "L1", "L2", "L3", "L4")
# Six levels graded by all three readers (two cases of three levels each).
ALICE = (0, 0, 1, 2, 3, 0)
BOB = (0, 1, 1, 3, 3, 0)
CAROL = (0, 1, 1, 2, 3, 1)

# alice / bob by hand. Quadratic weights w = (i - j)^2; observed disagreement: two items one
# grade apart, sum(w * O) = 2. Marginals alice (3, 1, 1, 1), bob (2, 2, 0, 2), n = 6:
# sum(w * E) = sum_ij a_i b_j (i - j)^2 / n = (3*20 + 10 + 12 + 26) / 6 = 18, so
# kappa = 1 - 2 / 18 = 8 / 9.
KAPPA_ALICE_BOB = 8 / 9
# Fractured (grade >= 1): alice (0, 0, 1, 1, 1, 0), bob (0, 1, 1, 1, 1, 0): 5 of 6 agree;
# p_e = 3/6 * 4/6 + 3/6 * 2/6 = 1/2, kappa = (5/6 - 1/2) / (1 - 1/2) = 2/3.
FRACTURED_KAPPA_ALICE_BOB = 2 / 3
# Fleiss, 3 ratings on 6 items: per-item agreement P_i = 1, 1/3, 1, 1/3, 1, 1/3 -> P_bar = 2/3;
# category shares (6, 6, 2, 4) / 18 -> P_e = (36 + 36 + 4 + 16) / 324 = 23/81;
# kappa = (2/3 - 23/81) / (1 - 23/81) = 31/58.
FLEISS = 31 / 58


def _grade(grade: int) -> dict[str, Any]:
    return {"genant_grade": grade, "morphology": None if grade == 0 else "wedge"}


def _spine_cases(session: Session) -> list[Case]:
    cases = [
        Case(task="spine", name=name, image_path=f"/data/{name}.nii.gz",
             labels_path=f"/data/{name}_vertebrae.nii.gz")
        for name in ("case1", "case2")
    ]  # fmt: skip
    session.add_all(cases)
    session.flush()
    return cases


def _read_spine(
    session: Session,
    cases: list[Case],
    user: User,
    grades: tuple[int, ...],
    extra: dict[str, dict[str, Any]] | None = None,
    done: bool = True,
) -> None:
    answers = [{LEVELS[k]: _grade(grades[3 * i + k]) for k in range(3)} for i in range(2)]
    answers[1].update(extra or {})
    for case, values in zip(cases, answers, strict=True):
        read_case(session, case, user, values, done=done)


@pytest.fixture
def carol(database: Database, people: dict[str, User]) -> User:
    with database.transaction() as session:
        return add_user(session, "carol", "carol-password", "reader")


def test_spine_two_readers_hand_computed(
    database: Database, people: dict[str, User], tmp_path: Path
) -> None:
    with database.transaction() as session:
        cases = _spine_cases(session)
        # Left out: a level alice cannot assess, one bob left ungraded, one only bob graded.
        _read_spine(session, cases, people["alice"], ALICE,
                    {"L4": {"not_assessable": True}, "L5": _grade(1)})  # fmt: skip
        _read_spine(session, cases, people["bob"], BOB,
                    {"L4": _grade(2), "L5": {"genant_grade": None}, "T10": _grade(0)})  # fmt: skip
    with database.session() as session:
        report = spine_agreement(session)
    assert report.readers == ["alice", "bob"] and report.fleiss is None
    (pair,) = report.spine_pairs
    assert (pair.reader_a, pair.reader_b, pair.n_levels) == ("alice", "bob", 6)
    assert pair.grades is not None and pair.fractured is not None
    assert pair.grades.kappa == pytest.approx(KAPPA_ALICE_BOB)
    assert pair.grades.observed_agreement == pytest.approx(4 / 6)
    assert pair.fractured.observed_agreement == pytest.approx(5 / 6)
    assert pair.fractured.kappa == pytest.approx(FRACTURED_KAPPA_ALICE_BOB)
    assert (pair.fractured.both_positive, pair.fractured.both_negative) == (3, 2)
    assert (pair.fractured.only_a, pair.fractured.only_b) == (0, 1)

    json_path, csv_path = write_report(report, tmp_path / "out")
    data = json.loads(json_path.read_text())
    assert data["task"] == "spine" and data["fleiss"] is None and data["notes"] == []
    assert data["pairs"][0]["grade_kappa_quadratic"] == pytest.approx(KAPPA_ALICE_BOB)
    with csv_path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == SPINE_CSV_COLUMNS and len(rows) == 1
    assert float(rows[0]["fractured_kappa"]) == pytest.approx(FRACTURED_KAPPA_ALICE_BOB)
    assert rows[0]["n_levels"] == "6" and rows[0]["only_b_fractured"] == "1"


def test_spine_three_readers_fleiss_and_open_readings_left_out(
    database: Database, people: dict[str, User], carol: User
) -> None:
    with database.transaction() as session:
        cases = _spine_cases(session)
        _read_spine(session, cases, people["alice"], ALICE)
        _read_spine(
            session, cases, people["bob"], BOB, {"L5": _grade(3)}
        )  # only bob: not in Fleiss
        _read_spine(session, cases, carol, CAROL)
        admin = session.get(User, people["admin"].id)
        assert admin is not None
        _read_spine(session, cases, admin, (3, 3, 3, 3, 3, 3), done=False)  # not finished
    with database.session() as session:
        report = agreement_report(session, "spine")
    assert report.readers == ["alice", "bob", "carol"]
    assert [(p.reader_a, p.reader_b) for p in report.spine_pairs] == [
        ("alice", "bob"), ("alice", "carol"), ("bob", "carol"),
    ]  # fmt: skip
    assert report.spine_pairs[0].grades is not None
    assert report.spine_pairs[0].grades.kappa == pytest.approx(KAPPA_ALICE_BOB)
    assert report.fleiss is not None and report.fleiss_readers == ["alice", "bob", "carol"]
    assert report.fleiss.n_items == 6 and report.fleiss.kappa == pytest.approx(FLEISS)
    assert report.fleiss.observed_agreement == pytest.approx(2 / 3)
    assert report.to_json()["fleiss"]["kappa"] == pytest.approx(FLEISS)


def test_spine_identical_constant_grades_give_nan_with_a_note(
    database: Database, people: dict[str, User]
) -> None:
    with database.transaction() as session:
        cases = _spine_cases(session)
        _read_spine(session, cases, people["alice"], (0,) * 6)
        _read_spine(session, cases, people["bob"], (0,) * 6)
    with database.session() as session:
        report = spine_agreement(session)
    (pair,) = report.spine_pairs
    assert pair.grades is not None and math.isnan(pair.grades.kappa)
    assert pair.grades.observed_agreement == 1.0
    assert any("grade kappa is undefined" in note for note in report.notes)
    assert report.to_json()["pairs"][0]["grade_kappa_quadratic"] is None


def test_spine_too_few_readers_or_common_levels(
    database: Database, people: dict[str, User], carol: User
) -> None:
    with database.session() as session, pytest.raises(InputError, match="found none"):
        spine_agreement(session)
    with database.transaction() as session:
        cases = _spine_cases(session)
        read_case(session, cases[0], people["alice"], {"L1": _grade(1), "L2": _grade(2)})
        read_case(session, cases[0], people["bob"], {"L1": _grade(1), "L2": _grade(0)}, done=False)
    with database.session() as session, pytest.raises(InputError, match=r"found 1 \(alice\)"):
        spine_agreement(session)
    with database.transaction() as session:
        read_case(session, cases[0], carol, {"L1": _grade(1), "L3": _grade(2)})
    with database.session() as session, pytest.raises(InputError, match="no two readers graded"):
        spine_agreement(session)
    with database.session() as session, pytest.raises(InputError, match="did you mean 'spine'"):
        agreement_report(session, "spin")


# Femur by hand, alice / bob, spacing 0.5 mm:
#   f1: AFF (100, 100) vs AFF (103, 104): 5 px = 2.5 mm
#   f2: NFF (50, 50)   vs AFF (50, 60):  10 px = 5 mm
#   f3: NFF (10, 10)   vs NFF, no centre
#   f4: not assessable vs NFF (0, 0): left out of labels and distances
#   f5: AFF (0, 0)     vs AFF (0, 40):  40 px = 20 mm
# Labels over f1, f2, f3, f5: 3 of 4 agree; p_e = 2/4 * 3/4 + 2/4 * 1/4 = 1/2,
# kappa = (3/4 - 1/2) / (1/2) = 1/2. Distances 2.5, 5, 20: median 5, mean 27.5 / 3, max 20.
FEMUR = {
    "f1": ({"label": "AFF", "center_x": 100, "center_y": 100},
           {"label": "AFF", "center_x": 103, "center_y": 104}),
    "f2": ({"label": "NFF", "center_x": 50, "center_y": 50},
           {"label": "AFF", "center_x": 50, "center_y": 60}),
    "f3": ({"label": "NFF", "center_x": 10, "center_y": 10}, {"label": "NFF"}),
    "f4": ({"not_assessable": True}, {"label": "NFF", "center_x": 0, "center_y": 0}),
    "f5": ({"label": "AFF", "center_x": 0, "center_y": 0},
           {"label": "AFF", "center_x": 0, "center_y": 40}),
}  # fmt: skip


def _femur(database: Database, people: dict[str, User], spacing: dict[str, float | None]) -> None:
    with database.transaction() as session:
        for name, (alice, bob) in FEMUR.items():
            case = Case(task="femur", name=name, image_path=f"/data/{name}.png",
                        pixel_spacing_mm=spacing.get(name, 0.5))  # fmt: skip
            session.add(case)
            session.flush()
            read_case(session, case, people["alice"], {"fracture": alice})
            read_case(session, case, people["bob"], {"fracture": bob})


def test_femur_labels_and_centre_distances_in_mm(
    database: Database, people: dict[str, User], tmp_path: Path
) -> None:
    _femur(database, people, {"f3": None})  # f3 has no two centres: mm still usable
    with database.session() as session:
        report = femur_agreement(session)
    assert report.readers == ["alice", "bob"] and report.unit == "mm"
    (pair,) = report.femur_pairs
    assert (pair.n_cases, pair.n_labelled) == (5, 4)
    assert pair.labels is not None
    assert pair.labels.observed_agreement == pytest.approx(3 / 4)
    assert pair.labels.kappa == pytest.approx(1 / 2)
    assert (pair.labels.both_positive, pair.labels.only_b) == (2, 1)
    assert sorted(pair.distances) == pytest.approx([2.5, 5.0, 20.0])
    assert pair.distance_median == pytest.approx(5.0)
    assert pair.distance_mean == pytest.approx(27.5 / 3)
    assert pair.distance_max == pytest.approx(20.0)
    _, csv_path = write_report(report, tmp_path)
    with csv_path.open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert tuple(row) == FEMUR_CSV_COLUMNS
    assert (row["distance_unit"], row["n_centres"], row["label_kappa"]) == ("mm", "3", "0.5")
    data = json.loads((tmp_path / "agreement.json").read_text())
    assert data["distance_unit"] == "mm" and data["pairs"][0]["distance_max"] == 20.0


def test_femur_without_spacing_reports_pixels(database: Database, people: dict[str, User]) -> None:
    _femur(database, people, {"f2": None})
    with database.session() as session:
        report = femur_agreement(session)
    (pair,) = report.femur_pairs
    assert report.unit == pair.unit == "px"
    assert sorted(pair.distances) == pytest.approx([5.0, 10.0, 40.0])
    assert any("in pixels, not mm" in note and "f2" in note for note in report.notes)


def test_femur_needs_two_readers(database: Database, people: dict[str, User]) -> None:
    with database.transaction() as session:
        case = Case(task="femur", name="f1", image_path="/data/f1.png")
        session.add(case)
        session.flush()
        read_case(session, case, people["alice"], {"fracture": {"label": "AFF"}})
    with database.session() as session, pytest.raises(InputError, match="at least 2 readers"):
        femur_agreement(session)


def test_write_report_refuses_a_file_as_folder(
    database: Database, people: dict[str, User], tmp_path: Path
) -> None:
    _femur(database, people, {})
    with database.session() as session:
        report = femur_agreement(session)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file; give a folder"):
        write_report(report, tmp_path / "file")
