"""The smooth centre line of a synthetic spine, with kyphosis, lordosis and a mild scoliosis."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from fracturelab.errors import InputError
from fracturelab.synth.anatomy import nominal_size
from fracturelab.typing import Float64Array

__all__ = ["SpineCurve", "pchip"]


#: Sagittal tilt of the superior tangent towards posterior, in degrees at curvature 1, at
#: anatomical landmarks: cervical lordosis (apex C5), thoracic kyphosis (apex T7), lumbar
#: lordosis (apex L3) and the sacral slope. Positive: going up, the spine moves posterior.
SAGITTAL_ANCHORS_DEG: dict[str, float] = {
    "C1": 15.0,
    "C5": 0.0,
    "T2": -15.0,
    "T7": 0.0,
    "T12": 18.0,
    "L3": 0.0,
    "S1": -28.0,
}

#: Largest lateral tilt of the tangent at curvature 1 (a gentle C-shaped scoliosis), degrees.
LATERAL_TILT_DEG = 4.0

_STEP_MM = 0.25
_MARGIN_MM = 80.0


class SpineCurve:
    """The spinal centre line in LPS mm, parametrised by arc length.

    Arc length ``arc_mm`` runs caudally from the centre of C1 (0) along the curve. Vertebral
    bodies are stacked along it: each level's body centre lies on the curve, half a body
    height plus the disc below plus half the next body height above the next centre. The
    sagittal shape interpolates :data:`SAGITTAL_ANCHORS_DEG` smoothly (monotone cubic) over
    the levels; the lateral bend is a few degrees. Both scale with ``curvature`` (0 gives a
    straight vertical spine). C1's centre sits at the world origin.

    Args:
        stack: The whole spine's levels in cranio-caudal order (see
            :func:`~fracturelab.synth.anatomy.spine_stack`).
        curvature: Scale of kyphosis, lordosis and scoliosis, in [0, 1.5].

    Raises:
        InputError: If ``curvature`` is out of range.

    """

    def __init__(self, stack: Sequence[str], *, curvature: float = 1.0) -> None:
        if not 0.0 <= curvature <= 1.5:
            raise InputError(
                f"curvature {curvature!r} is out of range; give a number in [0, 1.5] "
                "(0: straight spine, 1: typical kyphosis and lordosis)"
            )
        self.stack = tuple(stack)
        self.curvature = float(curvature)
        sizes = [nominal_size(level) for level in self.stack]
        centers = [0.0]
        for upper, lower in itertools.pairwise(sizes):
            step = upper.height_mm / 2 + upper.gap_below_mm + lower.height_mm / 2
            centers.append(centers[-1] + step)
        self.center_arc_mm: Float64Array = np.asarray(centers, dtype=float)

        anchors = [(self.stack.index(name), deg) for name, deg in SAGITTAL_ANCHORS_DEG.items()]
        self._anchor_q = np.array([q for q, _ in anchors], dtype=float)
        self._anchor_deg = np.array([deg for _, deg in anchors], dtype=float)
        self._last_q = float(len(self.stack) - 1)

        arc = np.arange(-_MARGIN_MM, centers[-1] + _MARGIN_MM + _STEP_MM, _STEP_MM)
        tangents = self.tangent(arc)
        steps = 0.5 * (tangents[1:] + tangents[:-1]) * _STEP_MM
        positions = np.concatenate([np.zeros((1, 3)), -np.cumsum(steps, axis=0)])
        positions -= np.array([np.interp(0.0, arc, positions[:, i]) for i in range(3)])
        self._arc: Float64Array = arc
        self._positions: Float64Array = positions

    def tangent(self, arc_mm: npt.ArrayLike) -> Float64Array:
        """Return the unit tangent pointing superior, shape ``(..., 3)`` for arcs ``(...)``."""
        arc = np.asarray(arc_mm, dtype=float)
        q = np.interp(arc, self.center_arc_mm, np.arange(len(self.stack), dtype=float))
        theta = np.radians(self.curvature * pchip(self._anchor_q, self._anchor_deg, q))
        phi = np.radians(self.curvature * LATERAL_TILT_DEG * np.cos(np.pi * q / self._last_q))
        vector = np.stack(
            [np.sin(phi), np.cos(phi) * np.sin(theta), np.cos(phi) * np.cos(theta)], axis=-1
        )
        return np.asarray(vector, dtype=float)

    def position_mm(self, arc_mm: float) -> Float64Array:
        """Return the LPS point on the curve at an arc length, shape ``(3,)``."""
        return np.array([np.interp(arc_mm, self._arc, self._positions[:, i]) for i in range(3)])

    def center_mm(self, level: str) -> Float64Array:
        """Return the LPS centre of a level's vertebral body, shape ``(3,)``."""
        return self.position_mm(float(self.center_arc_mm[self.stack.index(level)]))

    def frame(self, level: str) -> tuple[Float64Array, Float64Array, Float64Array]:
        """Return the local right-handed frame of a level at its body centre.

        Returns:
            ``(right, anterior, superior)`` unit vectors in LPS, each shape ``(3,)``:
            ``superior`` is the curve's tangent, ``anterior`` the patient's anterior direction
            (-y) made perpendicular to it, and ``right = anterior x superior``.

        """
        superior = self.tangent(float(self.center_arc_mm[self.stack.index(level)]))
        superior = superior / np.linalg.norm(superior)
        forward = np.array([0.0, -1.0, 0.0])
        anterior = forward - (forward @ superior) * superior
        anterior = anterior / np.linalg.norm(anterior)
        right = np.cross(anterior, superior)
        return right, anterior, superior


