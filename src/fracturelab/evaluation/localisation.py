"""Errors of predicted fracture centres on radiographs, success rates and group comparison.

Points are ``(x, y)`` in pixels: x along columns, y along rows, as in
:class:`fracturelab.imaging.radiograph.Radiograph`. Pixel spacing is given in the same
order, ``(x, y)`` in mm per pixel, which is the REVERSE of DICOM PixelSpacing (row, column).
The error in mm is ``sqrt((dx * spacing_x)^2 + (dy * spacing_y)^2)``, so anisotropic pixels
are handled; it is NaN for an image whose spacing is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from fracturelab.errors import InputError
from fracturelab.typing import Float64Array

__all__ = [
    "DEFAULT_THRESHOLDS_MM",
    "GroupComparison",
    "LocalisationErrors",
    "compare_groups",
    "localisation_errors",
    "success_rates",
]

#: Distances (mm) at which success rates are usually reported.
DEFAULT_THRESHOLDS_MM = (2.0, 4.0, 10.0)


class LocalisationErrors(NamedTuple):
    """Euclidean distance between predicted and true centre of each image.

    Args:
        px: Error in pixels, shape ``(n,)``.
        mm: Error in mm, shape ``(n,)``; NaN where the pixel spacing is unknown.

    """

    px: Float64Array
    mm: Float64Array


@dataclass(frozen=True)
class GroupComparison:
    """Two groups of errors summarised and compared with the Mann-Whitney U test.

    Args:
        n_a: Number of finite errors in group a.
        n_b: Number of finite errors in group b.
        median_a: Median of group a.
        median_b: Median of group b.
        iqr_a: ``(25th, 75th)`` percentiles of group a.
        iqr_b: ``(25th, 75th)`` percentiles of group b.
        u_statistic: Mann-Whitney U of group a (scipy's convention).
        p_value: Two-sided p-value (scipy's ``method="auto"``: exact for small samples
            without ties, else the normal approximation with tie and continuity correction).

    """

    n_a: int
    n_b: int
    median_a: float
    median_b: float
    iqr_a: tuple[float, float]
    iqr_b: tuple[float, float]
    u_statistic: float
    p_value: float


def localisation_errors(
    pred_xy_px: Any, true_xy_px: Any, spacing_xy_mm: Any = None
) -> LocalisationErrors:
    """Distances between predicted and true points, in pixels and in mm.

    Args:
        pred_xy_px: Predicted centres ``(x, y)`` in pixels, shape ``(n, 2)``.
        true_xy_px: True centres ``(x, y)`` in pixels, shape ``(n, 2)``.
        spacing_xy_mm: Pixel spacing ``(x, y)`` in mm: shape ``(2,)`` for all images,
            ``(n, 2)`` per image (rows of NaN where unknown), or ``None`` if unknown.

    Returns:
        Errors in pixels and in mm, each of shape ``(n,)``.

    Raises:
        InputError: If shapes differ, coordinates are not finite, or a spacing is <= 0.

    """
    pred = _points(pred_xy_px, "pred_xy_px")
    true = _points(true_xy_px, "true_xy_px")
    if pred.shape != true.shape:
        raise InputError(
            f"pred_xy_px has shape {pred.shape} but true_xy_px has shape {true.shape}; "
            "they must match"
        )
    delta = pred - true
    px = np.hypot(delta[:, 0], delta[:, 1])
    if spacing_xy_mm is None:
        return LocalisationErrors(px=px, mm=np.full(px.shape, np.nan))
    spacing = np.asarray(spacing_xy_mm, dtype=np.float64)
    if spacing.shape not in ((2,), (pred.shape[0], 2)):
        raise InputError(
            f"spacing_xy_mm has shape {spacing.shape}; allowed: (2,) or ({pred.shape[0]}, 2)"
        )
    spacing = np.broadcast_to(spacing, pred.shape)
    known = np.isfinite(spacing)
    if np.any(spacing[known] <= 0) or np.any(known.sum(axis=1) == 1):
        raise InputError(
            "spacing_xy_mm must hold two positive numbers (mm per pixel along x and y) per "
            "image, or NaN for both where unknown"
        )
    scaled = delta * spacing
    mm = np.hypot(scaled[:, 0], scaled[:, 1])
    return LocalisationErrors(px=px, mm=mm)


def success_rates(
    errors_mm: Any, thresholds_mm: tuple[float, ...] = DEFAULT_THRESHOLDS_MM
) -> dict[float, float]:
    """Fraction of images whose error is at most each threshold.

    NaN errors (unknown spacing) and infinite ones are left out of numerator and
    denominator; give a large finite error to count a missing prediction as a failure.

    Args:
        errors_mm: Errors in mm, shape ``(n,)``.
        thresholds_mm: Distances in mm, each > 0.

    Returns:
        Threshold (mm) -> fraction in [0, 1] of finite errors ``<=`` it.

    Raises:
        InputError: If there is no finite error, an error is negative, or a threshold <= 0.

    """
    errors = _finite_errors(errors_mm, "errors_mm")
    limits = [float(t) for t in thresholds_mm]
    if not limits or min(limits) <= 0:
        raise InputError(f"thresholds_mm={tuple(thresholds_mm)!r} must be positive distances")
    return {t: float(np.mean(errors <= t)) for t in limits}


def compare_groups(errors_a: Any, errors_b: Any) -> GroupComparison:
    """Medians, interquartile ranges and a two-sided Mann-Whitney U test of two groups.

    NaN and infinite errors are left out. The test treats the groups as independent
    samples; for two methods evaluated on the same images a paired test (Wilcoxon
    signed-rank) is more powerful.

    Args:
        errors_a: Errors of group a (e.g. patch classifier), shape ``(n_a,)``, any unit.
        errors_b: Errors of group b (e.g. baseline), shape ``(n_b,)``, same unit.

    Returns:
        The summary and test.

    Raises:
        InputError: If a group has no finite error or a negative one.

    """
    from scipy.stats import mannwhitneyu

    a = _finite_errors(errors_a, "errors_a")
    b = _finite_errors(errors_b, "errors_b")
    test = mannwhitneyu(a, b, alternative="two-sided")
    qa = np.percentile(a, [25.0, 50.0, 75.0])
    qb = np.percentile(b, [25.0, 50.0, 75.0])
    return GroupComparison(
        n_a=int(a.size),
        n_b=int(b.size),
        median_a=float(qa[1]),
        median_b=float(qb[1]),
        iqr_a=(float(qa[0]), float(qa[2])),
        iqr_b=(float(qb[0]), float(qb[2])),
        u_statistic=float(test.statistic),
        p_value=float(test.pvalue),
    )


def _points(points: Any, name: str) -> Float64Array:
    array = _floats(points, name)
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] == 0:
        raise InputError(f"{name} has shape {array.shape}; allowed: (n, 2) points (x, y) in px")
    if not np.isfinite(array).all():
        raise InputError(f"{name} has NaN or infinite coordinates; allowed: finite pixels")
    return array


def _finite_errors(errors: Any, name: str) -> Float64Array:
    array = _floats(errors, name).ravel()
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        raise InputError(f"{name} has no finite error ({array.size} values); need at least one")
    if finite.min() < 0:
        raise InputError(f"{name} has negative values (min {finite.min():g}); errors are >= 0")
    return finite


def _floats(values: Any, name: str) -> Float64Array:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must hold numbers; got {type(values).__name__}") from None
