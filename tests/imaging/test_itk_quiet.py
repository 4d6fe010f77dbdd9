"""SimpleITK's own warnings stay off standard error; fracturelab reports one line itself."""

import numpy as np
import pytest
import SimpleITK as sitk

from fracturelab.errors import InputError
from fracturelab.imaging import read_radiograph, read_volume
from fracturelab.imaging.itk_quiet import itk_warnings_off


@pytest.mark.parametrize("content", [None, "notes.txt"])
def test_folder_without_dicom_prints_nothing_and_raises_one_line(tmp_path, capfd, content):
    folder = tmp_path / "scans"
    folder.mkdir()
    if content:
        (folder / content).write_text("not a DICOM file")
    capfd.readouterr()
    with pytest.raises(InputError) as caught:
        read_volume(folder, role="CT", modality="CT")
    assert str(caught.value) == (
        f"CT {folder}: holds no DICOM series; give NIfTI (.nii/.nii.gz), MHA/MHD, NRRD or a "
        "folder of DICOM slices"
    )
    assert capfd.readouterr().err == ""


def test_truncated_metaimage_prints_nothing(tmp_path, capfd):
    path = tmp_path / "v.mha"
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((4, 5, 6), np.int16)), str(path))
    path.write_bytes(path.read_bytes()[:-7])
    capfd.readouterr()
    with pytest.raises(InputError, match=r"v\.mha: the file is truncated"):
        read_volume(path)
    with pytest.raises(InputError, match=r"v\.mha: "):
        read_radiograph(path)
    assert capfd.readouterr().err == ""


def test_the_warning_display_is_restored():
    before = sitk.ProcessObject.GetGlobalWarningDisplay()
    with itk_warnings_off():
        with itk_warnings_off():
            assert not sitk.ProcessObject.GetGlobalWarningDisplay()
        assert not sitk.ProcessObject.GetGlobalWarningDisplay()
    assert sitk.ProcessObject.GetGlobalWarningDisplay() == before
