"""Writing a :class:`Volume` as a DICOM series: one file per slice, CT Image Storage.

Test data for the batch reader and PACS code (phantoms pushed to Orthanc, folders of several
series) and a way to hand a volume to DICOM-only tools. The series reads back with SimpleITK
(and :func:`fracturelab.imaging.read_volume`) with the same geometry and the same values:

- ``ImagePositionPatient`` of slice ``k`` is the volume's LPS position of voxel ``(0, 0, k)``;
- ``ImageOrientationPatient`` holds the directions of the first two array axes (a row of pixels
  runs along axis 0, a column along axis 1);
- ``PixelSpacing`` is ``[row spacing, column spacing]`` = ``[spacing_j, spacing_i]``;
  ``SliceThickness`` and ``SpacingBetweenSlices`` are ``spacing_k``;
- the values are stored as unsigned 16-bit integers with ``RescaleSlope`` 1 and
  ``RescaleIntercept`` -1024, or the lowest value when it is lower (values are rounded, and
  clipped to 65535 above the intercept).

A left-handed volume (third axis against the cross product of the first two) is written with
its slices in reverse order, so that every series is right-handed as DICOM expects; the voxels
and their world positions are unchanged.

No patient name is written unless one is given; UIDs are derived deterministically from the
series UID, so writing the same volume twice with the same ``series_uid`` gives the same files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fracturelab.errors import InputError
from fracturelab.imaging.volume import Volume
from fracturelab.outputs import atomic_path
from fracturelab.typing import PathLike

__all__ = ["CT_IMAGE_STORAGE", "DicomSeriesInfo", "write_dicom_series"]

#: SOP Class UID of CT Image Storage.
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
#: SOP Class UID of MR Image Storage (for series written with ``modality="MR"``).
_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
_INTERCEPT = -1024.0
_MAX_STORED = 65535


@dataclass
class DicomSeriesInfo:
    """What identifies a written series, and the header values that describe it.

    Attributes:
        patient_id: ``PatientID`` (an identifier, not a name).
        series_uid: ``SeriesInstanceUID``; generated when empty.
        study_uid: ``StudyInstanceUID``; derived from the series UID when empty.
        modality: ``Modality`` (``CT``; another code makes a series the batch reader skips).
        body_part: ``BodyPartExamined`` (``CHEST``, ``ABDOMEN``, ... or empty).
        series_description: ``SeriesDescription``.
        series_number: ``SeriesNumber``.
        patient_name: ``PatientName``; empty (none written) unless given.
        slice_thickness_mm: ``SliceThickness`` when it should differ from the slice spacing.
        extra: Further header values, keyword -> value (e.g. ``{"StudyDate": "20260101"}``).

    """

    patient_id: str = "ANON"
    series_uid: str = ""
    study_uid: str = ""
    modality: str = "CT"
    body_part: str = "ABDOMEN"
    series_description: str = "fracturelab volume"
    series_number: int = 1
    patient_name: str = ""
    slice_thickness_mm: float | None = None
    extra: dict[str, object] = field(default_factory=dict)


def _right_handed(volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """The voxels and affine with the third axis along the cross product of the first two."""
    affine = volume.affine.copy()
    array = np.asarray(volume.array)
    if float(np.linalg.det(affine[:3, :3])) < 0:
        n_slices = array.shape[2]
        affine[:3, 3] = affine[:3, 3] + (n_slices - 1) * affine[:3, 2]
        affine[:3, 2] = -affine[:3, 2]
        array = array[:, :, ::-1]
    return array, affine


def _stored_pixels(array: np.ndarray) -> tuple[np.ndarray, float]:
    """The stored values and the ``RescaleIntercept`` that maps them back."""
    values = np.asarray(array, dtype=np.float64)
    lowest = float(np.floor(values.min())) if values.size else _INTERCEPT
    intercept = min(_INTERCEPT, lowest)
    stored = np.clip(np.rint(values - intercept), 0, _MAX_STORED).astype(np.uint16)
    return stored, intercept


def write_dicom_series(
    volume: Volume,
    out_dir: PathLike,
    info: DicomSeriesInfo | None = None,
    *,
    prefix: str = "slice",
) -> list[Path]:
    """Write ``volume`` as a DICOM series, one file per slice, into ``out_dir``.

    Args:
        volume: The image (HU for a CT), shape ``(I, J, K)``; slices are taken along ``K``,
            each ``J`` rows by ``I`` columns.
        out_dir: Destination folder; created if missing. Other files there are left alone,
            so several series can share a folder.
        info: Identifiers and header values (defaults: an anonymous abdomen CT, new UIDs).
        prefix: File name prefix; files are ``<prefix>_<k:04d>.dcm``.

    Returns:
        The written files, in slice order (each written atomically).

    Raises:
        InputError: The volume has fewer than two slices or the folder cannot be written.

    """
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import (
        PYDICOM_IMPLEMENTATION_UID,
        UID,
        ExplicitVRLittleEndian,
        generate_uid,
    )

    info = info or DicomSeriesInfo()
    folder = Path(out_dir)
    array, affine = _right_handed(volume)
    n_cols, n_rows, n_slices = array.shape
    if n_slices < 2:
        raise InputError(f"{folder}: a DICOM series needs at least 2 slices, the volume has 1")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"{folder}: cannot be created ({error.strerror}); give a writable folder"
        ) from None
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    direction = affine[:3, :3] / spacing
    series_uid = str(info.series_uid or generate_uid())
    study_uid = info.study_uid or generate_uid(entropy_srcs=["study", series_uid])
    frame_uid = generate_uid(entropy_srcs=["frame", series_uid])
    sop_class = UID(_MR_IMAGE_STORAGE if info.modality.upper() == "MR" else CT_IMAGE_STORAGE)
    pixels, intercept = _stored_pixels(array)
    orientation = [float(f"{v:.10g}") for v in (*direction[:, 0], *direction[:, 1])]
    written: list[Path] = []
    for k in range(n_slices):
        sop_uid = generate_uid(entropy_srcs=["instance", series_uid, str(k)])
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = sop_uid
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.Modality = info.modality
        ds.PatientID = info.patient_id
        ds.PatientName = info.patient_name
        ds.BodyPartExamined = info.body_part
        ds.SeriesDescription = info.series_description
        ds.SeriesNumber = info.series_number
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        position = affine[:3, :3] @ np.array([0.0, 0.0, float(k)]) + affine[:3, 3]
        ds.ImagePositionPatient = [float(f"{v:.10g}") for v in position]
        ds.ImageOrientationPatient = orientation
        ds.SliceLocation = float(f"{float(position @ direction[:, 2]):.10g}")
        ds.PixelSpacing = [float(f"{spacing[1]:.10g}"), float(f"{spacing[0]:.10g}")]
        thickness = info.slice_thickness_mm if info.slice_thickness_mm else spacing[2]
        ds.SliceThickness = float(f"{thickness:.10g}")
        ds.SpacingBetweenSlices = float(f"{spacing[2]:.10g}")
        ds.Rows = n_rows
        ds.Columns = n_cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = intercept
        ds.RescaleSlope = 1.0
        ds.RescaleType = "HU"
        for keyword, value in info.extra.items():
            setattr(ds, keyword, value)
        ds.PixelData = np.ascontiguousarray(pixels[:, :, k].T).tobytes()
        target = folder / f"{prefix}_{k:04d}.dcm"
        try:
            with atomic_path(target) as temporary:
                pydicom.dcmwrite(temporary, ds, enforce_file_format=True)
        except OSError as error:
            raise InputError(
                f"{target}: cannot be written ({error.strerror}); check the folder"
            ) from None
        written.append(target)
    return written
