"""Resizing 2D images by area averaging, in NumPy (no torch needed).

Each target pixel is the mean of the source pixels its window covers: target row ``i`` of
``m`` covers source rows ``floor(i * n / m)`` to ``ceil((i + 1) * n / m)`` (exclusive) of
``n``, and likewise for columns. This is the window of PyTorch's adaptive average pooling,
which ``torch.nn.functional.interpolate(mode="area")`` uses, so results agree with it to
floating-point rounding. Shrinking this way does not alias fine detail into false patterns.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fracturelab.typing import FloatArray, IntArray

__all__ = ["resize_area"]


def resize_area(image: npt.ArrayLike, rows: int, columns: int) -> FloatArray:
    """Resize a 2D image to ``(rows, columns)`` by area averaging.

    Meant for shrinking (display copies, previews). Enlarging with the same windows repeats
    source pixels (nearest neighbour), as adaptive average pooling does.

    Args:
        image: Array of shape ``(rows0, columns0)``; any real dtype.
        rows: Rows of the result, at least 1.
        columns: Columns of the result, at least 1.

    Returns:
        ``float32`` array of shape ``(rows, columns)``; the input itself (as ``float32``) when
        the shape is already right. Sums are taken in ``float64``.

    Raises:
        ValueError: ``image`` is not 2D or empty, or ``rows`` / ``columns`` is below 1.

    """
    values = np.asarray(image)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"resize_area needs a non-empty 2D image, got shape {values.shape}")
    if rows < 1 or columns < 1:
        raise ValueError(f"resize_area needs rows and columns >= 1, got {rows} x {columns}")
    if values.shape == (rows, columns):
        return np.asarray(values, dtype=np.float32)
    averaged = _average_along(np.asarray(values, dtype=np.float64), rows, axis=0)
    averaged = _average_along(averaged, columns, axis=1)
    return averaged.astype(np.float32)


def _windows(size_in: int, size_out: int) -> tuple[IntArray, IntArray]:
    """Start (inclusive) and end (exclusive) source index of each of ``size_out`` windows."""
    index = np.arange(size_out, dtype=np.int64)
    starts = (index * size_in) // size_out
    ends = -((-(index + 1) * size_in) // size_out)  # ceiling division
    return starts, ends


def _average_along(
    values: npt.NDArray[np.float64], size: int, axis: int
) -> npt.NDArray[np.float64]:
    """Window means of ``values`` along ``axis`` (0 rows, 1 columns) from cumulative sums."""
    if values.shape[axis] == size:
        return values
    starts, ends = _windows(values.shape[axis], size)
    padding = [(0, 0), (0, 0)]
    padding[axis] = (1, 0)
    totals = np.pad(np.cumsum(values, axis=axis), padding)
    sums = np.take(totals, ends, axis=axis) - np.take(totals, starts, axis=axis)
    counts = (ends - starts).astype(np.float64)
    shape = (-1, 1) if axis == 0 else (1, -1)
    averaged: npt.NDArray[np.float64] = sums / counts.reshape(shape)
    return averaged
