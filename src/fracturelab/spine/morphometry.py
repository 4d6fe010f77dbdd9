"""Vertebral body heights in millimetres from a vertebra's mask.

For each vertebra the anatomical frame is found (:mod:`fracturelab.spine.frame`), then heights
are read off the trilinearly interpolated mask along lines parallel to the superior axis:
anterior (Ha), middle (Hm) and posterior (Hp), each in a mid-sagittal slab and a little inside
the body's anterior and posterior walls, where corner notches and osteophytes do not reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fracturelab.spine.frame import BodyFootprint, VertebraFrame, endplate_surfaces, fit_frame
from fracturelab.spine.vertebra import VertebraSample

__all__ = ["MorphometryOptions", "VertebraMeasurement", "measure_vertebra"]

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MorphometryOptions:
    """Where and how heights are measured.

    Args:
        wall_inset: Fraction of the body's depth inside the anterior and posterior walls at
            which Ha and Hp are measured (0.1 = 10 %).
        slab_half_width_mm: Half width of the mid-sagittal slab of measuring lines.
        min_volume_mm3: Vertebrae smaller than this are too small to measure.
        max_body_height_mm: Taller bodies are implausible (merged vertebrae).

    """

    wall_inset: float = 0.10
    slab_half_width_mm: float = 2.0
    min_volume_mm3: float = 1000.0
    max_body_height_mm: float = 60.0

    def __post_init__(self) -> None:
        from fracturelab.errors import InputError

        if not 0.0 <= self.wall_inset < 0.4:
            raise InputError(f"wall_inset={self.wall_inset} must be in [0, 0.4)")
        if self.slab_half_width_mm < 0:
            raise InputError(f"slab_half_width_mm={self.slab_half_width_mm} must be >= 0")


@dataclass
class VertebraMeasurement:
    """Morphometry of one vertebra, before grading.

    ``status`` is ``measured``, ``incomplete`` (cut by the field of view, too small, not a
    Genant level) or ``failed`` (implausible shape); ``reason`` says why when not measured.
    """

    label: int
    level: str
    status: str
    centroid_mm: Vector
    volume_mm3: float
    reason: str | None = None
    heights_mm: dict[str, float] | None = None
    height_spread_mm: dict[str, float] | None = None
    depth_mm: float | None = None
    frame: VertebraFrame | None = None
    warnings: list[str] = field(default_factory=list)


def measure_vertebra(
    sample: VertebraSample,
    superior_hint: Vector,
    options: MorphometryOptions | None = None,
) -> VertebraMeasurement:
    """Measure the body heights of one vertebra.

    Args:
        sample: The vertebra's voxels and mask.
        superior_hint: Approximate superior direction at this vertebra, shape ``(3,)``.
        options: Measuring positions and plausibility limits.

    Returns:
        The measurement; heights are ``None`` unless ``status`` is ``measured``.

    """
    measurement = _measure(sample, superior_hint, options or MorphometryOptions())
    if measurement.status == "failed" and sample.touches_edge:
        measurement.status = "incomplete"
        measurement.reason = f"vertebra cut by the field of view ({measurement.reason})"
    return measurement


def _measure(
    sample: VertebraSample, superior_hint: Vector, opts: MorphometryOptions
) -> VertebraMeasurement:
    base = VertebraMeasurement(
        sample.label, sample.level, "incomplete", sample.centroid_mm, sample.volume_mm3
    )
    if sample.level in ("C1", "C2", "S1"):
        base.reason = f"{sample.level} is not graded: Genant morphometry applies to C3-L6"
        return base
    if sample.volume_mm3 < opts.min_volume_mm3 or sample.n_voxels < 27:
        base.reason = (
            f"too small to measure ({sample.volume_mm3:.0f} mm^3, {sample.n_voxels} voxels)"
        )
        return base
    spacing = sample.grid.spacing_mm
    pixel_mm = float(max(0.5, np.median(spacing)))
    frame, footprint, local = fit_frame(sample.points_mm, superior_hint, pixel_mm)
    if _body_on_edge(sample, footprint, local):
        base.reason = "vertebral body cut by the field of view"
        return base
    ra, top, bottom = endplate_surfaces(footprint, local)
    mid_s = float(np.median((top + bottom) / 2.0)) if len(ra) else 0.0
    centre_local = np.array([footprint.centre_ra_mm[0], footprint.centre_ra_mm[1], mid_s])
    body = VertebraFrame(frame.to_world(centre_local), frame.right, frame.anterior, frame.superior)
    base.frame = body
    step = float(np.clip(0.2 * spacing.min(), 0.05, 0.5))
    reach = float(np.ptp(local, axis=0).max()) + 10.0
    anterior, posterior, cut_ap = _walls(sample, body, opts, step, reach)
    extent = footprint.body_extent_a(float(footprint.centre_ra_mm[0]))
    if anterior is None or posterior is None or extent is None:
        base.status, base.reason = "failed", "no vertebral body found along the mid-sagittal line"
        return base
    # The line may run on through a pedicle or a closed canal: stop it at the isolated body.
    slack = 1.5 * footprint.pixel_mm
    low, high = (e - float(footprint.centre_ra_mm[1]) for e in extent)
    posterior = max(posterior, low - slack)
    anterior = min(anterior, high + slack)
    depth = anterior - posterior
    base.depth_mm = depth
    positions = {
        "anterior": anterior - opts.wall_inset * depth,
        "middle": (anterior + posterior) / 2.0,
        "posterior": posterior + opts.wall_inset * depth,
    }
    heights: dict[str, float] = {}
    spread: dict[str, float] = {}
    cut = cut_ap
    for name, a_mm in positions.items():
        values, line_cut = _heights_at(sample, body, a_mm, opts, step, reach)
        cut = cut or line_cut
        if not values:
            base.status, base.reason = "failed", f"no {name} body height found"
            return base
        heights[name] = float(np.median(values))
        spread[name] = float(np.std(values))
    if cut:
        base.reason = "vertebral body cut by the field of view"
        return base
    tallest = max(heights.values())
    if tallest > opts.max_body_height_mm:
        base.status = "failed"
        base.reason = (
            f"implausible body height {tallest:.0f} mm (> {opts.max_body_height_mm:.0f} mm): "
            "merged vertebrae or a mask that is not one vertebra?"
        )
        return base
    base.status, base.heights_mm, base.height_spread_mm = "measured", heights, spread
    if float(np.linalg.norm(footprint.centre_ra_mm)) < 3.0:
        base.warnings.append("no posterior elements found: anterior taken from patient axes")
    return base


def _body_on_edge(
    sample: VertebraSample, footprint: BodyFootprint, local: npt.NDArray[np.float64]
) -> bool:
    """Whether a voxel of the vertebral body (not its posterior elements) is on the scan's edge."""
    if not sample.touches_edge:
        return False
    edge_local = local[sample.on_edge]
    pixels = footprint.pixel_of(edge_local[:, :2])
    n_r, n_a = footprint.body.shape
    valid = (pixels[:, 0] >= 0) & (pixels[:, 0] < n_r) & (pixels[:, 1] >= 0) & (pixels[:, 1] < n_a)
    return bool(footprint.body[pixels[valid, 0], pixels[valid, 1]].any())


