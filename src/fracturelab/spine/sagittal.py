"""The sagittal plane the spine overview shows, planned from the measured vertebrae.

The reformat is one of two kinds (:func:`plan_reformat`):

* ``straightened``: a curved planar reformat along a smooth curve through the centres of the
  measured vertebrae, so a whole curved spine stands upright in one picture;
* ``oblique``: a plain oblique sagittal plane through the vertebrae's centres, spanned by their
  mean superior and mean anterior axes. It is used when the curve is poorly determined: fewer
  than four measured vertebrae, a sharp turn between neighbouring centres, centres that
  disagree with the vertebrae's own axes, or a bend so tight that the straightened image would
  fold onto itself (on small crops the curve through two or three biased centres fans out or
  tilts the picture).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fracturelab.errors import InputError
from fracturelab.imaging import Volume
from fracturelab.spine.report import SpineReport, VertebraResult
from fracturelab.typing import Float64Array

__all__ = [
    "ANTERIOR_MM",
    "PATIENT_ANTERIOR",
    "PATIENT_SUPERIOR",
    "POSTERIOR_MM",
    "SagittalReformat",
    "oblique_plane",
    "plan_reformat",
    "sample_reformat",
    "vertebra_rows_mm",
]

#: How far the picture reaches in front of / behind the line through the vertebrae, mm.
ANTERIOR_MM = 70.0
POSTERIOR_MM = 80.0
#: Patient axes (LPS) used when a vertebra carries no axes of its own.
PATIENT_SUPERIOR = np.array([0.0, 0.0, 1.0])
PATIENT_ANTERIOR = np.array([0.0, -1.0, 0.0])
_END_EXTENSION_MM = 30.0
_SLAB_OFFSETS_MM = (-2.0, -1.0, 0.0, 1.0, 2.0)
_MIN_CURVE_ANCHORS = 4
_MAX_TURN_DEG = 30.0
_MAX_AXIS_DISAGREEMENT_DEG = 35.0
_MIN_CURVE_SPAN_MM = 60.0


@dataclass(frozen=True)
class SagittalReformat:
    """Where each pixel of a sagittal reformat lies in the patient (LPS mm).

    Row ``i`` is centred on ``points_mm[i]`` and spans the plane of ``anterior[i]`` and
    ``right[i]`` (normal ``superior[i]``); column ``j`` lies ``across_mm[j]`` mm towards
    ``anterior[i]``. Rows run from head (row 0) to foot, columns from anterior to posterior.

    Args:
        kind: ``straightened`` (along the spine curve) or ``oblique`` (one plane).
        reason: Why this kind was chosen, in words.
        points_mm: Row centres, shape ``(rows, 3)``.
        superior: Unit head-wards direction of each row, shape ``(rows, 3)``.
        anterior: Unit anterior direction of each row, shape ``(rows, 3)``.
        right: Unit direction to the patient's right, shape ``(rows, 3)``.
        across_mm: Anterior distance of each column from the row centre, decreasing,
            shape ``(cols,)``.
        step_mm: Pixel size along and across, mm.

    """

    kind: str
    reason: str
    points_mm: Float64Array
    superior: Float64Array
    anterior: Float64Array
    right: Float64Array
    across_mm: Float64Array
    step_mm: float

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the image."""
        return len(self.points_mm), len(self.across_mm)

    def grid_mm(self, offset_mm: float = 0.0) -> Float64Array:
        """LPS position of every pixel, ``offset_mm`` to the right; shape ``(rows, cols, 3)``."""
        return np.asarray(
            self.points_mm[:, None, :]
            + self.across_mm[None, :, None] * self.anterior[:, None, :]
            + offset_mm * self.right[:, None, :],
            dtype=float,
        )

    def project(self, points_mm: npt.ArrayLike) -> Float64Array:
        """Fractional ``(row, col)`` of LPS points in the image; NaN where a point is off it.

        A point belongs to the row whose plane contains it (found by interpolating between the
        two rows whose planes bracket it); among several such rows the nearest one is taken.

        Args:
            points_mm: LPS points, shape ``(N, 3)``.

        Returns:
            Pixel coordinates, shape ``(N, 2)``.

        """
        points = np.atleast_2d(np.asarray(points_mm, dtype=float))
        result = np.full((len(points), 2), np.nan)
        for n, point in enumerate(points):
            offset = point[None, :] - self.points_mm
            along = np.sum(offset * self.superior, axis=1)
            crossings = np.flatnonzero((along[:-1] <= 0.0) & (along[1:] > 0.0))
            best = np.inf
            for i in crossings:
                t = along[i] / (along[i] - along[i + 1])
                a, b = offset[i], offset[i + 1]
                across = (1 - t) * a @ self.anterior[i] + t * b @ self.anterior[i + 1]
                side = (1 - t) * a @ self.right[i] + t * b @ self.right[i + 1]
                if abs(side) < best:
                    best = abs(side)
                    result[n] = (i + t, (self.across_mm[0] - across) / self.step_mm)
        off = (result[:, 1] < -0.5) | (result[:, 1] > len(self.across_mm) - 0.5)
        result[off] = np.nan
        return result


