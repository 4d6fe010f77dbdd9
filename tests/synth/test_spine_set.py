"""Phantom spine datasets: what read_dataset reads, tiers, patients and grades from the truth."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fracturelab.errors import InputError
from fracturelab.imaging import read_volume
from fracturelab.spine.dataset import check_levels_in_masks, check_trainable, read_dataset
from fracturelab.synth.fractures import FractureSpec, true_genant_grade
from fracturelab.synth.spine_set import make_spine_set, plan_spine_set


@pytest.fixture(scope="module")
def spine_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spine-set") / "set"
    return make_spine_set(
        out, 10, seed=3, spacing_mm=(3, 3, 3), graded_share=0.5, unlabelled_share=0.2,
        fracture_share=0.9, progress=False,
    )  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_read_dataset_reads_what_it_writes(spine_set: Path) -> None:
    data = read_dataset(spine_set)
    summary = data.summary()
    assert summary["scans"] == {"graded": 5, "delineated": 3, "unlabelled": 2}
    plan = json.loads((spine_set.parent / "set.json").read_text())["scans"]
    assert [c.tier for c in data.cases] == [scan["tier"] for scan in plan]
    assert list(_rows(spine_set)[0]) == ["case_id", "patient_id", "ct", "vertebrae"]
    check_levels_in_masks(data, progress=False)
    check_trainable(data)
    for case in data.cases_in("unlabelled"):
        assert case.vertebrae is None
        assert not (case.ct.parent / "vertebrae.nii.gz").exists()


def test_grades_are_the_true_grades_of_the_drawn_fractures(spine_set: Path) -> None:
    data = read_dataset(spine_set)
    plan = json.loads((spine_set.parent / "set.json").read_text())
    graded = [scan for scan in plan["scans"] if scan["tier"] == "graded"]
    assert len(graded) == 5
    for scan in graded:
        expected = {level: 0 for level in ("T11", "T12", "L1", "L2", "L3")}
        for text in scan["fractures"]:  # "L1:32.5%:crush": the drawn loss gives the grade
            level, loss, _ = text.split(":")
            expected[level] = true_genant_grade(float(loss.rstrip("%")))
        got = {level: g.genant_grade for level, g in data.grades_of(scan["case_id"]).items()}
        assert got == expected
        for grade in data.grades_of(scan["case_id"]).values():
            assert (grade.morphology == "normal") == (grade.genant_grade == 0)
    assert data.summary()["fractured_vertebrae"] > 0


def test_scans_of_a_patient_share_the_fractures(spine_set: Path) -> None:
    plan = json.loads((spine_set.parent / "set.json").read_text())["scans"]
    by_patient: dict[str, list[dict[str, object]]] = {}
    for scan in plan:
        by_patient.setdefault(str(scan["patient_id"]), []).append(scan)
    assert len(by_patient) < len(plan)  # some patients have several scans
    for scans in by_patient.values():
        assert len({tuple(s["fractures"]) for s in scans}) == 1  # type: ignore[arg-type]


def test_files_are_stored_in_several_orientations(spine_set: Path) -> None:
    data = read_dataset(spine_set)
    orientations = {read_volume(case.ct).orientation for case in data.cases}
    assert len(orientations) >= 2
    case = data.cases_in("graded")[0]
    assert read_volume(case.ct).shape == read_volume(case.vertebrae).shape  # type: ignore[arg-type]


def test_same_seed_same_plan_other_seed_other_plan() -> None:
    assert plan_spine_set(12, 5) == plan_spine_set(12, 5)
    assert plan_spine_set(12, 5) != plan_spine_set(12, 6)
    tiers = [scan.tier for scan in plan_spine_set(20, 1, graded_share=0.3, unlabelled_share=0.1)]
    assert (tiers.count("graded"), tiers.count("unlabelled"), tiers.count("delineated")) == (
        6, 2, 12,
    )  # fmt: skip
    every = plan_spine_set(30, 2, fracture_share=1.0)
    assert all(any(f.loss_pct >= 20 for f in scan.fractures) for scan in every)
    assert all(isinstance(f, FractureSpec) for scan in every for f in scan.fractures)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, r"^n 0 is not valid; give an integer >= 1$"),
        ({"n": 3, "seed": -1}, r"^seed -1 is not valid"),
        (
            {"n": 3, "graded_share": 1.5},
            r"^graded_share 1.5 is not valid; give a share in \[0, 1\]",
        ),
        ({"n": 3, "graded_share": 0.9, "unlabelled_share": 0.2}, r"is more than 1; lower one"),
        ({"n": 3, "levels": "L9"}, r"level 'L9' is not a vertebra level"),
        ({"n": 3, "scans_per_patient": (3, 1)}, r"^scans_per_patient \(3, 1\) is not valid"),
    ],
)
def test_bad_arguments_give_one_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        plan_spine_set(**kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


def test_bad_spacing_and_out_dir(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"spacing_mm .* is not valid"):
        make_spine_set(tmp_path / "o", 2, spacing_mm=(0, 2, 2), progress=False)
    assert not (tmp_path / "o").exists()  # checked before any file is written
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match=r"out_dir .*file: is a file, not a folder"):
        make_spine_set(tmp_path / "file", 2, progress=False)


def test_fractured_vertebrae_show_their_signs_unless_turned_off(
    spine_set: Path, tmp_path: Path
) -> None:
    plan = json.loads((spine_set.parent / "set.json").read_text())
    assert plan["parameters"]["fracture_signs"] is True
    seen = 0
    for scan in plan["scans"]:
        truth = json.loads((spine_set.parent / scan["truth"]).read_text())
        for entry in truth["vertebrae"]:
            assert (entry["fracture_signs"] is not None) == (entry["genant_grade"] >= 1)
            seen += entry["genant_grade"] >= 1
    assert seen > 0
    plain = make_spine_set(
        tmp_path, 2, seed=3, spacing_mm=(3, 3, 3), fracture_share=1.0, fracture_signs=False,
        progress=False,
    )  # fmt: skip
    for case in ("S0001", "S0002"):
        truth = json.loads((plain.parent / "scans" / case / "truth.json").read_text())
        assert all(entry["fracture_signs"] is None for entry in truth["vertebrae"])
