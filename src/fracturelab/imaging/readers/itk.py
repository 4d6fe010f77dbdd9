"""The SimpleITK radiograph reader: a 2D (or single-slice 3D) NIfTI, MetaImage or NRRD."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fracturelab.errors import InputError
from fracturelab.imaging.integrity import check_image_file
from fracturelab.imaging.itk_quiet import itk_warnings_off
from fracturelab.imaging.readers.base import (
    FORMATS,
    ROLE,
    ReadResult,
    luma,
    luminance,
    min_max,
    reason,
    scaled_by_type,
)

__all__ = ["ItkReader"]


class ItkReader:
    """Reads ``.nii``, ``.nii.gz``, ``.mha``, ``.mhd``, ``.nrrd`` and ``.nhdr`` by suffix."""

    kinds: frozenset[str] = frozenset()
    suffixes = frozenset({".nii", ".nii.gz", ".mha", ".mhd", ".nrrd", ".nhdr"})

    def read(
        self, source: Path, kind: str | None, suffix: str, allowed: frozenset[str]
    ) -> ReadResult:
        """Read a 2D image with its spacing (SimpleITK reports 1 mm when the file has none)."""
        return _read_itk(source)


def _read_itk(source: Path) -> ReadResult:
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(source))
    try:
        with itk_warnings_off():
            reader.ReadImageInformation()
        size = tuple(int(s) for s in reader.GetSize())
        if len(size) > 3 or (len(size) == 3 and size[2] > 1):
            shape = "x".join(str(s) for s in size)
            raise InputError(
                f"{ROLE} {source}: is a {len(size)}D volume of {shape} voxels, not a 2D "
                "radiograph; give a single 2D radiograph (for a CT volume use `fracturelab "
                "spine analyze`)"
            )
        check_image_file(source, ROLE)
        with itk_warnings_off():
            image = reader.Execute()
    except RuntimeError as error:
        raise InputError(
            f"{ROLE} {source}: cannot be read as an image ({reason(error)}); check that the "
            f"file is complete, or give {FORMATS}"
        ) from None
    array = np.asarray(sitk.GetArrayViewFromImage(image))
    components = int(image.GetNumberOfComponentsPerPixel())
    if image.GetDimension() == 3:
        array = array[0]
    spacing = tuple(float(s) for s in image.GetSpacing()[:2])
    if components == 1:
        values = scaled_by_type(array)
    elif components in (3, 4):
        if array.dtype in (np.uint8, np.uint16):
            values = luminance(array, float(np.iinfo(array.dtype).max))
        else:
            values = min_max(luma(array))
    else:
        raise InputError(
            f"{ROLE} {source}: has {components} values per pixel; give a greyscale or RGB "
            "2D radiograph"
        )
    if not all(math.isfinite(v) and v > 0 for v in spacing):
        return values, None, None
    return values, (spacing[0], spacing[1]), "file"