def plan_reformat(report: SpineReport, step_mm: float = 0.75) -> SagittalReformat:
    """Choose and lay out the overview's reformat: along the spine curve, or one oblique plane.

    Args:
        report: The analysis, whose vertebra centres and axes define the spine.
        step_mm: Pixel size along and across, mm.

    Returns:
        The reformat; ``kind`` and ``reason`` say which was chosen and why.

    Raises:
        InputError: When the report has no vertebrae.

    """
    if not report.vertebrae:
        raise InputError("the report has no vertebrae, so there is no overview to draw")
    across = np.arange(ANTERIOR_MM, -POSTERIOR_MM - step_mm / 2, -step_mm)
    anchors = [v for v in report.vertebrae if _is_anchor(v)]
    problem = _curve_problem(anchors, float(np.abs(across).max()))
    if problem is None:
        return _straightened(anchors, report.vertebrae, across, step_mm)
    return _oblique(report.vertebrae, anchors, across, step_mm, problem)


def sample_reformat(
    ct: Volume,
    labels: Volume,
    reformat: SagittalReformat,
    slab_offsets_mm: tuple[float, ...] = _SLAB_OFFSETS_MM,
) -> tuple[Float64Array, npt.NDArray[np.int64]]:
    """Resample the CT (slab mean, linear) and the label map (mid-plane, nearest) on a reformat.

    Args:
        ct: The CT, HU.
        labels: The label map on the CT's grid.
        reformat: Where the pixels lie.
        slab_offsets_mm: Right-ward offsets of the planes averaged into each CT pixel (mm).

    Returns:
        CT image in HU and label image, both of shape ``reformat.shape``; outside the scan the
        CT reads -1000 HU and the labels 0.

    """
    from scipy import ndimage

    image = np.zeros(reformat.shape)
    for offset in slab_offsets_mm:
        index = ct.world_to_index(reformat.grid_mm(offset).reshape(-1, 3)).T
        values = ndimage.map_coordinates(ct.array, index, order=1, mode="constant", cval=-1000.0)
        image += values.reshape(image.shape) / len(slab_offsets_mm)
    index = labels.world_to_index(reformat.grid_mm(0.0).reshape(-1, 3)).T
    nearest = ndimage.map_coordinates(labels.array, index, order=0, mode="constant")
    return image, nearest.reshape(image.shape).astype(np.int64)


def _is_anchor(vertebra: VertebraResult) -> bool:
    """Measured vertebrae: their body centres and axes are trustworthy."""
    return (
        vertebra.status == "graded"
        and vertebra.body_center_mm is not None
        and vertebra.superior_axis is not None
        and vertebra.anterior_axis is not None
    )


def _centre(vertebra: VertebraResult) -> Float64Array:
    return np.asarray(vertebra.body_center_mm or vertebra.centroid_mm, dtype=float)


