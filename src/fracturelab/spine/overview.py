"""The overview picture: a straightened sagittal reformat along the spine.

Graded vertebrae are coloured by Genant grade and named with level, grade and height loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fracturelab.imaging import Volume
from fracturelab.outputs import atomic_path
from fracturelab.spine.report import SpineReport, VertebraResult

__all__ = ["GRADE_COLOURS", "render_overview", "straightened_sagittal"]

#: Colour of each status/grade in the overview (also used by other views).
GRADE_COLOURS: dict[str, str] = {
    "0": "#2ca02c",
    "1": "#ffd92f",
    "2": "#ff7f0e",
    "3": "#d62728",
    "incomplete": "#9e9e9e",
    "failed": "#9467bd",
}

_BONE_WINDOW_HU = (-250.0, 1250.0)
_ANTERIOR_MM = 70.0
_POSTERIOR_MM = 80.0
_END_EXTENSION_MM = 30.0
_SLAB_OFFSETS_MM = (-2.0, -1.0, 0.0, 1.0, 2.0)

Array = npt.NDArray[np.float64]


def straightened_sagittal(
    ct: Volume, labels: Volume, report: SpineReport, step_mm: float = 0.75
) -> tuple[Array, npt.NDArray[np.int64], Array]:
    """Resample the CT along the spine into a straightened mid-sagittal image.

    Rows follow the spine curve from head (row 0) to foot; columns run from anterior (column 0)
    to posterior, so the patient faces left as in a radiological sagittal view. Each pixel is the
    mean over a 4 mm thick slab across the midline.

    Args:
        ct: The CT, HU.
        labels: The label map on the CT's grid.
        report: The analysis, whose vertebra positions and axes define the curve.
        step_mm: Pixel size in mm along and across the curve.

    Returns:
        CT image ``(rows, cols)`` in HU, label image of the same shape, and the arc position
        (mm) of each vertebra's centre, in report order, shape ``(n_vertebrae,)``.

    """
    from scipy import ndimage

    centres, anteriors = _anchors(report)
    arc, points, tangents = _curve(centres, step_mm)
    anterior = _interpolate_directions(arc, _arc_positions(arc, points, centres), anteriors)
    anterior = anterior - np.sum(anterior * tangents, axis=1, keepdims=True) * tangents
    anterior /= np.linalg.norm(anterior, axis=1, keepdims=True)
    right = np.cross(anterior, tangents)
    across = np.arange(_ANTERIOR_MM, -_POSTERIOR_MM - step_mm, -step_mm)
    image = np.zeros((len(arc), len(across)))
    label_image = np.zeros((len(arc), len(across)), dtype=np.int64)
    for offset in _SLAB_OFFSETS_MM:
        grid = (
            points[:, None, :]
            + across[None, :, None] * anterior[:, None, :]
            + offset * right[:, None, :]
        )
        index = ct.world_to_index(grid.reshape(-1, 3)).T
        values = ndimage.map_coordinates(ct.array, index, order=1, mode="constant", cval=-1000.0)
        image += values.reshape(image.shape) / len(_SLAB_OFFSETS_MM)
        if offset == 0.0:
            nearest = ndimage.map_coordinates(labels.array, index, order=0, mode="constant")
            label_image = nearest.reshape(image.shape).astype(np.int64)
    return image, label_image, _arc_positions(arc, points, centres)


def render_overview(
    ct: Volume, labels: Volume, report: SpineReport, path: str | Path, title: str | None = None
) -> Path:
    """Draw the straightened sagittal overview with vertebrae coloured by grade; write a PNG.

    Args:
        ct: The CT, HU.
        labels: The label map on the CT's grid.
        report: The analysis to show.
        path: Where to write the PNG (atomically).
        title: Title over the image; defaults to a summary line.

    Returns:
        The PNG path.

    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    step = 0.75
    image, label_image, arc_of = straightened_sagittal(ct, labels, report, step_mm=step)
    height_mm, width_mm = image.shape[0] * step, image.shape[1] * step
    figure_height = float(np.clip(height_mm / 45.0, 5.0, 14.0))
    fig, ax = plt.subplots(figsize=(figure_height * width_mm / height_mm + 3.6, figure_height))
    extent = (-_ANTERIOR_MM, _POSTERIOR_MM, height_mm, 0.0)
    ax.imshow(image, cmap="gray", vmin=_BONE_WINDOW_HU[0], vmax=_BONE_WINDOW_HU[1], extent=extent)
    overlay = np.zeros((*image.shape, 4))
    for vertebra in report.vertebrae:
        overlay[label_image == vertebra.label] = matplotlib.colors.to_rgba(
            GRADE_COLOURS[_colour_key(vertebra)], alpha=0.38
        )
    ax.imshow(overlay, extent=extent, interpolation="nearest")
    for vertebra, arc in zip(report.vertebrae, arc_of, strict=True):
        ax.annotate(
            _caption(vertebra),
            xy=(_POSTERIOR_MM, arc),
            xytext=(_POSTERIOR_MM + 4, arc),
            va="center",
            fontsize=8.5,
            color=GRADE_COLOURS[_colour_key(vertebra)],
            annotation_clip=False,
            fontweight="bold" if vertebra.is_fractured else "normal",
        )
    ax.set_xlabel("anterior  <-  mm  ->  posterior")
    ax.set_ylabel("along the spine (mm, head at top)")
    summary = report.summary
    ax.set_title(
        title
        or f"{summary['n_graded']} graded, {summary['n_fractured']} fractured "
        f"(max grade {summary['max_grade'] if summary['max_grade'] is not None else '-'})",
        fontsize=10,
    )
    handles = [
        Patch(color=GRADE_COLOURS[key], label=name)
        for key, name in (
            ("0", "grade 0"), ("1", "grade 1"), ("2", "grade 2"), ("3", "grade 3"),
            ("incomplete", "incomplete"), ("failed", "failed"),
        )
    ]  # fmt: skip
    ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.7)
    fig.subplots_adjust(left=0.12, right=0.62, top=0.95, bottom=0.07)
    with atomic_path(path) as temporary:
        fig.savefig(temporary, dpi=110, format="png")
    plt.close(fig)
    return Path(path)


