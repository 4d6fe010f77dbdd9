"""What every radiograph reader shares: the result type, the content sniffer, value scaling.

A reader turns one file into ``(values, spacing_xy_mm, spacing_source)``: ``values`` a
``float32`` array of shape ``(rows, columns)`` in ``[0, 1]`` with bone bright, the spacing
``(x, y)`` = ``(between columns, between rows)`` in mm or ``None``, and where the spacing came
from. :func:`fracturelab.imaging.radiograph_io.read_radiograph` picks the reader, by content
first (:func:`sniff`) and then by suffix, as MONAI's ``LoadImage`` asks each reader whether it
can read a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from fracturelab.errors import InputError
from fracturelab.typing import FloatArray

__all__ = [
    "FORMATS",
    "PNG_SIGNATURE",
    "ROLE",
    "RadiographReader",
    "ReadResult",
    "Spacing",
    "luma",
    "luminance",
    "min_max",
    "reason",
    "scaled_by_type",
    "sniff",
]

Spacing = tuple[float, float]
"""Pixel spacing ``(x, y)`` = ``(between columns, between rows)`` in mm."""

ReadResult = tuple[FloatArray, Spacing | None, str | None]
"""``(values, spacing_xy_mm, spacing_source)`` as every reader returns them."""

#: The start of every message about a radiograph file.
ROLE = "radiograph"
#: The formats named in messages that ask for another file.
FORMATS = "a DICOM (.dcm), PNG, TIFF or JPEG radiograph"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# ITU-R BT.601 luma, the weights Pillow's own "L" conversion uses.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class RadiographReader(Protocol):
    """A reader of one kind of file (DICOM, Pillow, ITK), as MONAI's ``ImageReader``.

    Attributes:
        kinds: The contents it recognises, as :func:`sniff` names them (``"DICOM"``, ...).
        suffixes: The lower-case suffixes it reads when the content says nothing.

    """

    kinds: frozenset[str]
    suffixes: frozenset[str]

    def read(
        self, source: Path, kind: str | None, suffix: str, allowed: frozenset[str]
    ) -> ReadResult:
        """Read ``source``, recognised as ``kind`` by content (``None``: by ``suffix``)."""
        ...


def sniff(source: Path) -> str | None:
    """``"DICOM"`` (``DICM`` preamble), ``"PNG"``, ``"TIFF"``, ``"JPEG"`` by content, or None."""
    try:
        with source.open("rb") as handle:
            head = handle.read(132)
    except OSError as error:
        raise InputError(
            f"{ROLE} {source}: cannot be read ({reason(error)}); check the file's permissions"
        ) from None
    if len(head) == 132 and head[128:] == b"DICM":
        return "DICOM"
    if head.startswith(PNG_SIGNATURE):
        return "PNG"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    return None


def scaled_by_type(array: npt.NDArray[Any]) -> FloatArray:
    """8/16-bit unsigned values divided by the type's maximum; other types min-max."""
    if array.dtype in (np.uint8, np.uint16):
        values: FloatArray = np.divide(
            array, np.float32(np.iinfo(array.dtype).max), dtype=np.float32
        )
        return values
    return min_max(array)


def min_max(values: npt.NDArray[Any]) -> FloatArray:
    """Stretch to ``[0, 1]`` (non-finite values → 0; a constant image → all 0)."""
    if np.issubdtype(values.dtype, np.floating) or values.dtype == np.bool_:
        values = np.asarray(values, dtype=np.float32)
        finite = np.isfinite(values)
        if not finite.all():
            values = np.where(finite, values, np.float32(np.nan))
            low = float(np.nanmin(values)) if finite.any() else 0.0
            high = float(np.nanmax(values)) if finite.any() else 0.0
        else:
            low, high = float(values.min()), float(values.max())
    else:
        low, high = float(values.min()), float(values.max())
    shown: FloatArray = np.subtract(values, np.float32(low), dtype=np.float32, casting="unsafe")
    if high > low:
        shown *= np.float32(1.0 / (high - low))
    np.nan_to_num(shown, copy=False, nan=0.0)
    np.clip(shown, 0.0, 1.0, out=shown)
    return shown


def luma(rgb: npt.NDArray[Any]) -> FloatArray:
    """BT.601 luma of the first three channels of ``(rows, cols, channels)``: ``(rows, cols)``."""
    shown: FloatArray = np.asarray(rgb[..., :3], dtype=np.float32) @ _LUMA
    return shown


def luminance(rgb: npt.NDArray[Any], maximum: float) -> FloatArray:
    """BT.601 luma divided by ``maximum`` (the channels' full scale), clipped to ``[0, 1]``."""
    shown = luma(rgb)
    shown *= np.float32(1.0 / maximum)
    np.clip(shown, 0.0, 1.0, out=shown)
    return shown


def reason(error: BaseException) -> str:
    """A short, one-line cause taken from a library's exception."""
    if type(error).__name__ == "UnidentifiedImageError":
        return "not an image Pillow recognises"
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    # SimpleITK puts a source location first and the cause on an "sitk::ERROR:" line.
    useful = [line.split("ERROR:", 1)[-1].strip() for line in lines if "ERROR:" in line]
    text = (useful or lines or [type(error).__name__])[0]
    return text if len(text) <= 200 else text[:197] + "..."
