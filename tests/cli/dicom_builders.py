"""DICOM files written with pydicom for the modality tests: CT slices and MR series."""

from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid

from tests.dicom_files import new_dataset

SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "MR": "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
}


def write_slice(
    path, pixels, modality, *, position_mm=(0.0, 0.0, 0.0), spacing_mm=(1.0, 1.0, 1.0),
    series_uid=None, number=1,
):  # fmt: skip
    """One axial slice (rows = posterior, columns = left, LPS) of int16 ``pixels``.

    Args:
        pixels: ``(rows, columns)`` stored values; CT gets rescale intercept -1024.
        modality: ``"CT"`` or ``"MR"``.
        position_mm: LPS position of the first pixel's centre.
        spacing_mm: ``(column spacing x, row spacing y, slice thickness)`` in mm.

    """
    pixels = np.asarray(pixels, dtype=np.int16)
    ds = new_dataset(SOP_CLASSES[modality])
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.2"
    ds.Modality = modality
    ds.PatientName = "Test^Modality"
    ds.PatientID = "M1"
    ds.InstanceNumber = number
    ds.ImagePositionPatient = [float(v) for v in position_mm]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [float(spacing_mm[1]), float(spacing_mm[0])]  # [row, column] spacing
    ds.SliceThickness = float(spacing_mm[2])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    if modality == "CT":
        ds.RescaleIntercept = -1024.0
        ds.RescaleSlope = 1.0
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def write_series(folder, array_xyz, modality, *, spacing_mm, origin_mm):
    """A series of axial slices from an LPS array indexed ``[x, y, z]`` (z grows upwards)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    uid = generate_uid()
    for k in range(array_xyz.shape[2]):
        position = (origin_mm[0], origin_mm[1], origin_mm[2] + k * spacing_mm[2])
        write_slice(
            folder / f"slice{k:04d}.dcm", array_xyz[:, :, k].T, modality,
            position_mm=position, spacing_mm=spacing_mm, series_uid=uid, number=k + 1,
        )  # fmt: skip
    return folder
