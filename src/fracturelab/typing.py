"""Array and path types shared by the package (one home; import them from here).

Shapes are documented where arrays are used; these aliases only fix the element type.
"""

from __future__ import annotations

from os import PathLike as _PathLike

import numpy as np
import numpy.typing as npt

__all__ = ["BoolArray", "Float64Array", "FloatArray", "IntArray", "PathLike"]

FloatArray = npt.NDArray[np.float32]
"""Single-precision array: images, heatmaps, network inputs."""

Float64Array = npt.NDArray[np.float64]
"""Double-precision array: geometry in millimetres, statistics."""

IntArray = npt.NDArray[np.int64]
"""Integer array: indices, label values."""

BoolArray = npt.NDArray[np.bool_]
"""Boolean array: masks."""

PathLike = str | _PathLike[str]
"""A file-system path given as text or as a path object."""
