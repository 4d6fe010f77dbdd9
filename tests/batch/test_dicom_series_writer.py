"""The DICOM series writer: SimpleITK reads back the same geometry and HU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.imaging import Volume, read_dicom_header, read_volume
from fracturelab.imaging.dicom_series_writer import DicomSeriesInfo, write_dicom_series


def _volume(orientation_sign: float = 1.0) -> Volume:
    rng = np.random.default_rng(0)
    array = rng.integers(-1100, 1500, size=(7, 5, 4)).astype(np.int16)
    affine = np.diag([0.7, 0.8, 2.5 * orientation_sign, 1.0])
    affine[:3, 3] = [-10.0, 20.0, -300.0]
    return Volume(array, affine)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_round_trip_geometry_and_hu(tmp_path: Path, sign: float) -> None:
    volume = _volume(sign)
    files = write_dicom_series(volume, tmp_path, DicomSeriesInfo(patient_id="P7"))
    assert len(files) == 4
    back = read_volume(tmp_path, modality="CT")
    same = back.on_grid_of(volume)
    assert same is not None
    np.testing.assert_array_equal(same.array.astype(np.int32), volume.array.astype(np.int32))
    np.testing.assert_allclose(same.affine, volume.affine, atol=1e-6)


def test_header_values(tmp_path: Path) -> None:
    info = DicomSeriesInfo(patient_id="P7", series_uid="1.2.3.4", body_part="CHEST")
    files = write_dicom_series(_volume(), tmp_path, info)
    header = read_dicom_header(files[1])
    assert header.Modality == "CT"
    assert header.SeriesInstanceUID == "1.2.3.4"
    assert header.PatientID == "P7"
    assert str(header.PatientName) == ""
    assert header.BodyPartExamined == "CHEST"
    assert [float(v) for v in header.PixelSpacing] == [0.8, 0.7]  # rows, columns
    assert float(header.SliceThickness) == 2.5
    assert [float(v) for v in header.ImagePositionPatient] == [-10.0, 20.0, -297.5]
    assert [float(v) for v in header.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    again = write_dicom_series(_volume(), tmp_path / "again", info)
    assert read_dicom_header(again[1]).SOPInstanceUID == header.SOPInstanceUID


def test_single_slice_refused(tmp_path: Path) -> None:
    flat = Volume(np.zeros((4, 4, 1), dtype=np.int16), np.eye(4))
    with pytest.raises(InputError, match="at least 2 slices"):
        write_dicom_series(flat, tmp_path)