def _walls(
    sample: VertebraSample, body: VertebraFrame, opts: MorphometryOptions, step: float, reach: float
) -> tuple[float | None, float | None, bool]:
    """Anterior and posterior wall positions (local a, mm) at mid-height in the slab."""
    t = np.arange(-reach, reach + step, step)
    offsets = [(dr, ds) for dr in _slab(opts) for ds in (-2.0, 0.0, 2.0)]
    starts = np.array([dr * body.right + ds * body.superior for dr, ds in offsets])
    points = body.origin_mm + starts[:, None, :] + t[None, :, None] * body.anterior
    values = sample.sample(points)
    outside = sample.outside_field_of_view(points)
    fronts, backs, cut = [], [], False
    for row in range(len(offsets)):
        run = _run_through_zero(t, values[row])
        if run is None:
            continue
        back, front, i0, i1 = run
        backs.append(back)
        fronts.append(front)
        cut = cut or _touches(outside[row], i0, i1)
    if not fronts:
        return None, None, cut
    return float(np.median(fronts)), float(np.median(backs)), cut


def _heights_at(
    sample: VertebraSample,
    body: VertebraFrame,
    a_mm: float,
    opts: MorphometryOptions,
    step: float,
    reach: float,
) -> tuple[list[float], bool]:
    """Body heights (mm) along superior lines at local a = ``a_mm`` across the slab."""
    t = np.arange(-reach, reach + step, step)
    starts = np.array([dr * body.right + a_mm * body.anterior for dr in _slab(opts)])
    points = body.origin_mm + starts[:, None, :] + t[None, :, None] * body.superior
    values = sample.sample(points)
    outside = sample.outside_field_of_view(points)
    heights, cut = [], False
    for row in range(len(starts)):
        run = _run_through_zero(t, values[row])
        if run is None:
            continue
        low, high, i0, i1 = run
        heights.append(high - low)
        cut = cut or _touches(outside[row], i0, i1)
    return heights, cut


def _slab(opts: MorphometryOptions) -> npt.NDArray[np.float64]:
    half = opts.slab_half_width_mm
    return np.linspace(-half, half, 5) if half > 0 else np.zeros(1)


def _run_through_zero(
    t: npt.NDArray[np.float64], values: npt.NDArray[np.float64]
) -> tuple[float, float, int, int] | None:
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


def _crossing(
    t: npt.NDArray[np.float64], v: npt.NDArray[np.float64], inside: int, out: int
) -> float:
    if out < 0 or out >= len(t):
        return float(t[inside])
    denom = v[inside] - v[out]
    fraction = (v[inside] - 0.5) / denom if denom > 0 else 0.0
    return float(t[inside] + fraction * (t[out] - t[inside]))


def _touches(outside: npt.NDArray[np.bool_], i0: int, i1: int) -> bool:
    """Whether a run reaches the edge of the scan (the mask ends at the field of view)."""
    before = outside[max(i0 - 1, 0)]
    after = outside[min(i1 + 1, len(outside) - 1)]
    return bool(before or after or outside[i0] or outside[i1])
