"""The bones, soft tissue and fragment masks of the femur phantom, in the fracture frame.

The fracture frame has ``u`` lateral and ``v`` distal (mm), origin at the centre of the
fracture line on the unbroken femur; ``vf = v + level`` is the distance below the lesser
trochanter. Each builder returns ``(supports, evaluate)`` pairs: ``supports(u, v, margin)``
says (conservatively, on the coarse grid) where the part may be, ``evaluate(u, v)`` draws it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from fracturelab.synth._femur_parts import (
    MU_CANCELLOUS,
    MU_MARROW,
    MU_SOFT,
    Blob,
    Pelvis,
    Table,
    Tube,
    grid,
    smoothstep,
)
from fracturelab.synth._femur_spec import FemurAnatomy, FemurFracture
from fracturelab.typing import BoolArray, Float64Array, FloatArray

__all__ = [
    "Masks",
    "condyles",
    "femur_tube",
    "head_center",
    "in_box",
    "leg",
    "line_table",
    "pelvis",
    "proximal_parts",
    "soft_table",
]

Box = tuple[float, float, float, float]

SupportFn = Callable[[Float64Array, Float64Array, float], BoolArray]
PathsFn = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray, FloatArray | float]]
AttenuationFn = Callable[[FloatArray, FloatArray], FloatArray]

#: Metaphyseal radius over the shaft radius (intertrochanteric region).
META_RATIO = 1.65


def in_box(u: Float64Array, v: Float64Array, box: Box, margin: float) -> BoolArray:
    """Whether points lie within ``margin`` of the box ``(u_min, u_max, v_min, v_max)``."""
    return (
        (u >= box[0] - margin)
        & (u <= box[1] + margin)
        & (v >= box[2] - margin)
        & (v <= box[3] + margin)
    )


def _bounds(boxes: list[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        max(b[1] for b in boxes),
        min(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _ends(anatomy: FemurAnatomy) -> tuple[float, float]:
    """Top of the greater trochanter and distal end of the femur, below the lesser trochanter."""
    return -(anatomy.head_height_mm + 8.0), anatomy.distal_end_mm


def _bow(anatomy: FemurAnatomy, vf: Float64Array, level: float) -> Float64Array:
    """Lateral bowing of the shaft axis, zero at the fracture level."""
    top, end = _ends(anatomy)
    arc = np.pi * np.clip((vf - top) / (end - top), 0.0, 1.0)
    return anatomy.bow_mm * (np.sin(arc) - math.sin(math.pi * (level - top) / (end - top)))


def femur_tube(anatomy: FemurAnatomy, fracture: FemurFracture) -> Tube:
    """Shaft, metaphyses and rounded ends of the femur as one tube, with the AFF cues."""
    radius, level = anatomy.shaft_radius_mm, fracture.level_mm
    top, end = _ends(anatomy)
    bottom = end - 0.25 * anatomy.condyle_radius_mm  # the condyles reach lower
    v = grid(top - level - 2.0, bottom - level + 2.0)
    vf = v + level
    shaft = radius * (1.0 + anatomy.taper * (vf - level) / 100.0)
    meta = META_RATIO * radius
    w_prox = smoothstep((25.0 - vf) / 60.0)
    flare = np.clip((vf - (end - 130.0)) / 100.0, 0.0, 1.0) ** 2.2  # trumpet-shaped
    outer = shaft + (meta - shaft) * w_prox + (0.92 * anatomy.condyle_radius_mm - shaft) * flare
    caps = ((0.7 * meta, top, -1.0), (0.5 * anatomy.condyle_radius_mm, bottom, 1.0))
    for cap, start, sign in caps:
        x = np.clip((sign * (vf - start) + cap) / cap, 0.0, 1.0)
        outer = outer * np.sqrt(1.0 - x * x)
    ends = np.maximum(w_prox, smoothstep((vf - (end - 140.0)) / 60.0))
    cortex = anatomy.cortex_mm * shaft / radius * (1.0 - ends) + 2.0 * ends
    center = _bow(anatomy, vf, level) - 0.55 * (meta - shaft) * w_prox
    mu = MU_MARROW + (MU_CANCELLOUS - MU_MARROW) * ends

    waves = np.random.default_rng(anatomy.surface_seed)
    bumps = []
    for _ in range(2):  # gentle periosteal waviness, lateral and medial, in both classes
        wave = np.zeros_like(v)
        for _ in range(2):
            length = waves.uniform(15.0, 60.0)
            phase = waves.uniform(0.0, 2.0 * np.pi)
            wave += waves.uniform(0.05, 0.15) * np.sin(2.0 * np.pi * vf / length + phase)
        bumps.append(wave)
    lateral, medial = bumps
    at = fracture.line_at(radius - 0.5 * anatomy.cortex_mm)  # the line at the lateral cortex
    beak = fracture.beak_mm * np.exp(-(((v - at) / fracture.beak_length_mm) ** 2))
    endosteal = fracture.endosteal_mm * np.exp(-(((v - at) / fracture.beak_length_mm) ** 2))
    return Tube.from_profiles(
        v,
        outer_center=center + 0.5 * (lateral - medial) + 0.5 * beak,
        outer_radius=outer + 0.5 * (lateral + medial) + 0.5 * beak,
        inner_center=center - 0.5 * endosteal,
        inner_radius=outer - cortex - 0.5 * endosteal,
        mu_inner=mu,
    )


def head_center(anatomy: FemurAnatomy, level: float) -> tuple[float, float]:
    """Centre of the femoral head in the fracture frame."""
    bow = float(_bow(anatomy, np.zeros(1), level)[0])
    return bow - anatomy.offset_mm, -anatomy.head_height_mm - level


def _parts(blobs: tuple[Blob, ...], dmu: float) -> tuple[SupportFn, PathsFn]:
    """Blobs combined by maximum, as one part with core attenuation ``dmu``."""
    box = _bounds([blob.box for blob in blobs])

    def supports(u: Float64Array, v: Float64Array, margin: float) -> BoolArray:
        return in_box(u, v, box, margin)

    def paths(u: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray, float]:
        total, inner = blobs[0].paths(u, v)
        for blob in blobs[1:]:
            t, i = blob.paths(u, v)
            np.maximum(total, t, out=total)
            np.maximum(inner, i, out=inner)
        return total, inner, dmu

    return supports, paths


def proximal_parts(anatomy: FemurAnatomy, fracture: FemurFracture) -> tuple[SupportFn, PathsFn]:
    """Head, neck and trochanters, combined with the shaft by maximum."""
    radius, level = anatomy.shaft_radius_mm, fracture.level_mm
    head = head_center(anatomy, level)
    bow = head[0] + anatomy.offset_mm
    angle = math.radians(anatomy.neck_shaft_angle_deg)
    reach = anatomy.offset_mm / math.sin(angle)
    base = (head[0] + reach * math.sin(angle), head[1] - reach * math.cos(angle))
    r_head, meta = anatomy.head_radius_mm, META_RATIO * radius
    trochanter = (bow + 0.85 * radius, -anatomy.head_height_mm + 15.0 - level)
    lesser = (bow - 1.3 * radius, -level)
    blobs = (
        Blob("ellipsoid", head, head, (r_head, r_head), r_head, 1.2),
        Blob("rod", base, head, (0.85 * meta, 0.8 * r_head), 0.85 * meta, 2.0, waist=0.78),
        Blob("ellipsoid", trochanter, trochanter, (0.7 * radius, 1.5 * radius), radius, 1.5, 8.0),
        Blob("ellipsoid", lesser, lesser, (6.0, 10.0), 7.0, 1.5, -30.0),
    )
    return _parts(blobs, MU_CANCELLOUS - MU_SOFT)


def condyles(anatomy: FemurAnatomy, fracture: FemurFracture) -> tuple[SupportFn, PathsFn]:
    """The two femoral condyles (an intercondylar notch between them at the bottom)."""
    r = anatomy.condyle_radius_mm
    v = anatomy.distal_end_mm - 0.45 * r - fracture.level_mm
    blobs = tuple(
        Blob(
            "ellipsoid",
            (side * 0.48 * r, v),
            (side * 0.48 * r, v),
            (0.52 * r, 0.45 * r),
            0.6 * r,
            1.5,
        )
        for side in (-1.0, 1.0)
    )
    return _parts(blobs, MU_CANCELLOUS - MU_SOFT)


def pelvis(anatomy: FemurAnatomy, fracture: FemurFracture) -> tuple[SupportFn, AttenuationFn]:
    """The pelvis around the femoral head (added to the femur: another bone)."""
    shape = Pelvis(head_center(anatomy, fracture.level_mm), anatomy.head_radius_mm)
    box = shape.box

    def supports(u: Float64Array, v: Float64Array, margin: float) -> BoolArray:
        return in_box(u, v, box, margin)

    return supports, shape.attenuation


def leg(
    anatomy: FemurAnatomy, fracture: FemurFracture, stop: float
) -> tuple[tuple[SupportFn, AttenuationFn], ...]:
    """Tibia and fibula below the knee (distal fragment frame), down to ``v = stop``."""
    knee = anatomy.distal_end_mm - fracture.level_mm + 5.0
    if stop <= knee:
        return ()
    v = grid(knee - 1.0, stop)
    t = v - knee
    plateau = 0.95 * anatomy.condyle_radius_mm
    shaft = 0.8 * anatomy.shaft_radius_mm
    narrowing = smoothstep((t - 15.0) / 80.0)
    outer = (plateau + (shaft - plateau) * narrowing) * np.sqrt(np.clip(t / 6.0, 0.0, 1.0))
    zero = np.zeros_like(v)
    mu = MU_CANCELLOUS + (MU_MARROW - MU_CANCELLOUS) * narrowing
    tibia = Tube.from_profiles(v, zero, outer, zero, outer - 1.5 - 2.5 * narrowing, mu)
    f = t - 12.0
    head = 6.0 + 5.0 * (1.0 - smoothstep((f - 8.0) / 25.0))
    fib_radius = head * np.sqrt(np.clip(f / 8.0, 0.0, 1.0))
    fib_center = np.full_like(v, 0.8 * plateau)
    fibula = Tube.from_profiles(v, fib_center, fib_radius, fib_center, fib_radius - 2.0, mu)
    return ((tibia.supports, tibia.attenuation), (fibula.supports, fibula.attenuation))


def soft_table(anatomy: FemurAnatomy, fracture: FemurFracture, v_lo: float, v_hi: float) -> Table:
    """Thigh radius squared and thigh centre along ``v``, with the swelling at the fracture."""
    v = grid(v_lo, v_hi, step=0.1)
    vf = v + fracture.level_mm
    end = anatomy.distal_end_mm
    thigh = anatomy.thigh_radius_mm * (
        1.0 + 0.3 * smoothstep((150.0 - vf) / 210.0) - 0.3 * smoothstep((vf - end + 250.0) / 190.0)
    )
    trunk = smoothstep((-anatomy.head_height_mm - 30.0 - vf) / 100.0)
    thigh = thigh + 25.0 * trunk
    thigh = thigh + fracture.swelling_mm * np.exp(-((v / fracture.swelling_length_mm) ** 2))
    center = -anatomy.thigh_offset_mm - 60.0 * trunk
    return Table.of(v, thigh**2, center)


def line_table(fracture: FemurFracture) -> Table:
    """The fracture line ``f(u)`` and ``1 / sqrt(1 + f'(u)^2)`` along ``u``."""
    nodes = np.asarray(fracture.line_uv_mm)
    u = grid(float(nodes[0, 0]) - 1.0, float(nodes[-1, 0]) + 1.0, step=0.02)
    f = np.interp(u, nodes[:, 0], nodes[:, 1])
    scale = 1.0 / np.sqrt(1.0 + np.gradient(f, u) ** 2)
    return Table.of(u, f, scale)


class Masks:
    """Soft-edged fragment masks: the share of the unbroken bone each fragment keeps.

    Args:
        fracture: The fracture.
        pixel_mm: Patient mm per pixel; the mask edges are one pixel wide.

    """

    def __init__(self, fracture: FemurFracture, pixel_mm: float) -> None:
        self.line = line_table(fracture)
        self.half_gap = 0.5 * fracture.gap_mm
        self.edge = 1.0 / pixel_mm
        self.cuts = [(_edges(piece.corners_uv_mm), piece.cut_from) for piece in fracture.loose]
        corners = [c[1] for piece in fracture.loose for c in piece.corners_uv_mm]
        values = self.line.values[0]
        low, high = min([float(values.min()), *corners]), max([float(values.max()), *corners])
        pad = self.half_gap + 1.0
        #: ``(v_min, v_max)`` outside which every mask is 0 or 1.
        self.zone = (low - pad, high + pad)

    def _soft(self, distance: FloatArray) -> FloatArray:
        distance *= np.float32(self.edge)
        distance += 0.5
        np.clip(distance, 0.0, 1.0, out=distance)
        return distance

    def _distance(self, u: FloatArray, v: FloatArray) -> FloatArray:
        values = self.line(u)
        f: FloatArray = values[0]
        scale: FloatArray = values[1]
        f -= v
        f *= scale
        return f

    def _cut(self, u: FloatArray, v: FloatArray, keep: FloatArray, fragment: str) -> FloatArray:
        for edges, cut_from in self.cuts:
            if cut_from in (fragment, "both"):
                keep *= self._soft(-_inside(edges, u, v) - np.float32(self.half_gap))
        return keep

    def proximal(self, u: FloatArray, v: FloatArray) -> FloatArray:
        """Share kept by the proximal fragment at ``(u, v)``."""
        keep = self._soft(self._distance(u, v) - np.float32(self.half_gap))
        return self._cut(u, v, keep, "proximal")

    def distal(self, u: FloatArray, v: FloatArray) -> FloatArray:
        """Share kept by the distal fragment at ``(u, v)`` (its own frame)."""
        keep = self._soft(-self._distance(u, v) - np.float32(self.half_gap))
        return self._cut(u, v, keep, "distal")

    def loose(self, index: int) -> Callable[[FloatArray, FloatArray], FloatArray]:
        """Mask of loose fragment ``index`` (butterfly first), in its own frame."""
        edges = self.cuts[index][0]

        def keep(u: FloatArray, v: FloatArray) -> FloatArray:
            return self._soft(_inside(edges, u, v) - np.float32(self.half_gap))

        return keep


Edges = list[tuple[float, float, float]]


def _edges(corners: tuple[tuple[float, float], ...]) -> Edges:
    """Inward unit normals ``(nu, nv, c)`` of a triangle's edges: ``nu u + nv v + c >= 0``."""
    points = np.asarray(corners, dtype=float)
    middle = points.mean(axis=0)
    edges = []
    for a, b in ((0, 1), (1, 2), (2, 0)):
        d = points[b] - points[a]
        n = np.array([-d[1], d[0]]) / math.hypot(*d)
        if n @ (middle - points[a]) < 0:
            n = -n
        edges.append((float(n[0]), float(n[1]), float(-(n @ points[a]))))
    return edges


def _inside(edges: Edges, u: FloatArray, v: FloatArray) -> FloatArray:
    """Signed distance inside a triangle (positive inside; exact near the edges)."""
    inside = np.full(u.shape, np.inf, dtype=np.float32)
    for nu, nv, c in edges:
        np.minimum(inside, u * np.float32(nu) + v * np.float32(nv) + np.float32(c), out=inside)
    return inside
