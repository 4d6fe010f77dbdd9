"""Reading and writing volumes: NIfTI, MHA/MHD, NRRD and DICOM series folders."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fracturelab.errors import InputError
from fracturelab.imaging.volume import Volume

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = ["read_volume", "write_volume"]

logger = logging.getLogger(__name__)

_FORMATS = "NIfTI (.nii/.nii.gz), MHA/MHD, NRRD or a folder of DICOM slices"


def read_volume(path: str | Path, *, role: str = "image") -> Volume:
    """Read a 3D volume from a file or a DICOM series folder.

    Args:
        path: NIfTI, MHA/MHD or NRRD file, or a folder holding one DICOM series (any transfer
            syntax GDCM decodes, JPEG 2000 included). When a folder holds several series, the
            one with the most slices is read and the choice is logged.
        role: What the file is for ("CT", "label map"), used in error messages.

    Returns:
        The volume with its geometry.

    Raises:
        InputError: If the path is missing, unreadable, or not a single-channel 3D image.

    """
    import SimpleITK as sitk

    source = Path(path)
    if not source.exists():
        raise InputError(f"{role} {source}: no such file or folder; check the path")
    try:
        image = _read_dicom_folder(source) if source.is_dir() else sitk.ReadImage(str(source))
    except RuntimeError as error:
        reason = _first_line(str(error))
        raise InputError(
            f"{role} {source}: cannot be read as an image ({reason}); give {_FORMATS}"
        ) from None
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"{role} {source}: has {image.GetNumberOfComponentsPerPixel()} channels per voxel; "
            "give a single-channel (greyscale or label) volume"
        )
    size = image.GetSize()
    if image.GetDimension() != 3 or min(size) < 2:
        shape = "x".join(str(s) for s in size)
        raise InputError(
            f"{role} {source}: is a {image.GetDimension()}D image of size {shape}, not a 3D "
            "volume; give the whole CT series or volume"
        )
    return Volume.from_sitk(image, path=source)


def _read_dicom_folder(folder: Path) -> sitk.Image:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    series = [uid for uid in reader.GetGDCMSeriesIDs(str(folder))]
    if not series:
        raise InputError(f"folder {folder}: holds no DICOM series; give {_FORMATS}")
    files_per_series = {uid: reader.GetGDCMSeriesFileNames(str(folder), uid) for uid in series}
    chosen = max(files_per_series, key=lambda uid: len(files_per_series[uid]))
    if len(series) > 1:
        logger.warning(
            "%s holds %d DICOM series; reading %s with %d slices",
            folder,
            len(series),
            chosen or "(no UID)",
            len(files_per_series[chosen]),
        )
    reader.SetFileNames(files_per_series[chosen])
    return reader.Execute()


def write_volume(volume: Volume, path: str | Path) -> Path:
    """Write a volume atomically (a temporary file renamed into place).

    Args:
        volume: What to write.
        path: Destination; the format follows the suffix (``.nii.gz``, ``.mha``, ``.nrrd``).

    Returns:
        The destination path.

    """
    import SimpleITK as sitk

    from fracturelab.outputs import atomic_path

    with atomic_path(path) as temporary:
        sitk.WriteImage(volume.to_sitk(), str(temporary), useCompression=True)
    return Path(path)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    useful = [line for line in lines if "ERROR" in line.upper() or "unable" in line.lower()]
    line = (useful or lines or ["unknown reason"])[-1]
    return line[:200]
