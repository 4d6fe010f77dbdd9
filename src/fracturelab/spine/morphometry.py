"""Vertebral body heights in millimetres from a vertebra's mask and CT.

For each vertebra the anatomical frame is found (:mod:`fracturelab.spine.frame`) and the
body's anterior and posterior walls are located at mid-height in a mid-sagittal slab. Heights
are then read where quantitative morphometry places them (Eastell 1991; McCloskey 1993): Ha at
the anterior margin, Hp at the posterior margin, Hm in the middle of the body.

Segmentations have rounded corners, osteophytes and ragged walls, so the mask is not read at
the wall itself. Instead each endplate's profile s_top(a), s_bottom(a) is taken along superior
lines across the body (5-95 % of its depth; medians over the slab's lines; each crossing moved
to the CT's bone edge where the CT shows one, :mod:`fracturelab.spine.endplates`). Each
endplate is extrapolated to the wall with a robust line (the two-sample line most samples agree
with, refitted) fitted over the segment 8-25 % of the depth from that wall: beyond the corner
rounding (up to ~3 mm) and a spur at the corner, yet close enough to the wall to see a
depressed anterior corner (on real wedge fractures the collapse often sits within the outer
15 % of the depth, which a fit further inside misses). With voxels coarser than 1.5 mm along
the spine the segment grows to six voxels' worth of depth to average the mask's staircase. Hm
is the mean height over the middle eighth of the depth.

Reading heights 10 % inside the walls instead (as before) loses about a fifth of a wedge's
height loss, because the anterior height grows towards the inside of a wedge. Known limits:
the fit segment overlaps the edge of a normal endplate's central concavity, so margins of
concave endplates read up to ~1 mm tall; a dish reaching the walls is extrapolated linearly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from fracturelab.spine.endplates import (
    EDGE_SEARCH_VOXELS,
    MAX_REFINE_VOXEL_MM,
    MIN_SEARCH_MM,
    EndplateProfile,
    endplate_profile,
    margin_value,
    refine_edge,
    run_reaches_edge,
    run_through_zero,
)
from fracturelab.spine.frame import BodyFootprint, VertebraFrame, endplate_surfaces, fit_frame
from fracturelab.spine.vertebra import VertebraSample
from fracturelab.typing import Float64Array

__all__ = ["MorphometryOptions", "VertebraMeasurement", "measure_vertebra"]


#: Inner part of the depth (fractions from the posterior wall) where endplate profiles are read.
_INNER = (0.05, 0.95)
_N_PROFILE = 37  # profile positions over the inner part: one every 2.5 % of the depth
#: Segments (fractions of depth from the posterior wall) fitted for each margin, and for Hm.
_MARGIN_SEGMENT = (0.08, 0.25)  # from each wall: 8-25 % of the depth (posterior: 0.08-0.25)
_MIDDLE_SEGMENT = (0.35, 0.65)
#: Largest share of the body's footprint that may reach the scan's edge for it to be graded.
_MAX_CUT_FRACTION = 0.1
_MIDDLE_WINDOW = 5  # profile samples averaged for Hm (12.5 % of the depth)


@dataclass(frozen=True)
class MorphometryOptions:
    """How heights are measured and when a measurement is implausible.

    Args:
        slab_half_width_mm: Half width of the mid-sagittal slab of measuring lines.
        min_volume_mm3: Vertebrae smaller than this are too small to measure.
        max_body_height_mm: Taller bodies are implausible (merged vertebrae).
        use_ct: Refine endplate positions from the CT's bone edge (when a CT is given).

    """

    slab_half_width_mm: float = 2.0
    min_volume_mm3: float = 1000.0
    max_body_height_mm: float = 60.0
    use_ct: bool = True

    def __post_init__(self) -> None:
        from fracturelab.errors import InputError

        if self.slab_half_width_mm < 0:
            raise InputError(f"slab_half_width_mm={self.slab_half_width_mm} must be >= 0")


@dataclass
class VertebraMeasurement:
    """Morphometry of one vertebra, before grading.

    ``status`` is ``measured``, ``incomplete`` (cut by the field of view, too small, not a
    Genant level) or ``failed`` (implausible shape); ``reason`` says why when not measured.
    ``points_mm`` holds, per height, its superior and inferior end points (LPS mm, ``(3,)``
    each); ``ct_refinement_mm`` how far the CT's bone edge moved each height (mm, refined
    minus mask only); ``edge_voxels`` the voxels on the scan's outer faces (``vertebra``,
    ``body``) and ``cut_fraction`` the share of the body's footprint with such voxels.
    """

    label: int
    level: str
    status: str
    centroid_mm: Float64Array
    volume_mm3: float
    reason: str | None = None
    heights_mm: dict[str, float] | None = None
    height_spread_mm: dict[str, float] | None = None
    depth_mm: float | None = None
    frame: VertebraFrame | None = None
    warnings: list[str] = field(default_factory=list)
    points_mm: dict[str, list[Float64Array]] | None = None
    ct_refinement_mm: dict[str, float] | None = None
    edge_voxels: dict[str, int] | None = None
    cut_fraction: float | None = None


def measure_vertebra(
    sample: VertebraSample,
    superior_hint: Float64Array,
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
    opts = options or MorphometryOptions()
    if not opts.use_ct and sample.ct is not None:
        sample = replace(sample, ct=None)
    measurement = _measure(sample, superior_hint, opts)
    if measurement.status == "failed" and sample.touches_edge:
        measurement.status = "incomplete"
        measurement.reason = f"vertebra cut by the field of view ({measurement.reason})"
    return measurement


def _measure(
    sample: VertebraSample, superior_hint: Float64Array, opts: MorphometryOptions
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
    edges, cut_fraction = _edge_counts(sample, footprint, local)
    base.edge_voxels, base.cut_fraction = edges, cut_fraction
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
        if edges["body"]:
            base.reason = "vertebral body cut by the field of view"
            return base
        base.status, base.reason = "failed", "no vertebral body found along the mid-sagittal line"
        return base
    # The line may run on through a pedicle or a closed canal: stop it at the isolated body.
    slack = 1.5 * footprint.pixel_mm
    low, high = (e - float(footprint.centre_ra_mm[1]) for e in extent)
    posterior = max(posterior, low - slack)
    anterior = min(anterior, high + slack)
    depth = anterior - posterior
    base.depth_mm = depth
    if cut_ap:
        base.reason = "vertebral body cut by the field of view: its depth is cut"
        return base
    if cut_fraction > _MAX_CUT_FRACTION:
        base.reason = (
            f"vertebral body cut by the field of view ({100 * cut_fraction:.0f} % of its "
            "footprint reaches the edge of the scan)"
        )
        return base
    fractions = np.linspace(_INNER[0], _INNER[1], _N_PROFILE)
    profile = endplate_profile(
        sample,
        body,
        posterior + fractions * depth,
        _slab(opts),
        step,
        min(reach, opts.max_body_height_mm + 10.0),
    )
    if profile.cut:
        base.reason = "vertebral body cut by the field of view: a measurement line is cut"
        return base
    voxel_s = sample.voxel_length_mm(body.superior)
    heights = _margin_heights(profile, anterior, posterior, depth, voxel_s, refined=True)
    if heights is None:
        base.status, base.reason = "failed", "no endplate profile found across the body"
        return base
    plain = _margin_heights(profile, anterior, posterior, depth, voxel_s, refined=False)
    values = {name: h for name, (h, _, _) in heights.items()}
    tallest = max(values.values())
    if tallest > opts.max_body_height_mm:
        base.status = "failed"
        base.reason = (
            f"implausible body height {tallest:.0f} mm (> {opts.max_body_height_mm:.0f} mm): "
            "merged vertebrae or a mask that is not one vertebra?"
        )
        return base
    if min(values.values()) <= 0.0:
        base.status, base.reason = "failed", "endplates cross: no positive body height"
        return base
    base.status, base.heights_mm = "measured", values
    base.height_spread_mm = _spreads(profile, posterior, depth, _segments(depth, voxel_s))
    base.points_mm = {
        name: [body.to_world(np.array([0.0, a, s_top])), body.to_world(np.array([0.0, a, s_low]))]
        for name, (_, a, (s_top, s_low)) in heights.items()
    }
    if plain is not None:
        base.ct_refinement_mm = {name: values[name] - plain[name][0] for name in values}
    if sample.ct is not None and voxel_s > MAX_REFINE_VOXEL_MM:
        base.warnings.append(
            f"voxels of {voxel_s:.1f} mm along the spine do not resolve the endplates' cortex: "
            "heights come from the label map alone"
        )
    elif sample.ct is not None and profile.refined_share < 0.5:
        base.warnings.append(
            f"the CT shows a clear endplate edge on only {100 * profile.refined_share:.0f} % "
            "of the measurement lines: heights there come from the label map alone"
        )
    if edges["body"]:
        base.warnings.append(
            f"vertebral body touches the edge of the scan ({edges['body']} voxels, "
            "away from the measurement lines): graded"
        )
    if float(np.linalg.norm(footprint.centre_ra_mm)) < 3.0:
        base.warnings.append("no posterior elements found: anterior taken from patient axes")
    return base


def _segments(depth: float, voxel_s_mm: float) -> dict[str, tuple[float, float]]:
    """Fitted segments (fractions of depth from the posterior wall) for each height.

    With coarse voxels along the superior axis the mask's endplate is a staircase of
    voxel-high steps: the margin segments then grow to span at least six voxels' worth of
    depth, so that a line fit averages over the steps.
    """
    near, far = _MARGIN_SEGMENT
    length = float(np.clip(6.0 * voxel_s_mm / max(depth, 1e-6), far - near, 0.45 - near))
    return {
        "anterior": (1.0 - near - length, 1.0 - near),
        "posterior": (near, near + length),
        "middle": _MIDDLE_SEGMENT,
    }


def _margin_heights(
    profile: EndplateProfile,
    anterior: float,
    posterior: float,
    depth: float,
    voxel_s_mm: float,
    *,
    refined: bool,
) -> dict[str, tuple[float, float, tuple[float, float]]] | None:
    """Ha, Hm, Hp with where they were read: name -> (height, local a, (s top, s bottom)).

    With ``refined`` the CT-refined endplate profiles are used, else the mask's alone.
    """
    a = profile.a_mm
    out: dict[str, tuple[float, float, tuple[float, float]]] = {}
    tolerance = max(1.0, voxel_s_mm)
    segments = _segments(depth, voxel_s_mm)
    for name, wall in (("anterior", anterior), ("posterior", posterior), ("middle", None)):
        segment = segments[name]
        lo, hi = (posterior + f * depth for f in segment)
        rows = (a >= lo) & (a <= hi)
        top = profile.top_refined if refined else profile.top
        bottom = profile.bottom_refined if refined else profile.bottom
        if wall is None:
            middle = _middle(a[rows], top[rows], bottom[rows])
            if middle is None:
                return None
            _, a_mid, (s_top, s_low) = middle
            at = a_mid
        else:
            s_top = margin_value(a, top, lo, hi, wall, tolerance)
            s_low = margin_value(a, bottom, lo, hi, wall, tolerance)
            at = wall
        if not np.isfinite(s_top - s_low):
            return None
        out[name] = (s_top - s_low, at, (s_top, s_low))
    return {name: out[name] for name in ("anterior", "middle", "posterior")}


def _middle(
    a: Float64Array, top: Float64Array, bottom: Float64Array
) -> tuple[float, float, tuple[float, float]] | None:
    """Hm: the mean height over the middle eighth of the depth (a central dish's floor).

    Read at the middle, not at the lowest stretch: on a wedge the lowest stretch lies towards
    the front and would make the wedge look biconcave.
    """
    use = np.isfinite(top) & np.isfinite(bottom)
    if use.sum() < _MIDDLE_WINDOW:
        return None
    aa, tt, bb = a[use], top[use], bottom[use]
    kernel = np.ones(_MIDDLE_WINDOW) / _MIDDLE_WINDOW
    smooth = np.convolve(tt - bb, kernel, mode="valid")
    k = (len(smooth) - 1) // 2
    s_top = float(np.mean(tt[k : k + _MIDDLE_WINDOW]))
    s_low = float(np.mean(bb[k : k + _MIDDLE_WINDOW]))
    return s_top - s_low, float(aa[k + _MIDDLE_WINDOW // 2]), (s_top, s_low)


def _spreads(
    profile: EndplateProfile,
    posterior: float,
    depth: float,
    segments: dict[str, tuple[float, float]],
) -> dict[str, float]:
    """Std (mm) across the slab's lines of their mean height over each measured segment."""
    spread: dict[str, float] = {}
    for name in ("anterior", "middle", "posterior"):
        f_lo, f_hi = segments[name]
        rows = (profile.a_mm >= posterior + f_lo * depth) & (
            profile.a_mm <= posterior + f_hi * depth
        )
        per_line = np.nanmean(profile.line_heights[rows], axis=0)
        finite = per_line[np.isfinite(per_line)]
        spread[name] = float(np.std(finite)) if finite.size else 0.0
    return spread


def _edge_counts(
    sample: VertebraSample, footprint: BodyFootprint, local: npt.NDArray[np.float64]
) -> tuple[dict[str, int], float]:
    """Voxels on the scan's outer faces (whole vertebra, body) and the body's cut fraction.

    The cut fraction is the share of the body's footprint (seen along the superior axis) whose
    columns hold a voxel on the scan's edge: 0 for a body wholly inside the scan.
    """
    n_whole = int(sample.on_edge.sum())
    if not n_whole:
        return {"vertebra": 0, "body": 0}, 0.0
    pixels = footprint.pixel_of(local[sample.on_edge][:, :2])
    n_r, n_a = footprint.body.shape
    valid = (pixels[:, 0] >= 0) & (pixels[:, 0] < n_r) & (pixels[:, 1] >= 0) & (pixels[:, 1] < n_a)
    pixels = pixels[valid]
    on_body = footprint.body[pixels[:, 0], pixels[:, 1]]
    cut_pixels = {(int(i), int(j)) for i, j in pixels[on_body]}
    fraction = len(cut_pixels) / max(int(footprint.body.sum()), 1)
    return {"vertebra": n_whole, "body": int(on_body.sum())}, float(fraction)


def _walls(
    sample: VertebraSample, body: VertebraFrame, opts: MorphometryOptions, step: float, reach: float
) -> tuple[float | None, float | None, bool]:
    """Anterior and posterior wall positions (local a, mm) at mid-height in the slab.

    Lines along the anterior axis cross the body at three heights on each of the slab's
    offsets; each crossing of the interpolated mask is moved to the CT's bone edge
    (:func:`~fracturelab.spine.endplates.refine_edge`, as the endplates are) where the CT
    resolves it. A wall is the median of its refined crossings when at least half of the lines
    show an edge, else of the mask's: so a label map a voxel too large or too small puts the
    walls, and the margins extrapolated to them, where the bone is.
    """
    t = np.arange(-reach, reach + step, step)
    offsets = [(dr, ds) for dr in _slab(opts) for ds in (-2.0, 0.0, 2.0)]
    starts = np.array([dr * body.right + ds * body.superior for dr, ds in offsets])
    points = body.origin_mm + starts[:, None, :] + t[None, :, None] * body.anterior
    values = sample.sample(points)
    outside = sample.outside_field_of_view(points)
    voxel = sample.voxel_length_mm(body.anterior)
    hu = sample.sample_ct(points) if voxel <= MAX_REFINE_VOXEL_MM else None
    window = max(EDGE_SEARCH_VOXELS * voxel, MIN_SEARCH_MM)
    fronts, backs, cut = [], [], False
    edges: dict[str, list[float]] = {"front": [], "back": []}
    for row in range(len(offsets)):
        run = run_through_zero(t, values[row])
        if run is None:
            continue
        back, front, i0, i1 = run
        backs.append(back)
        fronts.append(front)
        cut = cut or run_reaches_edge(outside[row], i0, i1)
        if hu is not None:
            for name, s, outward in (("back", back, -1.0), ("front", front, 1.0)):
                edge = refine_edge(t, hu[row], s, outward, window)
                if edge is not None:
                    edges[name].append(edge)
    if not fronts:
        return None, None, cut
    # each wall from the CT's bone edge where at least half of the lines show one
    front_at = edges["front"] if 2 * len(edges["front"]) >= len(fronts) else fronts
    back_at = edges["back"] if 2 * len(edges["back"]) >= len(backs) else backs
    return float(np.median(front_at)), float(np.median(back_at)), cut


def _slab(opts: MorphometryOptions) -> npt.NDArray[np.float64]:
    half = opts.slab_half_width_mm
    return np.linspace(-half, half, 5) if half > 0 else np.zeros(1)