def _colour_key(vertebra: VertebraResult) -> str:
    if vertebra.status == "graded" and vertebra.genant_grade is not None:
        return str(vertebra.genant_grade)
    return vertebra.status if vertebra.status in GRADE_COLOURS else "failed"


def _caption(vertebra: VertebraResult) -> str:
    if vertebra.status != "graded":
        return f"{vertebra.level}  {vertebra.status}"
    text = f"{vertebra.level}  G{vertebra.genant_grade}"
    if vertebra.is_fractured:
        text += f" {vertebra.morphology} {vertebra.height_loss_pct:.1f}%"
    else:
        text += f"  ({vertebra.height_loss_pct:.1f}%)"
    return text


def _anchors(report: SpineReport) -> tuple[Array, Array]:
    centres, anteriors = [], []
    for vertebra in report.vertebrae:
        centres.append(vertebra.body_center_mm or vertebra.centroid_mm)
        anteriors.append(vertebra.anterior_axis or [0.0, -1.0, 0.0])
    return np.array(centres, dtype=float), np.array(anteriors, dtype=float)


def _curve(centres: Array, step_mm: float) -> tuple[Array, Array, Array]:
    """Points and unit tangents (head-wards) every ``step_mm`` along a smooth spine curve."""
    from scipy.interpolate import make_splprep

    order = np.argsort(-centres[:, 2], kind="stable") if len(centres) > 1 else np.arange(1)
    ordered = centres[order]
    if len(ordered) == 1 or np.ptp(ordered, axis=0).max() < 1e-3:
        start = ordered[0] + np.array([0.0, 0.0, 40.0])
        ordered = np.array([start, ordered[0] - np.array([0.0, 0.0, 40.0])])
    keep = np.r_[True, np.linalg.norm(np.diff(ordered, axis=0), axis=1) > 1e-3]
    ordered = ordered[keep]
    degree = min(3, len(ordered) - 1)
    smoothing: dict[str, Any] = {"s": len(ordered) * 4.0} if degree >= 3 else {"s": 0}
    spline, u = make_splprep(ordered.T, k=degree, **smoothing)
    dense = np.linspace(u[0], u[-1], 400)
    pts = np.asarray(spline(dense)).T
    lengths = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))]
    arc = np.arange(-_END_EXTENSION_MM, lengths[-1] + _END_EXTENSION_MM + step_mm, step_mm)
    inner = np.clip(arc, 0.0, lengths[-1])
    param = np.interp(inner, lengths, dense)
    points = np.asarray(spline(param)).T
    tangents = -np.asarray(spline.derivative()(param)).T  # head-wards: the curve runs downwards
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    beyond = arc - inner  # straight extensions past both ends
    points = points - beyond[:, None] * tangents
    return arc - arc[0], points, tangents


def _arc_positions(arc: Array, points: Array, centres: Array) -> Array:
    distances = np.linalg.norm(points[None, :, :] - centres[:, None, :], axis=2)
    return np.asarray(arc[np.argmin(distances, axis=1)], dtype=float)


def _interpolate_directions(arc: Array, anchors_arc: Array, directions: Array) -> Array:
    order = np.argsort(anchors_arc)
    return np.stack(
        [np.interp(arc, anchors_arc[order], directions[order, axis]) for axis in range(3)], axis=1
    )
