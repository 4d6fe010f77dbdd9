from pathlib import Path

import pytest

from fracturelab.errors import InputError
from fracturelab.femur.manifest import Manifest
from tests.femur.builders import write_manifest, write_png


def test_reads_rows_relative_to_the_csv(tmp_path: Path) -> None:
    path = write_manifest(
        tmp_path,
        [
            {"image": "a/x.png", "patient_id": "P1", "label": "AFF", "center_x": 3.5,
             "center_y": 7, "pixel_spacing_mm": 0.2},
            {"image": "a/y.png", "patient_id": "P2", "label": "nff", "center_x": "",
             "center_y": ""},
            {"image": "a/z.png", "patient_id": "P3", "label": ""},
        ],
    )  # fmt: skip
    manifest = Manifest.read(path)
    first, second, third = manifest.rows
    assert first.image == (tmp_path / "a" / "x.png").resolve()
    assert first.center_xy_px == (3.5, 7.0)
    assert first.pixel_spacing_mm == 0.2
    assert first.is_aff
    assert second.label == "NFF" and second.center_xy_px is None
    assert third.label is None and third.pixel_spacing_mm is None
    assert len(manifest.labelled()) == 1
    assert any("no label or no centre" in note for note in manifest.notes)


def test_patient_with_both_labels_is_allowed_and_reported(tmp_path: Path) -> None:
    rows = [
        {"image": "a.png", "patient_id": "P1", "label": "AFF", "center_x": 1, "center_y": 1},
        {"image": "b.png", "patient_id": "P1", "label": "NFF", "center_x": 1, "center_y": 1},
    ]
    manifest = Manifest.read(write_manifest(tmp_path, rows))
    assert len(manifest) == 2
    assert any("both AFF and NFF" in note and "P1" in note for note in manifest.notes)


def _error(tmp_path: Path, rows: list[dict], header: str | None = None) -> str:
    with pytest.raises(InputError) as caught:
        Manifest.read(write_manifest(tmp_path, rows, header))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        Manifest.read(tmp_path / "nope.csv")


def test_empty_manifest(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match=r"manifest.csv is empty"):
        Manifest.read(path)


def test_header_only_manifest(tmp_path: Path) -> None:
    message = _error(tmp_path, [])
    assert "no rows" in message


def test_missing_column_suggests_the_closest(tmp_path: Path) -> None:
    message = _error(tmp_path, [], header="image,patient,label,center_x,center_y")
    assert "patient_id" in message and "did you mean 'patient'" in message


def test_unknown_label(tmp_path: Path) -> None:
    rows = [{"image": "a.png", "patient_id": "P1", "label": "atypical"}]
    message = _error(tmp_path, rows)
    assert "unknown label" in message and "line 2" in message and "AFF" in message


def test_missing_image_file(tmp_path: Path) -> None:
    rows = [{"image": "gone.png", "patient_id": "P1", "label": "AFF", "make_image": False}]
    message = _error(tmp_path, rows)
    assert "image file not found" in message and "gone.png" in message


def test_centre_outside_the_image(tmp_path: Path) -> None:
    rows = [{"image": "a.png", "patient_id": "P1", "label": "AFF", "center_x": 45, "center_y": 5}]
    message = _error(tmp_path, rows)  # the PNG is 40 x 30
    assert "centre outside the image" in message and "40 x 30" in message


def test_half_a_centre(tmp_path: Path) -> None:
    rows = [{"image": "a.png", "patient_id": "P1", "label": "AFF", "center_x": 4, "center_y": ""}]
    assert "must both be numbers" in _error(tmp_path, rows)


def test_bad_spacing(tmp_path: Path) -> None:
    rows = [{"image": "a.png", "patient_id": "P1", "label": "AFF", "pixel_spacing_mm": -1}]
    assert "pixel_spacing_mm must be a positive number" in _error(tmp_path, rows)


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    write_png(tmp_path / "ok.png")
    rows = [
        {"image": "ok.png", "patient_id": "P1", "label": "X", "make_image": False},
        {"image": "missing.png", "patient_id": "P2", "label": "AFF", "make_image": False},
    ]
    message = _error(tmp_path, rows)
    assert "unknown label" in message and "image file not found" in message


def test_dicom_images_other_than_radiographs_are_refused_unless_allowed(tmp_path: Path) -> None:
    import numpy as np

    from fracturelab.femur.data import PatchGeometry, prepare_image
    from tests.cli.dicom_builders import write_slice

    (tmp_path / "a").mkdir()
    write_slice(tmp_path / "a" / "ct.dcm", np.arange(40 * 30).reshape(40, 30) % 700, "CT")
    path = write_manifest(
        tmp_path,
        [{"image": "a/ct.dcm", "patient_id": "P1", "label": "AFF", "center_x": 10,
          "center_y": 12, "make_image": False}],
    )  # fmt: skip
    with pytest.raises(InputError, match=r"not a radiograph .* line 2 a/ct.dcm \(modality CT"):
        Manifest.read(path)
    manifest = Manifest.read(path, allow_modalities=["CT"])
    row = manifest.rows[0]
    with pytest.raises(InputError, match="modality CT"):
        prepare_image(row, 64, PatchGeometry(32))
    prepared = prepare_image(row, 64, PatchGeometry(32), allow_modalities=["CT"])
    assert prepared.shape == (40, 30) and prepared.allow_modalities == ("CT",)
    # The patch re-reads the file away from the cached window, with the same permission.
    assert prepared.patch(PatchGeometry(32), (29.0, 39.0)).shape == (32, 32)
