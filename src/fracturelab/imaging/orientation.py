"""Patient coordinate systems: LPS (DICOM, ITK) and RAS (NIfTI, NiiVue).

ITK and DICOM give world positions in LPS millimetres (x towards the patient's left, y
posterior, z superior); NIfTI viewers such as NiiVue use RAS (x right, y anterior, z
superior). The two differ by the sign of x and y.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fracturelab.typing import Float64Array

__all__ = ["lps_to_ras", "ras_to_lps"]

_FLIP = np.array([-1.0, -1.0, 1.0])


def lps_to_ras(points: npt.ArrayLike) -> Float64Array:
    """Turn LPS positions into RAS positions (negate x and y).

    Args:
        points: One position ``(x, y, z)`` or an array of shape ``(N, 3)``, in mm.

    Returns:
        ``float64`` array of the same shape, in RAS mm.

    Raises:
        ValueError: The last axis does not have length 3.

    """
    values = np.asarray(points, dtype=np.float64)
    if values.ndim == 0 or values.shape[-1] != 3:
        raise ValueError(f"positions need 3 coordinates (x, y, z), got shape {values.shape}")
    flipped: Float64Array = values * _FLIP
    return flipped


def ras_to_lps(points: npt.ArrayLike) -> Float64Array:
    """Turn RAS positions into LPS positions (the same flip as :func:`lps_to_ras`)."""
    return lps_to_ras(points)