def _curve_problem(anchors: list[VertebraResult], farthest_mm: float) -> str | None:
    """Why a curve through the anchors' centres cannot be trusted, or ``None``.

    Args:
        anchors: Measured vertebrae, cranio-caudal.
        farthest_mm: Largest distance of an image column from the curve; a tighter bend
            than this folds the straightened image.

    """
    if len(anchors) < _MIN_CURVE_ANCHORS:
        count = f"{len(anchors)} measured vertebra" + ("" if len(anchors) == 1 else "e")
        return f"{count}, too few to follow the spine's curve"
    centres = np.array([_centre(v) for v in anchors])
    steps = np.diff(centres, axis=0)
    lengths = np.linalg.norm(steps, axis=1)
    if np.any(lengths < 1.0):
        return "two measured vertebrae share one centre"
    if lengths.sum() < _MIN_CURVE_SPAN_MM:
        return f"the measured vertebrae span only {lengths.sum():.0f} mm"
    directions = steps / lengths[:, None]
    for i in range(len(directions) - 1):
        turn = _angle_deg(directions[i], directions[i + 1])
        if turn > _MAX_TURN_DEG:
            return (
                f"the line of centres turns by {turn:.0f} degrees at {anchors[i + 1].level}, "
                "too sharply to follow"
            )
    for i, direction in enumerate(directions):
        axes = np.asarray(anchors[i].superior_axis) + np.asarray(anchors[i + 1].superior_axis)
        disagreement = _angle_deg(-direction, axes)
        if disagreement > _MAX_AXIS_DISAGREEMENT_DEG:
            return (
                f"the centres of {anchors[i].level} and {anchors[i + 1].level} lie "
                f"{disagreement:.0f} degrees off their superior axes"
            )
    for i in range(1, len(centres) - 1):
        radius = _circumradius(centres[i - 1], centres[i], centres[i + 1])
        if radius < farthest_mm:
            return (
                f"the spine bends at {anchors[i].level} with a radius of {radius:.0f} mm, "
                "which would fold the straightened image"
            )
    return None


def _circumradius(a: Float64Array, b: Float64Array, c: Float64Array) -> float:
    """Radius (mm) of the circle through three points; infinite for collinear points."""
    area2 = float(np.linalg.norm(np.cross(b - a, c - a)))
    if area2 < 1e-9:
        return float("inf")
    sides = np.linalg.norm(b - a) * np.linalg.norm(c - b) * np.linalg.norm(c - a)
    return float(sides / (2.0 * area2))


def _straightened(
    anchors: list[VertebraResult],
    vertebrae: list[VertebraResult],
    across: Float64Array,
    step_mm: float,
) -> SagittalReformat:
    """The curved reformat along a smoothing spline through the anchors' centres."""
    from scipy.interpolate import make_splprep

    centres = np.array([_centre(v) for v in anchors])
    smoothing: dict[str, Any] = {"s": len(centres) * 4.0}
    spline, u = make_splprep(centres.T, k=3, **smoothing)
    dense = np.linspace(u[0], u[-1], 400)
    first = np.asarray(spline.derivative()(dense)).T
    pts = np.asarray(spline(dense)).T
    lengths = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))]
    head_tangent = _unit(-first[0])
    foot_tangent = _unit(-first[-1])
    others = np.array([_centre(v) for v in vertebrae])
    head = max(_END_EXTENSION_MM, float(((others - pts[0]) @ head_tangent).max()) + 25.0)
    foot = max(_END_EXTENSION_MM, float(((pts[-1] - others) @ foot_tangent).max()) + 25.0)
    arc = np.arange(-head, lengths[-1] + foot + step_mm / 2, step_mm)
    inner = np.clip(arc, 0.0, lengths[-1])
    param = np.interp(inner, lengths, dense)
    points = np.asarray(spline(param)).T
    tangents = -np.asarray(spline.derivative()(param)).T  # head-wards: the curve runs downwards
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    points = points - (arc - inner)[:, None] * tangents  # straight past both ends
    anchor_rows = _nearest_rows(points, centres)
    order = np.argsort(anchor_rows)
    anteriors = np.array([v.anterior_axis for v in anchors], dtype=float)[order]
    anterior = np.stack(
        [np.interp(np.arange(len(points)), anchor_rows[order], anteriors[:, k]) for k in range(3)],
        axis=1,
    )
    anterior -= np.sum(anterior * tangents, axis=1, keepdims=True) * tangents
    anterior /= np.linalg.norm(anterior, axis=1, keepdims=True)
    right = np.cross(anterior, tangents)
    reason = f"a smooth curve through the centres of {len(anchors)} measured vertebrae"
    return SagittalReformat(
        "straightened", reason, points, tangents, anterior, right, across, step_mm
    )


