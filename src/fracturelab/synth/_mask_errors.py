"""Segmentation imperfections put into the phantom's label map (the CT stays true).

Real vertebra masks are often a voxel too large or too small, have ragged walls, or miss a
process. These errors let a measurement be checked for how well it recovers the true heights
from the CT when the mask is imperfect.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fracturelab.errors import InputError

__all__ = ["MASK_ERRORS", "apply_mask_error", "check_mask_error"]

#: Kinds of mask error: ``none``; ``dilate`` / ``erode``: every label grown or shrunk by one
#: voxel layer (6-connected); ``ragged``: walls moved by +-1 voxel in seeded patches;
#: ``missing-process``: one seeded posterior process of each vertebra left out of the label
#: map (applied while painting, see :func:`fracturelab.synth._render.paint_vertebra`).
MASK_ERRORS: tuple[str, ...] = ("none", "dilate", "erode", "ragged", "missing-process")

#: Smoothing (voxels) of the noise that decides where a ragged wall moves out or in.
RAGGED_SIGMA_VOXELS = 1.0
#: Share of the wall moved out, and the same share moved in, by ``ragged``.
RAGGED_SHARE = 0.35

_CROSS = np.array(
    [
        [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
        [[0, 1, 0], [1, 1, 1], [0, 1, 0]],
        [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    ],
    dtype=bool,
)


def check_mask_error(value: object) -> str:
    """Return the mask error's name, or raise naming the allowed ones.

    Raises:
        InputError: If ``value`` is not one of :data:`MASK_ERRORS`.

    """
    if not isinstance(value, str) or value.strip().lower() not in MASK_ERRORS:
        raise InputError(f"mask_error {value!r} is not valid; use one of {', '.join(MASK_ERRORS)}")
    return value.strip().lower()


def apply_mask_error(
    labels: npt.NDArray[np.uint8], kind: str, *, seed: int
) -> npt.NDArray[np.uint8]:
    """Return the label map with a segmentation error (``missing-process`` is done elsewhere).

    Args:
        labels: Label map, shape ``(I, J, K)``; not modified.
        kind: One of :data:`MASK_ERRORS`.
        seed: Seed of the ``ragged`` noise.

    Returns:
        A new label map of the same shape and dtype (the same array for ``none`` and
        ``missing-process``).

    """
    if kind == "dilate":
        return _dilate(labels, np.ones(labels.shape, dtype=bool))
    if kind == "erode":
        return _erode(labels, np.ones(labels.shape, dtype=bool))
    if kind == "ragged":
        from scipy.ndimage import gaussian_filter

        rng = np.random.default_rng([seed, 0x5A6])
        noise = gaussian_filter(
            rng.standard_normal(labels.shape, dtype=np.float32), RAGGED_SIGMA_VOXELS
        )
        low, high = np.quantile(noise, [RAGGED_SHARE, 1.0 - RAGGED_SHARE])
        grown = _dilate(labels, noise > high)
        return _erode(grown, noise < low)
    return labels


def _dilate(labels: npt.NDArray[np.uint8], where: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    """Give each background voxel in ``where`` with a labelled 6-neighbour that label.

    Where labels compete, the largest wins.
    """
    from scipy.ndimage import grey_dilation

    neighbour = grey_dilation(labels, footprint=_CROSS, mode="constant", cval=0)
    out = labels.copy()
    grow = where & (labels == 0) & (neighbour > 0)
    out[grow] = neighbour[grow]
    return out


def _erode(labels: npt.NDArray[np.uint8], where: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    """Clear each labelled voxel in ``where`` that has a 6-neighbour of another value.

    Voxels on the grid's edge are compared with themselves beyond it, so a vertebra cut by the
    field of view stays cut, not eroded away from the edge.
    """
    from scipy.ndimage import grey_dilation, grey_erosion

    low = grey_erosion(labels, footprint=_CROSS, mode="nearest")
    high = grey_dilation(labels, footprint=_CROSS, mode="nearest")
    out = labels.copy()
    out[where & (labels > 0) & ((low != labels) | (high != labels))] = 0
    return out
