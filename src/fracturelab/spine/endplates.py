"""Endplate profiles of a vertebral body along its depth, refined from the CT's bone edge.

Along superior lines of the mid-sagittal slab, at a series of positions across the body's
depth, the mask gives where each line enters and leaves the body (sub-voxel crossings of the
interpolated mask). Masks are often a voxel too large or too small, so each crossing is then
moved to the CT's bone edge where the CT shows one: the outermost half-maximum crossing between
the line's own bone level (the brightest value near the mask's boundary, the cortical endplate
or, where a coarse voxel averages it away, the cancellous bone) and its disc level beyond,
searched within two voxels of the mask's boundary. Lines without a clear edge (less than
100 HU of contrast, or the crossing beyond two voxels) keep no refined value.

Voxels longer than ``MAX_REFINE_VOXEL_MM`` along the lines are not refined (see that
constant for why).

The profiles are medians over the slab's lines (the refined one over the lines with a clear
edge, where at least half of them have one; else the mask's), so a ragged line or a vessel
foramen does not move them; :func:`margin_value` extrapolates one endplate to a wall with a
robust line fit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fracturelab.spine.frame import VertebraFrame
from fracturelab.spine.vertebra import VertebraSample
from fracturelab.typing import Float64Array

__all__ = [
    "EDGE_SEARCH_VOXELS",
    "MAX_REFINE_VOXEL_MM",
    "MIN_SEARCH_MM",
    "EndplateProfile",
    "endplate_profile",
    "margin_value",
    "refine_edge",
    "run_reaches_edge",
    "run_through_zero",
]


#: Smallest HU step between the endplate's bone and the disc beyond it taken as a bone edge.
MIN_EDGE_CONTRAST_HU = 100.0
#: Search half-width around the mask's boundary, in voxels along the line.
EDGE_SEARCH_VOXELS = 2.0
MIN_SEARCH_MM = 1.5
_OVERSHOOT_MM = 0.5
#: Voxels longer than this along the superior axis are not refined. On 3 mm slices a thin
#: bright cortex averaged into the slice it shares with the disc moves the half-maximum
#: outwards: on analytic bodies with partial volume (tests/spine/bodies.py) every refined
#: height reads about 2 mm tall, and on the real 3 mm example up to 4 mm taller than the
#: label map. The label map decides there, with a warning.
MAX_REFINE_VOXEL_MM = 2.0


@dataclass(frozen=True)
class EndplateProfile:
    """Top and bottom of the body along superior lines at positions across its depth.

    Args:
        a_mm: Local anterior positions of the lines (mm), shape ``(n,)``.
        top: Superior endplate position s (mm) from the mask, median over the slab's lines,
            shape ``(n,)``; NaN where no line found the body.
        bottom: Inferior endplate s (mm), likewise, shape ``(n,)``.
        top_refined: Superior endplate at the CT's bone edge, median over the slab's lines
            with a clear edge where at least half of them have one (else the mask's
            ``top``), shape ``(n,)``.
        bottom_refined: The same for the inferior endplate, shape ``(n,)``.
        line_heights: Height (mm) of every line from the mask, shape ``(n, n_slab)``; NaN
            where the line missed the body.
        top_shift: CT edge minus mask crossing of the superior endplate on every line (mm),
            shape ``(n, n_slab)``; NaN where the CT shows no clear edge (or no CT).
        bottom_shift: The same for the inferior endplate, shape ``(n, n_slab)``.
        cut: Whether a line's run through the body reaches the edge of the scan.
        refined_share: Share of endplate crossings that the CT moved (had a clear edge).

    """

    a_mm: Float64Array
    top: Float64Array
    bottom: Float64Array
    top_refined: Float64Array
    bottom_refined: Float64Array
    line_heights: Float64Array
    top_shift: Float64Array
    bottom_shift: Float64Array
    cut: bool
    refined_share: float


def endplate_profile(
    sample: VertebraSample,
    body: VertebraFrame,
    a_mm: Float64Array,
    slab_r_mm: Float64Array,
    step: float,
    reach: float,
) -> EndplateProfile:
    """Endplate positions along superior lines at ``a_mm`` x ``slab_r_mm`` (local mm).

    Args:
        sample: The vertebra (mask, and CT when given).
        body: The body's frame; lines run along its superior axis through t = 0 at s = 0.
        a_mm: Local anterior positions, shape ``(n,)``.
        slab_r_mm: Local right offsets of the slab's lines, shape ``(m,)``.
        step: Sampling step along the lines (mm).
        reach: Lines run from -reach to +reach (mm).

    Returns:
        The profile.

    """
    t = np.arange(-reach, reach + step, step)
    starts = a_mm[:, None, None] * body.anterior + slab_r_mm[None, :, None] * body.right
    points = (
        body.origin_mm + starts[:, :, None, :] + t[None, None, :, None] * body.superior
    )  # (n, m, T, 3)
    mask = sample.sample(points)
    outside = sample.outside_field_of_view(points)
    voxel = sample.voxel_length_mm(body.superior)
    hu = sample.sample_ct(points) if voxel <= MAX_REFINE_VOXEL_MM else None
    window = max(EDGE_SEARCH_VOXELS * voxel, MIN_SEARCH_MM)
    n, m = len(a_mm), len(slab_r_mm)
    raw = np.full((n, m, 2), np.nan)
    shift = np.full((n, m, 2), np.nan)
    cut, moved, edges = False, 0, 0
    for i in range(n):
        for j in range(m):
            run = run_through_zero(t, mask[i, j])
            if run is None:
                continue
            low, high, i0, i1 = run
            cut = cut or run_reaches_edge(outside[i, j], i0, i1)
            raw[i, j] = low, high
            if hu is None:
                continue
            for k, (s, outward) in enumerate(((low, -1.0), (high, 1.0))):
                edges += 1
                edge = refine_edge(t, hu[i, j], s, outward, window)
                if edge is not None:
                    shift[i, j, k] = edge - (low, high)[k]
                    moved += 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN
        mask_only = np.nanmedian(raw, axis=1)
        edge_only = np.nanmedian(raw + shift, axis=1)
    # a position's refined value comes from the lines with a clear edge where at least half of
    # the lines that found the body have one; else the mask's (no mix of both within a median)
    enough = np.sum(np.isfinite(shift), axis=1) * 2 >= np.maximum(
        np.sum(np.isfinite(raw), axis=1), 1
    )
    refined = np.where(enough, edge_only, mask_only)
    return EndplateProfile(
        a_mm=np.asarray(a_mm, dtype=float),
        top=mask_only[:, 1],
        bottom=mask_only[:, 0],
        top_refined=refined[:, 1],
        bottom_refined=refined[:, 0],
        line_heights=raw[:, :, 1] - raw[:, :, 0],
        top_shift=shift[:, :, 1],
        bottom_shift=shift[:, :, 0],
        cut=cut,
        refined_share=moved / edges if edges else 0.0,
    )


def refine_edge(
    t: Float64Array, hu: Float64Array, s: float, outward: float, window: float
) -> float | None:
    """Move one endplate crossing to the CT's bone edge (sub-voxel), if the CT shows one.

    The line's own levels are read around ``s``: the disc level is the darkest value from one
    ``window`` inside ``s`` to two outside (the disc), the bone level the brightest value from
    two ``window`` inside ``s`` up to that darkest value (and at most one ``window`` outside
    ``s``): the cortical endplate, or with thick voxels the bone's partial-volume average. The
    edge is the outermost point, before that darkest value, where the profile falls through
    half the way from the bone level down to the disc level (so a neighbour's brighter bone
    beyond a thin disc is never taken for it); it must lie within ``window`` of ``s``, with at
    least ``MIN_EDGE_CONTRAST_HU`` between the levels.

    Args:
        t: Positions along the line (mm), increasing, shape ``(T,)``.
        hu: CT values along the line, shape ``(T,)``.
        s: The mask's crossing (mm along the line).
        outward: +1 when the body lies at smaller t (superior endplate), -1 otherwise.
        window: Search half-width (mm).

    Returns:
        The refined crossing (mm along the line), or ``None`` without a clear edge.

    """
    u = outward * (t - s)
    keep = (u >= -2.0 * window) & (u <= 2.0 * window)
    if keep.sum() < 4:
        return None
    order = np.argsort(u[keep])
    uu, vv = u[keep][order], hu[keep][order]
    disc_range = uu >= -window
    if not disc_range.any():
        return None
    low = int(np.argmin(np.where(disc_range, vv, np.inf)))
    if low == 0:
        return None
    bone = float(vv[: min(low, int(np.searchsorted(uu, window, side="right")))].max())
    contrast = bone - float(vv[low])
    if contrast < MIN_EDGE_CONTRAST_HU:
        return None
    half = float(vv[low]) + 0.5 * contrast
    falls = np.flatnonzero((vv[:low] >= half) & (vv[1 : low + 1] < half))
    if not falls.size:
        return None
    j = int(falls[-1])  # outermost fall through half before the disc
    crossing = uu[j] + (vv[j] - half) / (vv[j] - vv[j + 1]) * (uu[j + 1] - uu[j])
    if abs(crossing) > window:
        return None
    return float(s + outward * crossing)


def margin_value(
    a_mm: Float64Array,
    values: Float64Array,
    fit_lo: float,
    fit_hi: float,
    at: float,
    tolerance_mm: float = 1.0,
) -> float:
    """Extrapolate a profile to ``at`` with a robust line fitted over [fit_lo, fit_hi].

    Of the lines through any two samples, the one that most samples lie within
    ``tolerance_mm`` of is kept (ties: the smaller summed residual), so a corner's rounding, a
    pedicle root or a spur covering up to half of the segment does not bend it; the line is
    then refitted by least squares to those samples. Its value at ``at`` is kept within 0.5 mm
    of the range of the samples between the segment and ``at`` (a dish's rising edge inside
    the segment is not carried on past the flat rim nearer the wall).

    Args:
        a_mm: Positions (mm), shape ``(n,)``.
        values: Profile values (mm), shape ``(n,)``; NaN values are skipped.
        fit_lo: Start of the fitted segment (mm).
        fit_hi: End of the fitted segment (mm).
        at: Where to evaluate the line (mm).
        tolerance_mm: Largest distance (mm) of a sample that agrees with a line.

    Returns:
        The line's value at ``at``, or NaN when fewer than three samples are usable.

    """
    use = (a_mm >= fit_lo) & (a_mm <= fit_hi) & np.isfinite(values)
    if use.sum() < 3:
        return float("nan")
    x, y = a_mm[use], values[use]
    i, j = np.triu_indices(len(x), k=1)
    slopes = (y[j] - y[i]) / (x[j] - x[i])
    predicted = y[i][:, None] + slopes[:, None] * (x[None, :] - x[i][:, None])
    residual = np.abs(predicted - y[None, :])
    inliers = residual <= tolerance_mm
    score = inliers.sum(axis=1) - np.where(inliers, residual, 0.0).sum(axis=1) / (
        tolerance_mm * len(x) + 1.0
    )
    keep = inliers[int(np.argmax(score))]
    slope, intercept = np.polyfit(x[keep], y[keep], 1)
    # Between the segment and the wall the endplate does not leave the range the profile spans
    # there (by more than _OVERSHOOT_MM): a central dish's rising edge in the segment must not
    # be carried on past the flat rim beyond it.
    near = (a_mm >= min(at, fit_lo)) & (a_mm <= max(at, fit_hi)) & np.isfinite(values)
    low, high = float(values[near].min()), float(values[near].max())
    value = float(intercept + slope * at)
    return float(np.clip(value, low - _OVERSHOOT_MM, high + _OVERSHOOT_MM))


def run_through_zero(t: Float64Array, values: Float64Array) -> tuple[float, float, int, int] | None:
    """Find the run of ``values >= 0.5`` containing t = 0 (else the nearest run).

    Returns:
        Sub-sample start and end positions (where the interpolated mask crosses 0.5) and the
        first and last sample indices of the run; ``None`` when there is no run.

    """
    inside = values >= 0.5
    if not inside.any():
        return None
    edges = np.diff(np.concatenate([[0], inside.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    zero = int(np.argmin(np.abs(t)))
    distance = np.where(
        (starts <= zero) & (ends >= zero), 0, np.minimum(abs(starts - zero), abs(ends - zero))
    )
    k = int(np.argmin(distance))
    i0, i1 = int(starts[k]), int(ends[k])
    return _crossing(t, values, i0, i0 - 1), _crossing(t, values, i1, i1 + 1), i0, i1


def _crossing(t: Float64Array, v: Float64Array, inside: int, out: int) -> float:
    if out < 0 or out >= len(t):
        return float(t[inside])
    denom = v[inside] - v[out]
    fraction = (v[inside] - 0.5) / denom if denom > 0 else 0.0
    return float(t[inside] + fraction * (t[out] - t[inside]))


def run_reaches_edge(outside: npt.NDArray[np.bool_], i0: int, i1: int) -> bool:
    """Whether a run reaches the edge of the scan (the mask ends at the field of view)."""
    before = outside[max(i0 - 1, 0)]
    after = outside[min(i1 + 1, len(outside) - 1)]
    return bool(before or after or outside[i0] or outside[i1])
