"""Windows of the second localisation stage: near native resolution around an estimate.

A window is a square region of the original radiograph resampled to the refiner's input
(:class:`~fracturelab.femur.presets.RefineGeometry`). :class:`WindowFrame` maps between a
window's pixels and the original image's: pixel ``u`` of the window has its centre at
original ``x = origin_x + u * step`` (likewise for rows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fracturelab.femur.geometry import crop_patch, patch_box
from fracturelab.femur.presets import ASSUMED_SPACING_MM, RefineGeometry
from fracturelab.typing import FloatArray

__all__ = ["WindowFrame", "cut_window", "mm_per_window_px", "sub_window"]


@dataclass(frozen=True)
class WindowFrame:
    """Where a window lies in the original image.

    Attributes:
        origin_xy: Original coordinates ``(x, y)`` of the window's pixel ``(0, 0)`` centre.
        step: Original pixels per window pixel.
        size: Side of the window in pixels.

    """

    origin_xy: tuple[float, float]
    step: float
    size: int

    def to_window(self, point_xy_px: npt.ArrayLike) -> FloatArray:
        """Original pixel coordinates ``(..., 2)`` -> window coordinates."""
        point = np.asarray(point_xy_px, dtype=np.float64)
        return np.asarray((point - np.asarray(self.origin_xy)) / self.step, np.float32)

    def to_original(self, point_xy_window: npt.ArrayLike) -> FloatArray:
        """Window coordinates ``(..., 2)`` -> original pixel coordinates."""
        point = np.asarray(point_xy_window, dtype=np.float64)
        return np.asarray(point * self.step + np.asarray(self.origin_xy), np.float32)


def mm_per_window_px(frame: WindowFrame, spacing_xy_mm: tuple[float, float] | None) -> float:
    """Millimetres per window pixel (the assumed spacing where the image states none)."""
    spacing = ASSUMED_SPACING_MM if spacing_xy_mm is None else spacing_xy_mm[0]
    return frame.step * spacing


def cut_window(
    image: FloatArray,
    center_xy_px: tuple[float, float],
    spacing_xy_mm: tuple[float, float] | None,
    geometry: RefineGeometry,
    *,
    extra_mm: float = 0.0,
    origin_xy_px: tuple[int, int] = (0, 0),
) -> tuple[FloatArray, WindowFrame]:
    """Cut the refinement window around ``center_xy_px`` (zeros off the image).

    Args:
        image: ``(rows, columns)`` image, or a part of it whose top-left pixel in the
            original is ``origin_xy_px``.
        center_xy_px: Window centre ``(x, y)`` in original pixels.
        spacing_xy_mm: Pixel spacing (``None``: assumed, see ``ASSUMED_SPACING_MM``).
        geometry: Window size and input side.
        extra_mm: Margin added on every side at the same resolution (the training cache,
            which must hold every offset window).
        origin_xy_px: Top-left pixel of ``image`` in the original image.

    Returns:
        The window ``(n, n)`` float32 with ``n = input_px`` (more with ``extra_mm``), and its
        frame in original pixels.

    """
    side_mm = geometry.window_mm + 2 * extra_mm
    size = round(geometry.input_px * side_mm / geometry.window_mm)
    region = geometry.window_px(spacing_xy_mm) * side_mm / geometry.window_mm
    width = max(1, math.ceil(region))
    local = (center_xy_px[0] - origin_xy_px[0], center_xy_px[1] - origin_xy_px[1])
    window = crop_patch(image, local, size, region_xy_px=(width, width))
    x0, y0, _, _ = patch_box(local, size, (width, width))
    step = width / size
    origin = (
        x0 + origin_xy_px[0] - 0.5 + 0.5 * step,
        y0 + origin_xy_px[1] - 0.5 + 0.5 * step,
    )
    return window, WindowFrame(origin, step, size)


def sub_window(
    cache: FloatArray, frame: WindowFrame, center_xy_px: tuple[float, float], size: int
) -> tuple[FloatArray, WindowFrame, bool]:
    """A ``size`` x ``size`` window of ``cache`` around an original-pixel point.

    Returns:
        The window (zeros beyond the cache), its frame, and whether it lay wholly inside
        the cache (if not, the caller should cut it from the whole image instead).

    """
    center = frame.to_window(center_xy_px)
    window = crop_patch(cache, (float(center[0]), float(center[1])), size)
    x0, y0, x1, y1 = patch_box((float(center[0]), float(center[1])), size)
    rows, columns = cache.shape
    inside = x0 >= 0 and y0 >= 0 and x1 <= columns and y1 <= rows
    origin = frame.to_original((x0, y0))
    return window, WindowFrame((float(origin[0]), float(origin[1])), frame.step, size), inside
