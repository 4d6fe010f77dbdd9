"""DICOM files and series of the wrong modality are refused unless the user allows them."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid

from fracturelab.errors import InputError
from fracturelab.imaging import RADIOGRAPH_MODALITIES, read_radiograph, read_volume
from tests.dicom_files import DX_STORAGE, new_dataset

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7"


def _slice(sop_class, modality, z=0.0, series=None, pixels=None):
    """One axial slice (uncompressed) of the given SOP class and modality."""
    pixels = np.arange(16 * 20, dtype=np.int16).reshape(16, 20) if pixels is None else pixels
    ds = new_dataset(sop_class)
    if modality is not None:
        ds.Modality = modality
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SeriesInstanceUID = series or generate_uid()
    ds.ImagePositionPatient = [0.0, 0.0, z]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.8, 0.8]
    ds.SliceThickness = 2.0
    ds.InstanceNumber = int(z / 2.0) + 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = 0, 1
    ds.PixelData = pixels.tobytes()
    return ds


def _write(ds, path):
    ds.save_as(path, enforce_file_format=True)
    return path


def _series(folder, sop_class, modality, slices=4):
    folder.mkdir()
    uid = generate_uid()
    for index in range(slices):
        _write(_slice(sop_class, modality, z=2.0 * index, series=uid), folder / f"{index}.dcm")
    return folder


def test_radiograph_modalities_are_exported():
    assert RADIOGRAPH_MODALITIES == ("CR", "DX", "DR")


def test_axial_ct_slice_is_not_a_radiograph(tmp_path):
    path = _write(_slice(CT_STORAGE, "CT"), tmp_path / "X.dcm")
    with pytest.raises(InputError) as caught:
        read_radiograph(path)
    assert str(caught.value) == (
        f"radiograph {path}: DICOM modality CT (CT Image Storage) is not a radiograph "
        "(CR, DX, DR); give a radiograph, or add --allow-modality CT if you are sure"
    )
    assert read_radiograph(path, allow_modalities=("CT",)).array.shape == (16, 20)


def test_ct_sop_class_is_refused_even_when_its_modality_says_dx(tmp_path):
    path = _write(_slice(CT_STORAGE, "DX"), tmp_path / "odd.dcm")
    with pytest.raises(InputError, match=r"odd\.dcm: DICOM modality DX \(CT Image Storage\)"):
        read_radiograph(path)


def test_ct_slice_without_modality_is_judged_by_its_sop_class(tmp_path):
    path = _write(_slice(CT_STORAGE, None), tmp_path / "n.dcm")
    with pytest.raises(InputError, match=r"modality CT .*--allow-modality CT"):
        read_radiograph(path)


@pytest.mark.parametrize("modality", RADIOGRAPH_MODALITIES)
def test_radiograph_modalities_are_accepted(tmp_path, modality):
    path = _write(_slice(DX_STORAGE, modality), tmp_path / "r.dcm")
    assert read_radiograph(path).array.shape == (16, 20)


def test_secondary_capture_needs_sc_or_its_modality(tmp_path):
    path = _write(_slice(SC_STORAGE, "OT"), tmp_path / "sc.dcm")
    with pytest.raises(InputError, match=r"sc\.dcm: .*--allow-modality SC if you are sure"):
        read_radiograph(path)
    with pytest.raises(InputError):
        read_radiograph(path, allow_modalities=("CT",))
    assert read_radiograph(path, allow_modalities=("SC",)).array.shape == (16, 20)
    assert read_radiograph(path, allow_modalities=["OT"]).array.shape == (16, 20)


def test_secondary_capture_of_a_radiograph_is_refused_by_default(tmp_path):
    path = _write(_slice(SC_STORAGE, "CR"), tmp_path / "sc.dcm")
    with pytest.raises(InputError, match=r"is a screen or film capture"):
        read_radiograph(path)


@pytest.mark.parametrize("bad", ["ct", "C", "C-T", "A" * 17, "", 3])
def test_bad_allow_modality_values_are_named(tmp_path, bad):
    path = _write(_slice(DX_STORAGE, "DX"), tmp_path / "r.dcm")
    with pytest.raises(InputError) as caught:
        read_radiograph(path, allow_modalities=[bad])
    message = str(caught.value)
    assert message.startswith(f"--allow-modality {bad!r}: not a DICOM modality code")
    assert "e.g. CT, MR" in message
    with pytest.raises(InputError, match="--allow-modality"):
        read_volume(path, allow_modalities=[bad])


def test_lower_case_value_gets_a_hint(tmp_path):
    with pytest.raises(InputError, match=r"did you mean CT\?"):
        read_volume(tmp_path, allow_modalities=["ct"])


def test_mr_series_is_not_a_ct(tmp_path):
    folder = _series(tmp_path / "mr1", MR_STORAGE, "MR")
    with pytest.raises(InputError) as caught:
        read_volume(folder, role="CT", modality="CT")
    assert str(caught.value) == (
        f"CT {folder}: DICOM series modality MR is not CT; give a CT series, or add "
        "--allow-modality MR if you are sure"
    )
    assert read_volume(folder, role="CT", modality="CT", allow_modalities=("MR",)).shape == (
        20,
        16,
        4,
    )
    assert read_volume(folder, role="CT").shape == (20, 16, 4)  # no modality asked for


def test_ct_series_is_a_ct(tmp_path):
    folder = _series(tmp_path / "ct", CT_STORAGE, "CT")
    volume = read_volume(folder, role="CT", modality="CT")
    np.testing.assert_array_equal(volume.array[:, :, 0].T, np.arange(320).reshape(16, 20))


def test_synthetic_series_with_a_truncated_slice_is_refused(tmp_path):
    folder = _series(tmp_path / "ct", CT_STORAGE, "CT", slices=5)
    victim = folder / "2.dcm"
    whole = victim.read_bytes()
    for cut in (140, 400, len(whole) - 100, len(whole) - 1):
        victim.write_bytes(whole[:cut])
        with pytest.raises(InputError, match=r"2\.dcm: the file is truncated or damaged"):
            read_volume(folder, role="CT", modality="CT")


def test_series_slice_without_pixel_data_is_refused(tmp_path):
    folder = _series(tmp_path / "ct", CT_STORAGE, "CT")
    ds = _slice(CT_STORAGE, "CT", z=8.0, series=None)
    ds.SeriesInstanceUID = _read_uid(folder / "0.dcm")
    del ds.PixelData
    _write(ds, folder / "4.dcm")
    with pytest.raises(InputError, match=r"4\.dcm: the file is truncated or damaged"):
        read_volume(folder, role="CT")


def _read_uid(path):
    import pydicom

    return pydicom.dcmread(path, stop_before_pixels=True).SeriesInstanceUID


def test_real_ct_series_reads_with_modality_ct(tmp_path):
    source = SHARED / "ct-totalsegmentator-example" / "dicom"
    if not source.exists():
        pytest.skip(f"{source} is not available")
    folder = tmp_path / "dicom"
    shutil.copytree(source, folder)
    assert sorted(read_volume(folder, role="CT", modality="CT").shape) == [20, 512, 512]
    with pytest.raises(InputError, match="modality CT is not MR"):
        read_volume(folder, role="MR", modality="MR")


@pytest.mark.parametrize("name", ["cr_lower_leg_RG3_J2KR.dcm", "dx_thorax_canine.dcm"])
def test_real_radiographs_still_read(name):
    path = SHARED / "xray" / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    assert read_radiograph(path).array.ndim == 2
