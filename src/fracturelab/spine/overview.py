"""The overview picture: a sagittal reformat of the spine with the measurement drawn on it.

Graded vertebrae are coloured by Genant grade and named with level, grade and height loss. Where
a vertebra carries ``measurement_points_mm`` (the superior and inferior endplate points of Ha,
Hm and Hp, LPS mm), the three height lines and their six end points are drawn, so a reader can
check at a glance where each height was measured. With a learned model applied
(``spine analyze --model``), each caption ends with the model's P(fracture), and ``!`` marks a
vertebra the model flags (``docs/spine-model.md``).

The plane the picture shows is planned in :mod:`fracturelab.spine.sagittal`.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fracturelab.imaging import Volume
from fracturelab.outputs import pyplot, save_figure
from fracturelab.spine.report import SpineReport, VertebraResult
from fracturelab.spine.sagittal import (
    PATIENT_ANTERIOR,
    PATIENT_SUPERIOR,
    POSTERIOR_MM,
    SagittalReformat,
    oblique_plane,
    plan_reformat,
    sample_reformat,
    vertebra_rows_mm,
)
from fracturelab.typing import Float64Array

__all__ = [
    "GRADE_COLOURS",
    "MARKER_COLOUR",
    "MEASUREMENT_LINE_COLOUR",
    "render_overview",
    "render_vertebra",
]

#: Colour of each status/grade in the overview (also used by other views).
GRADE_COLOURS: dict[str, str] = {
    "0": "#2ca02c",
    "1": "#ffd92f",
    "2": "#ff7f0e",
    "3": "#d62728",
    "incomplete": "#9e9e9e",
    "failed": "#9467bd",
}
#: Colour of the six endplate points where Ha, Hm and Hp were measured (hollow circles).
MARKER_COLOUR = "#ff00ff"
#: Colour of the three height lines joining those points.
MEASUREMENT_LINE_COLOUR = "#00e5ff"

_BONE_WINDOW_HU = (-250.0, 1250.0)
_HEIGHTS = ("anterior", "middle", "posterior")


def render_overview(
    ct: Volume, labels: Volume, report: SpineReport, path: str | Path, title: str | None = None
) -> Path:
    """Draw the sagittal overview with vertebrae coloured by grade and heights marked; write a PNG.

    Args:
        ct: The CT, HU.
        labels: The label map on the CT's grid.
        report: The analysis to show.
        path: Where to write the PNG (atomically).
        title: Title over the image; defaults to a summary line.

    Returns:
        The PNG path.

    """
    from matplotlib.patches import Patch

    plt = pyplot()

    reformat = plan_reformat(report)
    image, label_image = sample_reformat(ct, labels, reformat)
    step = reformat.step_mm
    height_mm, width_mm = image.shape[0] * step, image.shape[1] * step
    figure_height = float(np.clip(height_mm / 45.0, 5.0, 14.0))
    captions = 3.6 if report.model is None else 4.6  # room for "P 0.93 !"
    fig, ax = plt.subplots(figsize=(figure_height * width_mm / height_mm + captions, figure_height))
    _draw_image(ax, image, label_image, reformat, report.vertebrae)
    for vertebra, row_mm in zip(
        report.vertebrae, vertebra_rows_mm(reformat, report.vertebrae), strict=True
    ):
        ax.annotate(
            _caption(vertebra) + _model_caption(vertebra),
            xy=(POSTERIOR_MM, row_mm),
            xytext=(POSTERIOR_MM + 4, row_mm),
            va="center",
            fontsize=8.5,
            color=GRADE_COLOURS[_colour_key(vertebra)],
            annotation_clip=False,
            fontweight="bold" if vertebra.is_fractured else "normal",
        )
    _draw_measurements(ax, reformat, report.vertebrae)
    ax.set_xlabel("anterior  <-  mm  ->  posterior")
    if reformat.kind == "straightened":
        ax.set_ylabel("along the spine (mm, head at top)")
    else:
        ax.set_ylabel("along the mean superior axis (mm, head at top)")
    summary = report.summary
    heading = title or (
        f"{summary['n_graded']} graded, {summary['n_fractured']} fractured "
        f"(max grade {summary['max_grade'] if summary['max_grade'] is not None else '-'})"
    )
    if report.model is not None and title is None:
        heading += f"\nP = model's P(fracture) ({report.model['backbone']}); ! = model flag"
    if reformat.kind == "oblique":
        heading += "\n" + textwrap.fill("oblique sagittal plane: " + reformat.reason, 60)
    ax.set_title(heading, fontsize=10 if reformat.kind == "straightened" else 8)
    handles = [
        Patch(color=GRADE_COLOURS[key], label=name)
        for key, name in (
            ("0", "grade 0"), ("1", "grade 1"), ("2", "grade 2"), ("3", "grade 3"),
            ("incomplete", "incomplete"), ("failed", "failed"),
        )
    ]  # fmt: skip
    ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.7)
    top = 0.95 if reformat.kind == "straightened" else 0.88
    if report.model is not None:
        top -= 0.03
    fig.subplots_adjust(
        left=0.12, right=0.62 if report.model is None else 0.58, top=top, bottom=0.09
    )
    return save_figure(fig, path, dpi=110)


def render_vertebra(
    ct: Volume,
    labels: Volume,
    vertebra: VertebraResult,
    path: str | Path,
    title: str | None = None,
    half_size_mm: float = 40.0,
    step_mm: float = 0.4,
) -> Path:
    """Draw one vertebra's own mid-sagittal slice with its outline and height points; write a PNG.

    The plane passes through the body centre and is spanned by the vertebra's superior and
    anterior axes (the plane its heights were measured in); without them, through its centroid,
    spanned by the patient's superior and anterior directions. The slice is 2 mm thick.

    Args:
        ct: The CT, HU.
        labels: The label map on the CT's grid.
        vertebra: The vertebra to show.
        path: Where to write the PNG (atomically).
        title: First line of the title, over the level, status, grade and heights.
        half_size_mm: Half the side of the square shown, mm.
        step_mm: Pixel size, mm.

    Returns:
        The PNG path.

    """
    plt = pyplot()
    centre = np.asarray(vertebra.body_center_mm or vertebra.centroid_mm, dtype=float)
    superior = np.asarray(vertebra.superior_axis or PATIENT_SUPERIOR, dtype=float)
    anterior = np.asarray(vertebra.anterior_axis or PATIENT_ANTERIOR, dtype=float)
    across = np.arange(half_size_mm, -half_size_mm - step_mm / 2, -step_mm)
    reformat = oblique_plane(
        "one vertebra", centre, superior, anterior, (half_size_mm, -half_size_mm), across, step_mm
    )
    image, label_image = sample_reformat(ct, labels, reformat, (-1.0, 0.0, 1.0))
    fig, ax = plt.subplots(figsize=(4.2, 4.4))
    _draw_image(ax, image, label_image, reformat, [vertebra], outline=True)
    _draw_measurements(ax, reformat, [vertebra])
    ax.set_xlabel("anterior  <-  mm  ->  posterior", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_ylabel("head  <-  mm  ->  foot", fontsize=8)
    ax.set_title(
        f"{title}\n{_vertebra_title(vertebra)}" if title else _vertebra_title(vertebra), fontsize=8
    )
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


# --- drawing ------------------------------------------------------------------------------


def _draw_image(
    ax: Any,
    image: Float64Array,
    label_image: npt.NDArray[np.int64],
    reformat: SagittalReformat,
    vertebrae: list[VertebraResult],
    outline: bool = False,
) -> None:
    import matplotlib

    step = reformat.step_mm
    extent = (
        -float(reformat.across_mm[0]) - step / 2,
        -float(reformat.across_mm[-1]) + step / 2,
        image.shape[0] * step - step / 2,
        -step / 2,
    )
    ax.imshow(image, cmap="gray", vmin=_BONE_WINDOW_HU[0], vmax=_BONE_WINDOW_HU[1], extent=extent)
    if outline:
        for vertebra in vertebrae:
            mask = (label_image == vertebra.label).astype(float)
            if mask.any():
                ax.contour(
                    mask,
                    levels=[0.5],
                    colors=[GRADE_COLOURS[_colour_key(vertebra)]],
                    linewidths=1.0,
                    extent=(extent[0], extent[1], extent[3], extent[2]),
                    origin="upper",
                )
        return
    overlay = np.zeros((*image.shape, 4))
    for vertebra in vertebrae:
        overlay[label_image == vertebra.label] = matplotlib.colors.to_rgba(
            GRADE_COLOURS[_colour_key(vertebra)], alpha=0.38
        )
    ax.imshow(overlay, extent=extent, interpolation="nearest")


def _draw_measurements(
    ax: Any, reformat: SagittalReformat, vertebrae: list[VertebraResult]
) -> None:
    """Height lines and their end points, in figure mm (x = -across, y = mm from the top)."""
    for vertebra in vertebrae:
        points = _measurement_points(vertebra)
        if points is None:
            continue
        pixels = reformat.project(points)
        if np.isnan(pixels).any():
            continue
        x = -(reformat.across_mm[0] - pixels[:, 1] * reformat.step_mm)
        y = pixels[:, 0] * reformat.step_mm
        for k in range(0, len(points), 2):
            ax.plot(x[k : k + 2], y[k : k + 2], color=MEASUREMENT_LINE_COLOUR, linewidth=1.0)
        ax.plot(
            x, y, linestyle="none", marker="o", markersize=4.5, markerfacecolor="none",
            markeredgecolor=MARKER_COLOUR, markeredgewidth=1.2,
        )  # fmt: skip


def _measurement_points(vertebra: VertebraResult) -> Float64Array | None:
    """The six points, superior then inferior for anterior, middle, posterior; ``(6, 3)``."""
    points = getattr(vertebra, "measurement_points_mm", None)
    if not isinstance(points, dict):
        return None
    rows: list[list[float]] = []
    for key in _HEIGHTS:
        pair = points.get(key)
        if pair is None or len(pair) != 2:
            continue
        rows.extend([list(pair[0]), list(pair[1])])
    array = np.asarray(rows, dtype=float)
    if array.size == 0 or array.shape[1:] != (3,) or not np.isfinite(array).all():
        return None
    return array


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


def _model_caption(vertebra: VertebraResult) -> str:
    """``"  P 0.93"`` (``" !"`` added when flagged); empty without model outputs."""
    model = vertebra.model or {}
    p = model.get("fracture_probability")
    if p is None:
        return ""
    flag = " !" if model.get("grade_source") == "morphometry_flagged" else ""
    return f"  P {p:.2f}{flag}"


def _vertebra_title(vertebra: VertebraResult) -> str:
    text = _caption(vertebra)
    heights = vertebra.heights_mm or {}
    if heights:
        text += "\n" + "  ".join(
            f"H{key[0]} {heights[key]:.1f}" for key in _HEIGHTS if key in heights
        )
        text += " mm"
    return text


# --- layout -------------------------------------------------------------------------------
