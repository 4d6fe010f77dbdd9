from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from fracturelab.errors import InputError
from fracturelab.imaging import Volume, read_volume, write_volume

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _volume():
    affine = np.eye(4)
    affine[:3, :3] = np.diag([0.7, 0.9, 2.5])
    affine[:3, 3] = [1.0, 2.0, 3.0]
    return Volume(np.random.default_rng(0).integers(-1000, 2000, (5, 6, 7), dtype=np.int16), affine)


@pytest.mark.parametrize("suffix", [".nii.gz", ".mha", ".nrrd"])
def test_round_trip_keeps_voxels_and_geometry(tmp_path, suffix):
    volume = _volume().reoriented("PIR")
    path = write_volume(volume, tmp_path / f"v{suffix}")
    back = read_volume(path)
    np.testing.assert_array_equal(back.array, volume.array)
    np.testing.assert_allclose(back.affine, volume.affine, atol=1e-5)
    assert back.orientation == "PIR"
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(InputError, match=r"CT .*nope\.nii\.gz: no such file"):
        read_volume(tmp_path / "nope.nii.gz", role="CT")


def test_unreadable_file_says_which_formats_work(tmp_path):
    bad = tmp_path / "bad.nii.gz"
    bad.write_text("not an image")
    with pytest.raises(InputError, match=r"bad\.nii\.gz: cannot be read as an image.*NIfTI"):
        read_volume(bad, role="CT")


def test_two_dimensional_image_is_refused(tmp_path):
    path = tmp_path / "slice.nii.gz"
    sitk.WriteImage(sitk.Image(30, 20, sitk.sitkInt16), str(path))
    with pytest.raises(InputError, match=r"is a 2D image of size 30x20"):
        read_volume(path, role="CT")


def test_single_slice_volume_is_refused(tmp_path):
    path = tmp_path / "slab.nii.gz"
    sitk.WriteImage(sitk.Image(30, 20, 1, sitk.sitkInt16), str(path))
    with pytest.raises(InputError, match="not a 3D volume"):
        read_volume(path, role="CT")


def test_colour_image_is_refused(tmp_path):
    path = tmp_path / "rgb.nii.gz"
    sitk.WriteImage(sitk.Image([8, 8, 8], sitk.sitkVectorUInt8, 3), str(path))
    with pytest.raises(InputError, match="3 channels"):
        read_volume(path)


def test_folder_without_dicom_is_refused(tmp_path):
    with pytest.raises(InputError, match="no DICOM series"):
        read_volume(tmp_path, role="CT")


@pytest.mark.skipif(not (SHARED / "ct-totalsegmentator-example").exists(), reason="no shared data")
def test_reads_a_real_jpeg2000_dicom_series():
    volume = read_volume(SHARED / "ct-totalsegmentator-example" / "dicom", role="CT")
    assert volume.shape == (512, 512, 20)
    np.testing.assert_allclose(volume.spacing_mm, [0.9765625, 0.9765625, 2.0])
    assert volume.orientation == "LPS"
    assert -1100 < volume.array.min() < -900 and volume.array.max() > 1000  # HU
