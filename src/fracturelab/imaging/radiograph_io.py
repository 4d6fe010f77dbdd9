"""Reading and writing 2D radiographs: DICOM (CR/DX), PNG, TIFF, JPEG and 2D NIfTI/MHA/NRRD.

Every reader returns a :class:`~fracturelab.imaging.radiograph.Radiograph`: a ``float32`` array
of shape ``(rows, columns)`` scaled to ``[0, 1]`` with bone bright, plus the pixel spacing as
``(x, y)`` = ``(between columns, between rows)`` in mm when the file states it.

:func:`read_radiograph` checks the path, then picks one reader of
:mod:`fracturelab.imaging.readers` as MONAI's ``LoadImage`` does: the first whose content
signatures match the file's first bytes (DICOM preamble, PNG, TIFF, JPEG), else the first that
reads the file's suffix. The DICOM display chain is described in
:mod:`fracturelab.imaging.readers.dicom`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.imaging.modality import allowed_modalities
from fracturelab.imaging.radiograph import Radiograph
from fracturelab.imaging.readers.base import (
    FORMATS,
    ROLE,
    RadiographReader,
    Spacing,
    reason,
    sniff,
)
from fracturelab.imaging.readers.dicom import DicomReader
from fracturelab.imaging.readers.itk import ItkReader
from fracturelab.imaging.readers.pillow import PillowReader
from fracturelab.outputs import atomic_path

__all__ = ["READERS", "choose_reader", "read_radiograph", "write_radiograph"]

#: The readers, in the order they are asked (by content, then by suffix).
READERS: tuple[RadiographReader, ...] = (DicomReader(), PillowReader(), ItkReader())

_WRITE_FORMATS = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF"}
_MM_PER_INCH = 25.4


# ---------------------------------------------------------------------------------- reading
def read_radiograph(
    path: str | Path,
    spacing_xy_mm: float | Sequence[float] | None = None,
    *,
    allow_modalities: Collection[str] = (),
) -> Radiograph:
    """Read a single 2D radiograph.

    The format is chosen by content first (the DICOM ``DICM`` preamble, or the PNG, TIFF or
    JPEG signature, whatever the file's name), then by extension:

    - **DICOM** (``.dcm``, ``.dicom``, no extension or a numeric one such as ``.1234``):
      8-16 bit stored, signed or unsigned, uncompressed or compressed (JPEG, JPEG-LS,
      JPEG 2000, HTJ2K, RLE through pydicom and pylibjpeg). Modality LUT, then VOI LUT or the
      first window, else min-max; MONOCHROME1 inverted. Presentation LUT Shape is not applied
      (for DX it merely restates MONOCHROME1 as ``INVERSE``). RGB / YBR → luminance. Spacing
      from ``PixelSpacing``, else ``ImagerPixelSpacing``; DICOM stores ``[row spacing,
      column spacing]``, which becomes ``spacing_xy_mm = (column spacing, row spacing)``.
      Only radiographs (Modality CR, DX or DR) are accepted unless ``allow_modalities``
      admits more (see :mod:`fracturelab.imaging.modality`); secondary captures are refused
      unless ``"SC"`` or their modality is allowed.
    - **PNG, TIFF, JPEG** (Pillow): 8-bit grey / 255; 16-bit grey / 65535 (a 16-bit file
      holding 12-bit data therefore comes out in ``[0, 0.0625]``); 32-bit integer and float
      images min-max; RGB, RGBA, palette and other colour modes → BT.601 luminance, alpha
      ignored. Plain 8/16-bit grey PNGs are decoded by libpng through SimpleITK, which is
      faster; both paths give the same values. Pixels are used as stored (EXIF orientation is
      not applied). The spacing comes
      from a PNG ``pHYs`` chunk in pixels per metre or TIFF resolution tags in pixels per
      centimetre (source ``"file"``), except 72 and 96 dpi, the defaults image software
      writes when it knows nothing; inch-based TIFF resolutions and JPEG densities are
      ignored.
    - **NIfTI, MHA/MHD, NRRD** (SimpleITK): only a 2D image, or 3D with a single slice, with
      its spacing (source ``"file"``; SimpleITK reports 1 mm when the file has none). 8/16-bit
      unsigned values are divided by the type's maximum, others min-max.

    Args:
        path: The image file.
        spacing_xy_mm: Pixel spacing in mm given by the caller (for example from a manifest):
            ``(x, y)``, or one number for square pixels. Overrides the file's spacing and
            is recorded with source ``"manifest"``.
        allow_modalities: DICOM Modality codes to accept besides CR, DX and DR
            (``--allow-modality``), and ``"SC"`` for secondary captures.

    Returns:
        The radiograph: ``array`` of shape ``(rows, columns)``, ``float32`` in ``[0, 1]`` with
        bone bright, its spacing in mm or ``None``, and where the spacing came from
        (``"PixelSpacing"``, ``"ImagerPixelSpacing"``, ``"file"``, ``"manifest"`` or ``None``).

    Raises:
        InputError: If the path is missing or a folder, the file is empty, damaged, of an
            unknown type, a 3D volume or multi-frame, compressed with a syntax no installed
            decoder reads, a DICOM of another modality, truncated (see
            :mod:`fracturelab.imaging.integrity`), or ``spacing_xy_mm`` is not positive, or
            ``allow_modalities`` holds a value that is not a modality code.

    """
    allowed = allowed_modalities(allow_modalities)
    source = Path(path)
    _check_file(source)
    suffix = _suffix(source)
    kind = sniff(source)
    reader = choose_reader(kind, suffix)
    if reader is None:
        raise InputError(
            f"{ROLE} {source}: unknown file type '{suffix}'; give {FORMATS} "
            "(a DICOM file is also recognised by its content, whatever its name)"
        )
    values, spacing, spacing_source = reader.read(source, kind, suffix, allowed)
    if values.ndim == 2 and min(values.shape) < 2:
        raise InputError(
            f"{ROLE} {source}: the image is {values.shape[1]} x {values.shape[0]} pixels, too "
            "small to be a radiograph; check the file or how it was exported"
        )
    if spacing_xy_mm is not None:
        spacing = _spacing_argument(spacing_xy_mm, source)
        spacing_source = "manifest"
    return Radiograph(values, spacing, source, spacing_source)


def choose_reader(kind: str | None, suffix: str) -> RadiographReader | None:
    """The first of :data:`READERS` that recognises ``kind``, else the first for ``suffix``.

    Args:
        kind: What the file's first bytes say (:func:`~fracturelab.imaging.readers.base.sniff`:
            ``"DICOM"``, ``"PNG"``, ``"TIFF"``, ``"JPEG"``), or ``None``.
        suffix: The file's lower-case suffix (``".nii.gz"`` whole; ``""`` for none or a
            numeric one).

    Returns:
        The reader, or ``None`` when no reader knows the file.

    """
    if kind is not None:
        for reader in READERS:
            if kind in reader.kinds:
                return reader
    for reader in READERS:
        if suffix in reader.suffixes:
            return reader
    return None


def _check_file(source: Path) -> None:
    if source.is_dir():
        raise InputError(
            f"{ROLE} {source}: is a folder, not a file; give one radiograph file ({FORMATS})"
        )
    if not source.exists():
        raise InputError(f"{ROLE} {source}: no such file; check the path")
    try:
        size = source.stat().st_size
    except OSError as error:
        raise InputError(
            f"{ROLE} {source}: cannot be read ({reason(error)}); check the file's permissions"
        ) from None
    if size == 0:
        raise InputError(
            f"{ROLE} {source}: the file is empty (0 bytes); copy or export the image again"
        )


def _suffix(source: Path) -> str:
    name = source.name.lower()
    for double in (".nii.gz",):
        if name.endswith(double):
            return double
    suffix = source.suffix.lower()
    # DICOM files are often named by their UID ("1.2.840.113619.2.55.3.604688"): no real suffix.
    return "" if suffix[1:].isdigit() else suffix


def _spacing_argument(spacing_xy_mm: float | Sequence[float], source: Path) -> Spacing:
    if isinstance(spacing_xy_mm, (int, float, np.number)):
        value = float(spacing_xy_mm)
        pair: tuple[float, ...] = (value, value)
    else:
        try:
            pair = tuple(float(v) for v in spacing_xy_mm)
        except (TypeError, ValueError):
            pair = ()
    if len(pair) != 2 or not all(math.isfinite(v) and v > 0 for v in pair):
        raise InputError(
            f"{ROLE} {source}: pixel spacing {spacing_xy_mm!r} is not valid; give one positive "
            "number in mm, or two (x between columns, y between rows)"
        )
    return pair[0], pair[1]


# ---------------------------------------------------------------------------------- writing
def write_radiograph(radiograph: Radiograph, path: str | Path) -> Path:
    """Write a radiograph as a 16-bit grey PNG or TIFF, atomically.

    Values in ``[0, 1]`` become ``0 .. 65535`` (rounded; values outside are clipped, NaN → 0).
    The pixel spacing, when known, goes into the PNG ``pHYs`` chunk as whole pixels per metre
    (so it reads back to within that rounding, about 1e-4 relative at 0.1 mm) or into the TIFF
    resolution tags in pixels per centimetre. A spacing that rounds to 72 or 96 dpi is written
    but reads back as unknown (those are taken as software defaults). PNGs are compressed for
    speed (zlib level 1, RLE strategy); TIFFs are uncompressed.

    Args:
        radiograph: What to write.
        path: Destination ending in ``.png``, ``.tif`` or ``.tiff``; its folder is created.

    Returns:
        The destination path.

    Raises:
        InputError: If the extension is not one of those.

    """
    from PIL import Image

    target = Path(path)
    kind = _WRITE_FORMATS.get(target.suffix.lower())
    if kind is None:
        raise InputError(
            f"{ROLE} output {target}: cannot write '{target.suffix}' files; give a path "
            "ending in .png, .tif or .tiff"
        )
    scaled = np.multiply(radiograph.array, np.float32(65535.0), dtype=np.float32)
    np.nan_to_num(scaled, copy=False, nan=0.0, posinf=65535.0, neginf=0.0)
    np.clip(scaled, 0.0, 65535.0, out=scaled)
    scaled += np.float32(0.5)
    image = Image.fromarray(scaled.astype(np.uint16))
    options: dict[str, Any] = {}
    spacing = radiograph.spacing_xy_mm
    if kind == "PNG":
        # zlib's RLE strategy writes filtered image rows faster and smaller than level 1 of the
        # default strategy, and the result inflates faster too (measured on 3000 x 2500 px).
        options.update(compress_level=1, compress_type=zlib.Z_RLE)
        if spacing is not None:
            options["dpi"] = (_MM_PER_INCH / spacing[0], _MM_PER_INCH / spacing[1])
    elif spacing is not None:
        options.update(resolution_unit=3, x_resolution=10.0 / spacing[0])
        options["y_resolution"] = 10.0 / spacing[1]
    with atomic_path(target) as temporary:
        image.save(temporary, format=kind, **options)
    return target
