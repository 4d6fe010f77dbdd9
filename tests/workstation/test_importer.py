from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from fracturelab.errors import InputError
from fracturelab.workstation.db import Database
from fracturelab.workstation.importer import import_femur, import_spine
from fracturelab.workstation.models import Case


@pytest.fixture(scope="module")
def spine_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``cts/`` with case1 (L1 grade-2 wedge) and case2 (no label map); ``masks/``."""
    from fracturelab.synth import make_spine_phantom

    root = tmp_path_factory.mktemp("spine")
    phantom = make_spine_phantom(levels="T12-L2", spacing_mm=(2, 2, 2), fractures="L1:35%:wedge")
    paths = phantom.save(root / "phantom")
    cts, masks = root / "cts", root / "masks"
    cts.mkdir()
    masks.mkdir()
    shutil.copy(paths["ct"], cts / "case1.nii.gz")
    shutil.copy(paths["vertebrae"], masks / "case1_vertebrae.nii.gz")
    shutil.copy(paths["ct"], cts / "case2.nii.gz")
    (cts / "notes.txt").write_text("not a CT")
    return cts, masks


def test_import_spine_pairs_by_name_suggests_and_is_idempotent(
    database: Database, spine_folders: tuple[Path, Path]
) -> None:
    cts, masks = spine_folders
    with database.session() as session:
        summary = import_spine(session, cts, masks, suggest=True)
    assert summary.added == ["case1"] and summary.skipped == []
    assert [name for name, _ in summary.failed] == ["case2"]
    assert "case2_vertebrae.nii.gz" in summary.failed[0][1]
    with database.session() as session:
        case = session.scalars(select(Case)).one()
        assert case.image_path == str((cts / "case1.nii.gz").resolve())
        assert case.labels_path == str((masks / "case1_vertebrae.nii.gz").resolve())
        assert case.suggestion is not None and list(case.suggestion) == ["T12", "L1", "L2"]
        assert case.suggestion["L1"]["genant_grade"] >= 1
        assert case.suggestion["L1"]["morphology"] == "wedge"
        assert set(case.suggestion["L1"]) == {"genant_grade", "morphology", "height_loss_pct"}
        again = import_spine(session, cts, masks)
    assert again.added == [] and again.skipped == ["case1"]


def test_import_spine_from_one_folder_without_suggestions(
    database: Database, spine_folders: tuple[Path, Path], tmp_path: Path
) -> None:
    cts, masks = spine_folders
    shutil.copy(cts / "case1.nii.gz", tmp_path / "a.nii.gz")
    shutil.copy(masks / "case1_vertebrae.nii.gz", tmp_path / "a_vertebrae.nii.gz")
    with database.session() as session:
        summary = import_spine(session, tmp_path, tmp_path)
        assert summary.added == ["a"] and not summary.failed
        assert session.scalars(select(Case.suggestion)).one() is None


def test_import_spine_explains_missing_folders(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        with pytest.raises(InputError, match=r"--ct-dir .* does not exist"):
            import_spine(session, tmp_path / "nope", tmp_path)
        with pytest.raises(InputError, match="holds no CT"):
            import_spine(session, tmp_path, tmp_path)


@pytest.fixture(scope="module")
def femur_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fracturelab.synth.femur import make_femur_dataset

    folder = tmp_path_factory.mktemp("femur")
    return make_femur_dataset(folder, 6, size_range_px=(256, 320), progress=False)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained, tiny patch model: enough to check that suggestions are stored."""
    from tests.femur.builders import tiny_femur_model

    return tiny_femur_model(tmp_path_factory.mktemp("model") / "best")


def test_import_femur_keeps_manifest_rows_and_suggests(
    database: Database, femur_manifest: Path, tiny_model: Path
) -> None:
    from fracturelab.femur.manifest import Manifest

    manifest = Manifest.read(femur_manifest)
    with database.session() as session:
        summary = import_femur(session, femur_manifest, tiny_model)
        assert len(summary.added) == 6 and not summary.failed and not summary.notes
        cases = {c.name: c for c in session.scalars(select(Case).where(Case.task == "femur"))}
        for row in manifest:
            case = cases[row.image_text]
            assert case.image_path == str(row.image) and case.labels_path is None
            assert case.patient_id == row.patient_id
            assert case.pixel_spacing_mm == pytest.approx(row.pixel_spacing_mm)
            assert case.suggestion is not None
            assert set(case.suggestion) == {"center_x", "center_y", "label", "p_aff"}
            assert case.suggestion["label"] in {"AFF", "NFF"}
            assert 0 <= case.suggestion["p_aff"] <= 1
        assert import_femur(session, femur_manifest).skipped == [r.image_text for r in manifest]


def test_import_femur_explains_a_missing_manifest(database: Database, tmp_path: Path) -> None:
    with database.session() as session, pytest.raises(InputError, match="does not exist"):
        import_femur(session, tmp_path / "manifest.csv")


@pytest.mark.parametrize("suggest", [False, True])
def test_import_spine_never_registers_a_truncated_ct_or_a_whole_spine_mask(
    database: Database, spine_folders: tuple[Path, Path], tmp_path: Path, suggest: bool
) -> None:
    """A cut CT or a map of all bodies under one label is failed with its reason, not added."""
    cts, masks = spine_folders
    whole = (cts / "case1.nii.gz").read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(whole[: len(whole) // 2])
    shutil.copy(masks / "case1_vertebrae.nii.gz", tmp_path / "cut_vertebrae.nii.gz")
    shutil.copy(cts / "case1.nii.gz", tmp_path / "merged.nii.gz")
    from fracturelab.imaging import read_volume, write_volume

    labels = read_volume(masks / "case1_vertebrae.nii.gz")
    write_volume(
        labels.with_array((labels.array > 0).astype("uint8")), tmp_path / "merged_vertebrae.nii.gz"
    )
    shutil.copy(cts / "case1.nii.gz", tmp_path / "good.nii.gz")
    shutil.copy(masks / "case1_vertebrae.nii.gz", tmp_path / "good_vertebrae.nii.gz")
    with database.session() as session:
        summary = import_spine(session, tmp_path, tmp_path, suggest=suggest)
        names = sorted(case.name for case in session.scalars(select(Case)))
    assert summary.added == ["good"] and names == ["good"]
    reasons = dict(summary.failed)
    assert "truncated or damaged" in reasons["cut"]
    assert "more than one vertebra" in reasons["merged"]


def test_import_femur_never_registers_a_damaged_radiograph(
    database: Database, femur_manifest: Path, tmp_path: Path
) -> None:
    """A radiograph cut short is failed with its reason; the other rows are imported."""
    rows = femur_manifest.read_text().splitlines()
    shutil.copytree(femur_manifest.parent, tmp_path / "set")
    manifest = tmp_path / "set" / femur_manifest.name
    first_image = rows[1].split(",")[0]
    image = tmp_path / "set" / first_image
    whole = image.read_bytes()
    image.write_bytes(whole[: len(whole) // 2])
    with database.session() as session:
        summary = import_femur(session, manifest)
        names = {case.name for case in session.scalars(select(Case))}
    assert [name for name, _ in summary.failed] == [first_image]
    assert "truncated or damaged" in summary.failed[0][1]
    assert first_image not in names and len(summary.added) == len(rows) - 2
