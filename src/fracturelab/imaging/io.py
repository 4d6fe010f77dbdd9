"""Reading and writing volumes: NIfTI, MHA/MHD, NRRD and DICOM series folders."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from fracturelab.errors import InputError
from fracturelab.imaging.dicom_checks import check_series_files
from fracturelab.imaging.integrity import check_image_file
from fracturelab.imaging.itk_quiet import itk_warnings_off
from fracturelab.imaging.modality import allowed_modalities, check_series_modality
from fracturelab.imaging.volume import Volume

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = ["read_volume", "write_volume"]

logger = logging.getLogger(__name__)

_FORMATS = "NIfTI (.nii/.nii.gz), MHA/MHD, NRRD or a folder of DICOM slices"


def read_volume(
    path: str | Path,
    *,
    role: str = "image",
    modality: str | None = None,
    allow_modalities: Collection[str] = (),
) -> Volume:
    """Read a 3D volume from a file or a DICOM series folder.

    The file is first checked for truncation and damage (see
    :mod:`fracturelab.imaging.integrity` and :mod:`fracturelab.imaging.dicom_checks`): a
    ``.nii.gz`` is read twice, once through Python's gzip to check its CRC and length, then
    by SimpleITK. ITK's own warnings are kept off standard error.

    Args:
        path: NIfTI, MHA/MHD or NRRD file, or a folder holding one DICOM series (any transfer
            syntax GDCM decodes, JPEG 2000 included). When a folder holds several series, the
            one with the most slices is read and the choice is logged.
        role: What the file is for ("CT", "label map"), used in error messages.
        modality: The DICOM Modality a series folder must have (``"CT"``); None accepts any.
            Files other than DICOM carry no modality and are not checked.
        allow_modalities: Further Modality codes to accept (``--allow-modality``).

    Returns:
        The volume with its geometry.

    Raises:
        InputError: If the path is missing, unreadable, truncated or damaged, not a
            single-channel 3D image, a DICOM series of another modality, or
            ``allow_modalities`` holds a value that is not a modality code.

    """
    import SimpleITK as sitk

    allowed = allowed_modalities(allow_modalities)
    source = Path(path)
    if not source.exists():
        raise InputError(f"{role} {source}: no such file or folder; check the path")
    with itk_warnings_off():
        if source.is_dir():
            image = _read_dicom_folder(source, role, modality, allowed)
        else:
            check_image_file(source, role)
            image = _itk_read(lambda: sitk.ReadImage(str(source)), source, role)
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


def _itk_read(read: Callable[[], sitk.Image], source: Path, role: str) -> sitk.Image:
    try:
        return read()
    except RuntimeError as error:
        reason = _first_line(str(error))
        raise InputError(
            f"{role} {source}: cannot be read as an image ({reason}); give {_FORMATS}"
        ) from None


def _read_dicom_folder(
    folder: Path, role: str, modality: str | None, allowed: frozenset[str]
) -> sitk.Image:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    series = [uid for uid in reader.GetGDCMSeriesIDs(str(folder))]
    if not series:
        raise InputError(f"{role} {folder}: holds no DICOM series; give {_FORMATS}")
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
    facts = check_series_files(folder, files_per_series[chosen], role)
    if modality is not None:
        check_series_modality(facts.modality, modality, folder, allowed, role)
    reader.SetFileNames(files_per_series[chosen])
    return _itk_read(reader.Execute, folder, role)


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
