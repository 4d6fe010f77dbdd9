"""The header-only probes: a DICOM header without pixels, an image's size from its header."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fracturelab.errors import InputError
from fracturelab.imaging.dicom_header import is_dicom_file, probe_size_px, read_dicom_header
from tests.dicom_files import DX_STORAGE, new_dataset


def _dx(path: Path, rows: int = 3, columns: int = 5, *, preamble: bool = True) -> Path:
    ds = new_dataset(DX_STORAGE)
    ds.Modality = "DX"
    ds.PatientName = "Doe^Jane"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = np.zeros((rows, columns), np.uint16).tobytes()
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:
        del ds.file_meta
        ds.save_as(path, implicit_vr=True, little_endian=True, enforce_file_format=False)
    return path


def test_header_is_read_without_pixel_data(tmp_path):
    header = read_dicom_header(_dx(tmp_path / "a.dcm"))
    assert header.Modality == "DX"
    assert str(header.PatientName) == "Doe^Jane"
    assert "PixelData" not in header


def test_header_is_read_by_preamble_whatever_the_name(tmp_path):
    path = _dx(tmp_path / "1.2.840.99")
    assert is_dicom_file(path)
    assert read_dicom_header(path).Rows == 3


def test_header_without_preamble_is_read_by_extension(tmp_path):
    path = _dx(tmp_path / "raw.dcm", preamble=False)
    assert path.read_bytes()[128:132] != b"DICM"
    assert read_dicom_header(path).Columns == 5


@pytest.mark.parametrize("name", ["image.png", "notes.dcm"])
def test_non_dicom_file_is_refused_in_one_line_naming_it(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".png"):
        Image.fromarray(np.zeros((2, 2), np.uint8)).save(path)
    else:
        path.write_bytes(b"")
    with pytest.raises(InputError) as caught:
        read_dicom_header(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "\n" not in str(caught.value)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_dicom_header(tmp_path / "gone.dcm")
    with pytest.raises(InputError, match="no such file"):
        probe_size_px(tmp_path / "gone.png")


def test_size_of_dicom_is_columns_then_rows(tmp_path):
    assert probe_size_px(_dx(tmp_path / "a.dcm", rows=3, columns=5)) == (5, 3)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".jpg"])
def test_size_of_pillow_images_is_width_then_height(tmp_path, suffix):
    path = tmp_path / f"image{suffix}"
    Image.fromarray(np.zeros((4, 7), np.uint8)).save(path)
    assert probe_size_px(path) == (7, 4)


def test_size_of_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "text.png"
    path.write_text("not an image")
    with pytest.raises(InputError, match=r"text\.png: the image header cannot be read"):
        probe_size_px(path)
