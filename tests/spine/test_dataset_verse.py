"""VerSe folders: BIDS rawdata/derivatives, the per-level grade table, "not assessed" skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fracturelab.spine.dataset import (
    DatasetError,
    VertebraGrade,
    check_levels_in_masks,
    read_dataset,
)
from fracturelab.synth import make_spine_phantom

TABLE_HEADER = "verse_ID,T12_fx-g,T12_fx-s,L1_fx-g,L1_fx-s,L2_fx-g,L2_fx-s,L3_fx-g\n"


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("verse-phantom")
    make_spine_phantom(
        levels="T12-L2", spacing_mm=(3, 3, 3), fov_mm=(150, 140, 150), fractures="L1:2:wedge"
    ).save(folder)
    return folder


def _verse(root: Path, phantom: Path, table: str | None) -> Path:
    """sub-verse001 (CT + mask), sub-verse002 (CT only), sub-verse003 split scan (CT + mask)."""
    for stem, mask in (
        ("sub-verse001/sub-verse001", True),
        ("sub-verse002/sub-verse002", False),
        ("sub-verse003/sub-verse003_split-verse103", True),
    ):
        ct = root / "training" / "rawdata" / f"{stem}_ct.nii.gz"
        ct.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(phantom / "ct.nii.gz", ct)
        if mask:
            seg = root / "training" / "derivatives" / f"{stem}_seg-vert_msk.nii.gz"
            seg.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(phantom / "vertebrae.nii.gz", seg)
    if table is not None:
        (root / "verse_fracture_grading.csv").write_text(TABLE_HEADER + table)
    return root


def test_verse_folder_scans_tiers_and_grades(phantom: Path, tmp_path: Path) -> None:
    folder = _verse(
        tmp_path,
        phantom,
        "1,0,,2,wedge,0,,\n"  # L3 empty: not assessed (outside the scan), skipped
        "sub-verse003,0,,2.0,3,,,\n"  # numeric shape code: morphology unknown; L2 skipped
        "9,1,,1,,1,,1\n",  # a subject without a scan: skipped
    )
    data = read_dataset(folder)
    assert [(c.case_id, c.patient_id, c.tier) for c in data.cases] == [
        ("sub-verse001", "sub-verse001", "graded"),
        ("sub-verse002", "sub-verse002", "unlabelled"),
        ("sub-verse003_split-verse103", "sub-verse003", "graded"),
    ]
    assert data.grades_of("sub-verse001") == {
        "T12": VertebraGrade("sub-verse001", "T12", 0, None),
        "L1": VertebraGrade("sub-verse001", "L1", 2, "wedge"),
        "L2": VertebraGrade("sub-verse001", "L2", 0, None),
    }
    assert set(data.grades_of("sub-verse003_split-verse103")) == {"T12", "L1"}
    assert data.grades_of("sub-verse003_split-verse103")["L1"].morphology is None
    assert data.case("sub-verse001").vertebrae == (
        tmp_path / "training/derivatives/sub-verse001/sub-verse001_seg-vert_msk.nii.gz"
    )
    assert any("1 grade table row(s) name a subject without a scan" in n for n in data.notes)
    assert any("shape code" in n for n in data.notes)
    check_levels_in_masks(data, progress=False)  # every graded level is in the phantom's mask


def test_verse_folder_without_a_table_is_delineated(phantom: Path, tmp_path: Path) -> None:
    data = read_dataset(_verse(tmp_path, phantom, None))
    assert [c.tier for c in data.cases] == ["delineated", "unlabelled", "delineated"]
    assert any("no grade table" in note for note in data.notes)


def test_verse_table_given_with_grades(phantom: Path, tmp_path: Path) -> None:
    folder = _verse(tmp_path, phantom, None)
    table = tmp_path / "elsewhere.csv"
    table.write_text("subject,L1_fx-g\nverse001,3\n")
    data = read_dataset(folder, grades=table)
    assert data.grades_of("sub-verse001") == {"L1": VertebraGrade("sub-verse001", "L1", 3, None)}


def test_verse_table_problems_are_listed(phantom: Path, tmp_path: Path) -> None:
    folder = _verse(tmp_path, phantom, "1,5,,x,,,,\n2,1,,,,,,\n")
    with pytest.raises(DatasetError) as caught:
        read_dataset(folder)
    problems = caught.value.problems
    assert len(problems) == 3, problems
    assert "line 2: T12_fx-g '5' is outside 0-3" in problems[0]
    assert "line 2: L1_fx-g 'x' is not a grade" in problems[1]
    assert "case 'sub-verse002' is graded but has no vertebrae label map" in problems[2]


def test_verse_table_without_subject_column(phantom: Path, tmp_path: Path) -> None:
    folder = _verse(tmp_path, phantom, None)
    table = tmp_path / "t.csv"
    table.write_text("name,L1_fx-g,X9_fx-g\nverse001,3,0\n")
    with pytest.raises(DatasetError) as caught:
        read_dataset(folder, grades=table)
    assert "no subject column; name it one of verse_ID" in caught.value.problems[0]