def _oblique(
    vertebrae: list[VertebraResult],
    anchors: list[VertebraResult],
    across: Float64Array,
    step_mm: float,
    reason: str,
) -> SagittalReformat:
    """One plane through the centres, spanned by the mean superior and anterior axes."""
    used = anchors or vertebrae
    origin = np.mean([_centre(v) for v in used], axis=0)
    superiors = [v.superior_axis for v in anchors if v.superior_axis is not None]
    anteriors = [v.anterior_axis for v in anchors if v.anterior_axis is not None]
    superior = _unit(np.sum(superiors, axis=0)) if superiors else PATIENT_SUPERIOR
    anterior = np.sum(anteriors, axis=0) if anteriors else PATIENT_ANTERIOR
    if abs(float(np.dot(_unit(anterior), superior))) > 0.95:
        anterior = PATIENT_ANTERIOR
    along = np.array([(_centre(v) - origin) @ superior for v in vertebrae])
    top = float(along.max()) + _END_EXTENSION_MM
    bottom = float(along.min()) - _END_EXTENSION_MM
    return oblique_plane(reason, origin, superior, anterior, (top, bottom), across, step_mm)


def oblique_plane(
    reason: str,
    origin: Float64Array,
    superior: Float64Array,
    anterior: Float64Array,
    top_bottom_mm: tuple[float, float],
    across: Float64Array,
    step_mm: float,
) -> SagittalReformat:
    """An oblique plane: rows from ``top`` to ``bottom`` mm along ``superior`` from ``origin``."""
    s = _unit(superior)
    a = _unit(anterior - np.dot(anterior, s) * s)
    along = np.arange(top_bottom_mm[0], top_bottom_mm[1] - step_mm / 2, -step_mm)
    points = origin[None, :] + along[:, None] * s[None, :]
    rows = len(points)
    return SagittalReformat(
        "oblique",
        reason,
        points,
        np.tile(s, (rows, 1)),
        np.tile(a, (rows, 1)),
        np.tile(np.cross(a, s), (rows, 1)),
        across,
        step_mm,
    )


def vertebra_rows_mm(reformat: SagittalReformat, vertebrae: list[VertebraResult]) -> Float64Array:
    """Position (mm from the top row) of each vertebra's centre in the picture."""
    centres = np.array([_centre(v) for v in vertebrae]) if vertebrae else np.zeros((0, 3))
    rows = reformat.project(centres)[:, 0] if len(centres) else np.zeros(0)
    fallback = _nearest_rows(reformat.points_mm, centres).astype(float)
    return np.where(np.isnan(rows), fallback, rows) * reformat.step_mm


def _nearest_rows(points: Float64Array, centres: Float64Array) -> npt.NDArray[np.int64]:
    if len(centres) == 0:
        return np.zeros(0, dtype=np.int64)
    distances = np.linalg.norm(points[None, :, :] - centres[:, None, :], axis=2)
    return np.asarray(np.argmin(distances, axis=1), dtype=np.int64)


def _unit(vector: npt.ArrayLike) -> Float64Array:
    v = np.asarray(vector, dtype=float)
    return np.asarray(v / np.linalg.norm(v), dtype=float)


def _angle_deg(u: Float64Array, v: Float64Array) -> float:
    cosine = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))
