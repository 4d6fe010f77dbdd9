"""A 2D projection radiograph: grey values plus pixel geometry."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fracturelab.errors import InputError
from fracturelab.typing import FloatArray

__all__ = ["Radiograph"]


class Radiograph:
    """Grey values of a radiograph with its pixel spacing.

    Points on a radiograph are ``[x, y]`` = ``[column, row]`` of the original image
    (``docs/design.md``, "Conventions"); the pixel spacing follows the same order, so
    ``x_mm = x * spacing_xy_mm[0]``.

    Args:
        array: Shape ``(rows, columns)``. Grey values scaled to ``[0, 1]`` for display with bone
            bright (MONOCHROME1 already inverted, modality and VOI LUT already applied). Stored
            as ``float32``.
        spacing_xy_mm: Pixel size in mm along x (between columns) and y (between rows), or
            ``None`` when the file does not say.
        path: File the radiograph was read from, if any; used in messages.
        spacing_source: Where the spacing came from: ``"PixelSpacing"``,
            ``"ImagerPixelSpacing"``, ``"manifest"``, ``"file"`` or ``None``.

    Raises:
        InputError: If ``array`` is not 2D or ``spacing_xy_mm`` is not two positive numbers.

    """

    def __init__(
        self,
        array: npt.ArrayLike,
        spacing_xy_mm: Sequence[float] | None = None,
        path: str | Path | None = None,
        spacing_source: str | None = None,
    ) -> None:
        values = np.asarray(array, dtype=np.float32)
        where = f"{path}: " if path is not None else ""
        if values.ndim != 2:
            raise InputError(
                f"{where}a radiograph must be a 2D grey image, got an array of shape "
                f"{values.shape}; give a single-frame 2D image"
            )
        if min(values.shape) < 2:
            raise InputError(f"{where}the image is {values.shape} pixels; it holds no picture")
        self.array: FloatArray = values
        self.path = Path(path) if path is not None else None
        self.spacing_xy_mm: tuple[float, float] | None = None
        if spacing_xy_mm is not None:
            try:
                pair = tuple(float(v) for v in spacing_xy_mm)
            except (TypeError, ValueError):  # a bare number, or text that is not a number
                pair = ()
            if len(pair) != 2 or not all(np.isfinite(v) and v > 0 for v in pair):
                raise InputError(
                    f"{where}spacing_xy_mm={spacing_xy_mm!r} is not valid; give two positive "
                    "numbers in mm (x between columns, y between rows) or None"
                )
            self.spacing_xy_mm = (pair[0], pair[1])
        self.spacing_source = spacing_source if self.spacing_xy_mm is not None else None

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)`` of the pixel array."""
        rows, columns = self.array.shape
        return int(rows), int(columns)

    @property
    def width_px(self) -> int:
        """Number of columns."""
        return self.shape[1]

    @property
    def height_px(self) -> int:
        """Number of rows."""
        return self.shape[0]

    def to_mm(self, point_xy_px: Sequence[float]) -> tuple[float, float] | None:
        """Convert ``[x, y]`` in pixels to mm from the image corner (``None`` if unknown)."""
        if self.spacing_xy_mm is None:
            return None
        return (
            float(point_xy_px[0]) * self.spacing_xy_mm[0],
            float(point_xy_px[1]) * self.spacing_xy_mm[1],
        )

    def with_spacing(self, spacing_xy_mm: Sequence[float] | None, source: str | None) -> Radiograph:
        """Return the same pixels with another pixel spacing."""
        return Radiograph(self.array, spacing_xy_mm, self.path, source)

    def __repr__(self) -> str:
        spacing = (
            "unknown"
            if self.spacing_xy_mm is None
            else f"{self.spacing_xy_mm[0]:g} x {self.spacing_xy_mm[1]:g} mm"
        )
        name = self.path.name if self.path is not None else "array"
        return f"Radiograph({name}, {self.width_px} x {self.height_px} px, spacing {spacing})"
