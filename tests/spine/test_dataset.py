"""Spine datasets: the two-CSV form, the workstation export, tiers, summary and every problem."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from fracturelab.errors import InputError
from fracturelab.spine.dataset import (
    TIERS,
    DatasetError,
    SpineCase,
    VertebraGrade,
    check_levels_in_masks,
    check_trainable,
    read_dataset,
)

SCANS_HEADER = "case_id,patient_id,ct,vertebrae\n"
GRADES_HEADER = "case_id,level,genant_grade,morphology\n"


def _files(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """Three scans of two patients: graded, delineated, unlabelled."""
    _files(tmp_path, "a/ct.nii.gz", "a/seg.nii.gz", "b/ct.nii.gz", "b/seg.nii.gz", "c/ct.nii.gz")
    _write(
        tmp_path / "grades.csv",
        GRADES_HEADER + "A,T12,0,normal\nA,L1,2,Wedge\nA,l2,3.0,\n",
    )
    return _write(
        tmp_path / "scans.csv",
        SCANS_HEADER
        + "A,P1,a/ct.nii.gz,a/seg.nii.gz\nB,P1,b/ct.nii.gz,b/seg.nii.gz\nC,P2,c/ct.nii.gz,\n",
    )


def test_two_csv_form_reads_tiers_grades_and_absolute_paths(small: Path) -> None:
    data = read_dataset(small)
    assert [case.tier for case in data.cases] == ["graded", "delineated", "unlabelled"]
    assert data.case("A") == SpineCase(
        "A", "P1", small.parent / "a/ct.nii.gz", small.parent / "a/seg.nii.gz", "graded"
    )
    assert data.case("C").vertebrae is None
    assert data.case("A").ct.is_absolute()
    grades = data.grades_of("A")
    assert grades["L1"] == VertebraGrade("A", "L1", 2, "wedge")  # morphology in any case
    assert grades["L2"] == VertebraGrade("A", "L2", 3, None)  # "3.0" and "l2" read; empty: None
    assert data.grades_of("B") == {}
    assert data.root == small.parent.absolute()


def test_summary_counts_by_hand(small: Path) -> None:
    summary = read_dataset(small).summary()
    assert summary["scans"] == {"graded": 1, "delineated": 1, "unlabelled": 1}
    assert summary["patients"] == {"graded": 1, "delineated": 1, "unlabelled": 1}
    assert summary["patients_total"] == 2
    assert summary["grades"] == {0: 1, 1: 0, 2: 1, 3: 1}
    assert summary["fractured_vertebrae"] == 2
    assert summary["morphology"] == {
        "normal": 1, "wedge": 1, "biconcave": 0, "crush": 0, "unknown": 1,
    }  # fmt: skip


def test_grades_given_explicitly_and_empty_grade_skipped(small: Path) -> None:
    other = _write(small.parent / "other.csv", GRADES_HEADER + "B,L3,1,crush\nB,L4,,\n")
    data = read_dataset(small, grades=other)
    assert [case.tier for case in data.cases] == ["delineated", "graded", "unlabelled"]
    assert list(data.grades_of("B")) == ["L3"]
    assert any("B L4 not assessed" in note for note in data.notes)


def test_scans_without_grades_are_delineated_or_unlabelled(small: Path) -> None:
    (small.parent / "grades.csv").unlink()
    data = read_dataset(small)
    assert {case.tier for case in data.cases} == {"delineated", "unlabelled"}
    assert set(TIERS) == {"graded", "delineated", "unlabelled"}


def test_every_problem_is_listed_at_once_one_line_each(tmp_path: Path) -> None:
    _files(tmp_path, "ct1.nii.gz", "seg1.nii.gz", "ct2.nii.gz", "ct3.nii.gz")
    scans = _write(
        tmp_path / "scans.csv",
        SCANS_HEADER
        + "A,P1,ct1.nii.gz,seg1.nii.gz\n"
        + "A,P9,ct1.nii.gz,seg1.nii.gz\n"  # case in two patients
        + "B,P2,ct2.nii.gz,\n"
        + "B,P2,ct2.nii.gz,\n"  # duplicate case_id
        + "D,P3,missing.nii.gz,\n",  # missing file
    )
    _write(
        tmp_path / "grades.csv",
        GRADES_HEADER
        + "A,L1,4,wedge\n"  # grade outside 0-3      (line 2)
        + "A,L2,x,\n"  # not a grade                  (line 3)
        + "A,L3,1,wegde\n"  # unknown morphology      (line 4)
        + "Z,L1,1,\n"  # case not in scans            (line 5)
        + "A,L7,0,\n"  # not a level                  (line 6)
        + "A,T12,0,\n"
        + "A,T12,1,\n"  # graded twice                (line 8)
        + "B,L1,1,\n",  # graded without a label map  (line 9)
    )
    with pytest.raises(DatasetError) as caught:
        read_dataset(scans)
    problems = caught.value.problems
    expected = [
        ("scans.csv line 3", "two patients", "'P1'", "'P9'"),
        ("scans.csv line 5", "repeated", "first at"),
        ("scans.csv line 6", "missing.nii.gz does not exist"),
        ("grades.csv line 2", "outside 0-3"),
        ("grades.csv line 3", "'x' is not a grade"),
        ("grades.csv line 4", "'wegde' is unknown (did you mean 'wedge'?)"),
        ("grades.csv line 5", "'Z' is not in the scans"),
        ("grades.csv line 6", "'L7' is not a vertebra level"),
        ("grades.csv line 8", "graded twice"),
        ("grades.csv line 9", "no vertebrae label map"),
    ]
    assert len(problems) == len(expected), problems
    for fragments in expected:
        assert any(all(f in p for f in fragments) for p in problems), (fragments, problems)
    assert all("\n" not in p and "; " in p for p in problems)  # one line: problem; fix
    message = str(caught.value).splitlines()
    assert message[0].startswith(f"dataset {scans}: {len(expected)} problems; first: ")
    assert message[1:] == problems


def test_missing_and_repeated_columns(tmp_path: Path) -> None:
    scans = _write(tmp_path / "scans.csv", "case_id,patient,ct,ct\nA,P,x,y\n")
    with pytest.raises(DatasetError) as caught:
        read_dataset(scans)
    text = "\n".join(caught.value.problems)
    assert "column 'ct' appears 2 times" in text
    assert "column 'patient_id' is missing (did you mean 'patient'?)" in text
    assert "column 'vertebrae' is missing" in text


def test_workstation_export_is_read_directly(tmp_path: Path) -> None:
    _files(tmp_path, "img/a.nii.gz", "img/a_seg.nii.gz", "img/b.nii.gz", "img/b_seg.nii.gz")
    header = (
        "case,ct,vertebrae,level,genant_grade,morphology,not_assessable,reader,n_readers,"
        "patient_id\n"
    )
    export = _write(
        tmp_path / "export.csv",
        header
        + "a,img/a.nii.gz,img/a_seg.nii.gz,T12,0,normal,false,majority,2,P1\n"
        + "a,img/a.nii.gz,img/a_seg.nii.gz,L1,3,crush,false,majority,2,P1\n"
        + "a,img/a.nii.gz,img/a_seg.nii.gz,L2,,,true,majority,2,P1\n"
        + "b,img/b.nii.gz,img/b_seg.nii.gz,L1,,,true,majority,1,P2\n",
    )
    data = read_dataset(export)
    assert [(c.case_id, c.patient_id, c.tier) for c in data.cases] == [
        ("a", "P1", "graded"),
        ("b", "P2", "delineated"),
    ]
    assert data.grades_of("a") == {
        "T12": VertebraGrade("a", "T12", 0, "normal"),
        "L1": VertebraGrade("a", "L1", 3, "crush"),
    }
    assert data.case("b").vertebrae == (tmp_path / "img/b_seg.nii.gz").absolute()
    assert any("2 vertebra(e) not assessable" in note for note in data.notes)


def test_workstation_export_without_patient_id_is_refused(tmp_path: Path) -> None:
    export = _write(
        tmp_path / "export.csv",
        "case,ct,vertebrae,level,genant_grade,morphology,not_assessable,reader,n_readers\n"
        "a,a.nii.gz,s.nii.gz,L1,1,,false,r,1\n",
    )
    with pytest.raises(InputError) as caught:
        read_dataset(export)
    message = str(caught.value)
    assert "\n" not in message
    assert str(export) in message and "'patient_id' is missing" in message
    assert "add a patient_id column" in message


def test_workstation_export_case_in_two_patients(tmp_path: Path) -> None:
    _files(tmp_path, "a.nii.gz", "s.nii.gz")
    export = _write(
        tmp_path / "export.csv",
        "case,patient_id,ct,vertebrae,level,genant_grade,morphology,not_assessable\n"
        "a,P1,a.nii.gz,s.nii.gz,L1,1,,false\n"
        "a,P2,a.nii.gz,s.nii.gz,L2,0,,false\n",
    )
    with pytest.raises(DatasetError, match=r"line 3: case 'a' is in two patients"):
        read_dataset(export)


def test_bad_paths_give_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no such file or folder; check the path"):
        read_dataset(tmp_path / "nope.csv")
    with pytest.raises(InputError, match=r"folder without rawdata/"):
        read_dataset(tmp_path)
    scans = _write(tmp_path / "scans.csv", SCANS_HEADER)
    with pytest.raises(InputError, match=r"--grades .*no such file"):
        read_dataset(scans, grades=tmp_path / "g.csv")
    with pytest.raises(DatasetError, match=r"holds no scan"):
        read_dataset(scans)
    with pytest.raises(InputError, match=r"no case 'Q'"):
        read_dataset(_write(scans, SCANS_HEADER + "A,P,scans.csv,\n")).case("Q")


def test_a_dataset_without_fractures_cannot_train(small: Path) -> None:
    check_trainable(read_dataset(small))
    _write(small.parent / "grades.csv", GRADES_HEADER + "A,T12,0,normal\nA,L1,0,normal\n")
    with pytest.raises(DatasetError, match=r"no fracture among its 2 graded vertebrae"):
        check_trainable(read_dataset(small))
    (small.parent / "grades.csv").unlink()
    with pytest.raises(DatasetError, match=r"no graded scan"):
        check_trainable(read_dataset(small))


def test_real_verse19_development_set(shared_data: Path) -> None:
    folder = shared_data / "ct-verse19-graded"
    if not folder.exists():
        pytest.skip("ct-verse19-graded is absent")
    data = read_dataset(folder / "scans.csv")
    summary = data.summary()
    assert summary["scans"] == {"graded": 4, "delineated": 0, "unlabelled": 0}
    assert summary["graded_vertebrae"] == 24
    assert summary["fractured_vertebrae"] == 9
    assert summary["grades"] == {0: 15, 1: 5, 2: 3, 3: 1}
    levels = check_levels_in_masks(data, progress=False)
    assert levels["verse012"] == ["T10", "T11", "T12", "L1", "L2", "L3"]
    check_trainable(data)


def test_dataset_error_survives_pickling() -> None:
    error = DatasetError("d.csv", ["a.csv line 2: bad; fix", "a.csv line 3: worse; fix"])
    copy = pickle.loads(pickle.dumps(error))
    assert copy.problems == error.problems and str(copy) == str(error)
    assert str(error).splitlines()[0] == (
        "dataset d.csv: 2 problems; first: a.csv line 2: bad; fix "
        "(run 'fracturelab spine dataset check' to list all)"
    )
