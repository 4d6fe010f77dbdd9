"""Resizing 2D images by area averaging, in NumPy (no torch needed).

Each target pixel is the mean of the source pixels its window covers: target row ``i`` of
``m`` covers source rows ``floor(i * n / m)`` to ``ceil((i + 1) * n / m)`` (exclusive) of
``n``, and likewise for columns. This is the window of PyTorch's adaptive average pooling,
which ``torch.nn.functional.interpolate(mode="area")`` uses, so results agree with it to
floating-point rounding. Shrinking this way does not alias fine detail into false patterns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from fracturelab.typing import Float64Array, FloatArray, IntArray

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
    averaged = _average_rows(values, rows)  # (rows, columns0)
    averaged = _average_rows(averaged.T, columns).T  # columns as rows: contiguous gathers
    return averaged.astype(np.float32)


def _windows(size_in: int, size_out: int) -> tuple[IntArray, IntArray]:
    """Start (inclusive) and end (exclusive) source index of each of ``size_out`` windows."""
    index = np.arange(size_out, dtype=np.int64)
    starts = (index * size_in) // size_out
    ends = -((-(index + 1) * size_in) // size_out)  # ceiling division
    return starts, ends


def _average_rows(values: npt.NDArray[Any], size: int) -> Float64Array:
    """Window means over the rows (axis 0) of a 2D array, from cumulative sums in float64."""
    count = values.shape[0]
    if count == size:
        return np.asarray(values, dtype=np.float64)
    starts, ends = _windows(count, size)
    totals = np.empty((count + 1, values.shape[1]), dtype=np.float64)
    totals[0] = 0.0
    np.cumsum(values, axis=0, dtype=np.float64, out=totals[1:])
    averaged: Float64Array = totals[ends]
    averaged -= totals[starts]
    averaged /= (ends - starts).astype(np.float64)[:, None]
    return averaged
