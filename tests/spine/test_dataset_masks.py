"""Grades checked against the label maps: a level the mask does not hold, unreadable masks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fracturelab.errors import InputError
from fracturelab.spine.dataset import DatasetError, check_levels_in_masks, read_dataset
from fracturelab.synth import make_spine_phantom


@pytest.fixture(scope="module")
def phantom_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One phantom scan of T12-L2 in VerSe labels, stored PIR; files in a folder."""
    folder = tmp_path_factory.mktemp("mask-check")
    phantom = make_spine_phantom(
        levels="T12-L2", spacing_mm=(3, 3, 3), fov_mm=(150, 140, 150), orientation="PIR"
    )
    phantom.save(folder / "one")
    return folder


def _dataset(root: Path, grades: str, labels: str = "one/vertebrae.nii.gz") -> Path:
    (root / "scans.csv").write_text(
        "case_id,patient_id,ct,vertebrae\n"
        f"A,P1,one/ct.nii.gz,{labels}\n"
        f"B,P2,one/ct.nii.gz,{labels}\n"
    )
    (root / "grades.csv").write_text("case_id,level,genant_grade,morphology\n" + grades)
    return root / "scans.csv"


def test_levels_found_in_the_label_maps(phantom_files: Path, tmp_path: Path) -> None:
    shutil.copytree(phantom_files / "one", tmp_path / "one")
    data = read_dataset(_dataset(tmp_path, "A,T12,0,\nA,L2,2,wedge\n"))
    found = check_levels_in_masks(data, progress=False)
    assert found == {"A": ["T12", "L1", "L2"]}  # B is delineated: not read


def test_a_graded_level_not_in_the_mask_is_reported(phantom_files: Path, tmp_path: Path) -> None:
    shutil.copytree(phantom_files / "one", tmp_path / "one")
    scans = _dataset(tmp_path, "A,T12,0,\nA,L4,2,\nB,T5,1,\nB,L1,0,\n")
    data = read_dataset(scans)
    with pytest.raises(DatasetError) as caught:
        check_levels_in_masks(data, progress=False)
    problems = caught.value.problems
    assert len(problems) == 2
    assert "grades.csv line 3: level L4 (grade 2) is not in the label map" in problems[0]
    assert "(it holds T12, L1, L2); correct the level or the label map" in problems[0]
    assert "grades.csv line 4: level T5 (grade 1)" in problems[1]


def test_parallel_reading_gives_the_same_levels(phantom_files: Path, tmp_path: Path) -> None:
    shutil.copytree(phantom_files / "one", tmp_path / "one")
    data = read_dataset(_dataset(tmp_path, "A,T12,0,\nB,L1,1,\n"))
    one = check_levels_in_masks(data, jobs=1, progress=False)
    two = check_levels_in_masks(data, jobs=2, progress=True)
    assert one == two == {"A": ["T12", "L1", "L2"], "B": ["T12", "L1", "L2"]}
    with pytest.raises(InputError, match=r"jobs=0 is not valid; give an integer >= 1"):
        check_levels_in_masks(data, jobs=0)


def test_an_unreadable_label_map_is_reported(phantom_files: Path, tmp_path: Path) -> None:
    shutil.copytree(phantom_files / "one", tmp_path / "one")
    (tmp_path / "one" / "broken.nii.gz").write_bytes(b"not a nifti")
    data = read_dataset(_dataset(tmp_path, "A,L1,1,\n", labels="one/broken.nii.gz"))
    with pytest.raises(DatasetError) as caught:
        check_levels_in_masks(data, progress=False)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("case 'A': label map ")
