"""Image geometry for the femur networks: aspect-preserving resize and native-resolution crops.

Pixel convention: integer coordinates are pixel centres, so the image spans
``[-0.5, width - 0.5]`` in x. Points are ``(x, y)`` = ``(column, row)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch's documented alias

from fracturelab.typing import FloatArray

__all__ = ["Letterbox", "crop_patch", "patch_box", "resize_area"]


def resize_area(image: torch.Tensor, rows: int, columns: int) -> torch.Tensor:
    """Resize ``(rows0, cols0)`` or ``(B, C, rows0, cols0)`` to ``(rows, columns)``.

    Downsampling averages every source pixel that falls in a target pixel (area
    interpolation: no aliasing of fine detail into false patterns); upsampling is bilinear.
    """
    batch = image if image.ndim == 4 else image[None, None]
    if rows <= batch.shape[-2] and columns <= batch.shape[-1]:
        out = F.interpolate(batch, size=(rows, columns), mode="area")
    else:
        out = F.interpolate(batch, size=(rows, columns), mode="bilinear", align_corners=False)
    return out if image.ndim == 4 else out[0, 0]


@dataclass(frozen=True)
class Letterbox:
    """Fit an image of any shape into a ``size x size`` square, keeping its aspect ratio.

    The image is scaled so that its longer side becomes ``size`` pixels and centred; the rest
    is padded with zeros (black, like air on a radiograph).

    Attributes:
        size: Side of the square in pixels.
        source_shape: ``(rows, columns)`` of the original image.
        resized_shape: ``(rows, columns)`` of the scaled image inside the square.
        offset_xy: Position ``(x, y)`` of the scaled image's top-left corner in the square.

    """

    size: int
    source_shape: tuple[int, int]
    resized_shape: tuple[int, int]
    offset_xy: tuple[int, int]

    @classmethod
    def fit(cls, source_shape: tuple[int, int], size: int) -> Letterbox:
        """Plan the resize of an image of ``source_shape = (rows, columns)`` into ``size``."""
        rows, columns = source_shape
        scale = size / max(rows, columns)
        new_rows = max(1, min(size, round(rows * scale)))
        new_columns = max(1, min(size, round(columns * scale)))
        offset = ((size - new_columns) // 2, (size - new_rows) // 2)
        return cls(size, (rows, columns), (new_rows, new_columns), offset)

    @property
    def scale_xy(self) -> tuple[float, float]:
        """Input pixels per original pixel along x and y (nearly equal)."""
        return (
            self.resized_shape[1] / self.source_shape[1],
            self.resized_shape[0] / self.source_shape[0],
        )

    def apply(self, image: torch.Tensor) -> torch.Tensor:
        """Resize and pad ``image`` of shape ``source_shape`` to ``(size, size)``."""
        resized = resize_area(image, *self.resized_shape)
        square = resized.new_zeros((self.size, self.size))
        x0, y0 = self.offset_xy
        square[y0 : y0 + self.resized_shape[0], x0 : x0 + self.resized_shape[1]] = resized
        return square

    def to_input(self, point_xy_px: npt.ArrayLike) -> FloatArray:
        """Map original pixel coordinates ``(..., 2)`` to coordinates in the square."""
        point = np.asarray(point_xy_px, dtype=np.float64)
        scale = np.asarray(self.scale_xy)
        return np.asarray((point + 0.5) * scale - 0.5 + np.asarray(self.offset_xy), np.float32)

    def to_original(self, point_xy_input: npt.ArrayLike) -> FloatArray:
        """Map coordinates in the square ``(..., 2)`` back to original pixel coordinates."""
        point = np.asarray(point_xy_input, dtype=np.float64)
        scale = np.asarray(self.scale_xy)
        return np.asarray((point - np.asarray(self.offset_xy) + 0.5) / scale - 0.5, np.float32)


def patch_box(
    center_xy_px: tuple[float, float],
    size_px: int = 224,
    region_xy_px: tuple[float, float] | None = None,
) -> tuple[int, int, int, int]:
    """Pixel box ``(x0, y0, x1, y1)`` (x1, y1 exclusive) that :func:`crop_patch` cuts.

    The pixel holding the centre sits at index ``width // 2`` of the box.
    """
    width = size_px if region_xy_px is None else max(1, math.ceil(region_xy_px[0]))
    height = size_px if region_xy_px is None else max(1, math.ceil(region_xy_px[1]))
    x0 = math.floor(center_xy_px[0] + 0.5) - width // 2
    y0 = math.floor(center_xy_px[1] + 0.5) - height // 2
    return x0, y0, x0 + width, y0 + height


def crop_patch(
    image: FloatArray,
    center_xy_px: tuple[float, float],
    size_px: int = 224,
    *,
    region_xy_px: tuple[float, float] | None = None,
    origin_xy_px: tuple[int, int] = (0, 0),
) -> FloatArray:
    """Cut a ``size_px x size_px`` patch centred on a point, padding with zeros off the image.

    With ``region_xy_px`` unset the patch is at native resolution: pixel for pixel, no
    interpolation, the centre pixel at index ``size_px // 2`` (for a whole-pixel centre).
    With ``region_xy_px = (width, height)`` in original pixels (e.g. a fixed size in mm
    divided by the spacing), that region is cut and resampled to ``size_px``.

    Args:
        image: Shape ``(rows, columns)``; may be a window of a larger image.
        center_xy_px: Centre ``(x, y)`` in the coordinates of the full image.
        size_px: Side of the output patch in pixels.
        region_xy_px: Size of the region to resample, or ``None`` for native resolution.
        origin_xy_px: Position of ``image``'s top-left pixel in the full image (for windows).

    Returns:
        Shape ``(size_px, size_px)``, float32.

    """
    local = (center_xy_px[0] - origin_xy_px[0], center_xy_px[1] - origin_xy_px[1])
    x0, y0, x1, y1 = patch_box(local, size_px, region_xy_px)
    width, height = x1 - x0, y1 - y0
    patch = np.zeros((height, width), dtype=np.float32)
    rows, columns = image.shape
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(columns, x0 + width), min(rows, y0 + height)
    if sx1 > sx0 and sy1 > sy0:
        patch[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    if region_xy_px is None:
        return patch
    tensor = torch.from_numpy(patch)[None, None]
    out = F.interpolate(
        tensor, size=(size_px, size_px), mode="bilinear", align_corners=False, antialias=True
    )
    return np.ascontiguousarray(out[0, 0].numpy())