def pchip(x_known: Float64Array, y_known: Float64Array, x: Float64Array) -> Float64Array:
    """Monotone piecewise cubic Hermite interpolation (Fritsch-Carlson, as SciPy's PCHIP).

    The curve is smooth (continuous first derivative), passes through the known points and
    does not overshoot them: a local extremum of the data is a local extremum of the curve.

    Args:
        x_known: Strictly increasing abscissae, shape ``(n,)`` with ``n >= 2``.
        y_known: Values there, shape ``(n,)``.
        x: Where to evaluate, any shape, within ``[x_known[0], x_known[-1]]``.

    Returns:
        Interpolated values, the shape of ``x``.

    """
    h = np.diff(x_known)
    delta = np.diff(y_known) / h
    slopes = np.zeros_like(y_known)
    if len(h) > 1:
        w1 = 2 * h[1:] + h[:-1]
        w2 = h[1:] + 2 * h[:-1]
        same_sign = delta[:-1] * delta[1:] > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = (w1 + w2) / (w1 / delta[:-1] + w2 / delta[1:])
        slopes[1:-1] = np.where(same_sign, mean, 0.0)
        slopes[0] = _end_slope(h[0], h[1], delta[0], delta[1])
        slopes[-1] = _end_slope(h[-1], h[-2], delta[-1], delta[-2])
    else:
        slopes[:] = delta[0]
    points = np.asarray(x, dtype=float)
    k = np.clip(np.searchsorted(x_known, points, side="right") - 1, 0, len(h) - 1)
    t = (points - x_known[k]) / h[k]
    h00 = (1 + 2 * t) * (1 - t) ** 2
    h10 = t * (1 - t) ** 2
    h01 = t**2 * (3 - 2 * t)
    h11 = t**2 * (t - 1)
    value = (
        h00 * y_known[k]
        + h10 * h[k] * slopes[k]
        + h01 * y_known[k + 1]
        + h11 * h[k] * slopes[k + 1]
    )
    return np.asarray(value, dtype=float)


def _end_slope(h0: float, h1: float, delta0: float, delta1: float) -> float:
    slope = ((2 * h0 + h1) * delta0 - h0 * delta1) / (h0 + h1)
    if np.sign(slope) != np.sign(delta0):
        return 0.0
    if np.sign(delta0) != np.sign(delta1) and abs(slope) > abs(3 * delta0):
        return float(3 * delta0)
    return float(slope)
