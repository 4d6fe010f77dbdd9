"""Parameters of a synthetic femur radiograph (anatomy, fracture, view) and how they are drawn.

Everything is in millimetres of the patient (the detector plane divides by the magnification)
in the femur's own 2D frame: ``u`` points lateral, ``v`` points distal along the shaft, and
the fracture centre on the proximal fragment is ``(0, 0)``. See :mod:`fracturelab.synth.femur`
for the rationale behind the ranges.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fracturelab.femur.contract import AFF

__all__ = [
    "FRACTURE_KINDS",
    "SIDES",
    "FemurAnatomy",
    "FemurFracture",
    "FemurSpec",
    "FemurView",
    "Fragment",
    "sample_anatomy",
    "sample_fracture",
    "sample_view",
]

#: Sides of the femur; the lateral cortex of a right femur is on the image's left.
SIDES: tuple[str, ...] = ("left", "right")
#: Fracture patterns drawn. AFFs are always transverse; NFFs take all four.
FRACTURE_KINDS: tuple[str, ...] = ("transverse", "oblique", "spiral", "comminuted")
#: Share of each NFF pattern (transverse shaft fractures are common on purpose: see femur.py).
NFF_KIND_SHARES: tuple[float, ...] = (0.40, 0.25, 0.15, 0.20)

#: Nodes of the fracture line across the shaft, from -1.3 R to +1.3 R.
LINE_NODES = 41
LINE_SPAN = 1.3
#: Nodes of the line's coarse jaggedness.
ROUGH_NODES = 11


@dataclass(frozen=True)
class FemurAnatomy:
    """One patient's femur, thigh and hip (fixed for all images of the patient).

    Attributes:
        side: ``"left"`` or ``"right"``.
        shaft_radius_mm: Outer radius of the shaft at the fracture level, mm.
        cortex_mm: Thickness of the shaft cortex at the fracture level, mm.
        taper: Relative change of the shaft radius per 100 mm towards the knee.
        bow_mm: Lateral bowing of the shaft axis at mid-shaft, mm.
        head_radius_mm: Radius of the femoral head, mm.
        head_height_mm: Height of the head centre above the lesser trochanter, mm.
        offset_mm: Distance of the head centre medial of the shaft axis, mm.
        neck_shaft_angle_deg: Angle between the neck and the shaft axes, degrees.
        length_mm: Femur length from the head top to the condyles, mm.
        condyle_radius_mm: Half the width of the distal femur, mm.
        thigh_radius_mm: Radius of the soft tissue of the mid thigh, mm.
        thigh_offset_mm: Distance of the thigh centre medial of the femur, mm.
        surface_seed: Seed of the gentle waviness of the periosteal surface.

    """

    side: str
    shaft_radius_mm: float
    cortex_mm: float
    taper: float
    bow_mm: float
    head_radius_mm: float
    head_height_mm: float
    offset_mm: float
    neck_shaft_angle_deg: float
    length_mm: float
    condyle_radius_mm: float
    thigh_radius_mm: float
    thigh_offset_mm: float
    surface_seed: int

    @property
    def distal_end_mm(self) -> float:
        """Distal end of the femur below the lesser trochanter, mm."""
        return self.length_mm - self.head_height_mm - self.head_radius_mm


@dataclass(frozen=True)
class Fragment:
    """A triangular loose fragment of a comminuted fracture (fracture frame, mm).

    Attributes:
        corners_uv_mm: The triangle ``(u, v)`` it occupied in the unbroken bone.
        motion: ``(du, dv, turn_deg)``: how far it moved and turned about its centroid.
        cut_from: ``"proximal"``, ``"distal"`` (a chip off one fragment's corner) or
            ``"both"`` (a butterfly wedge straddling the line).

    """

    corners_uv_mm: tuple[tuple[float, float], ...]
    motion: tuple[float, float, float]
    cut_from: str


@dataclass(frozen=True)
class FemurFracture:
    """One fracture: pattern, line, displacement and the AFF cues (fracture frame, mm).

    The proximal fragment keeps the bone above the line ``v = f(u)`` (the polyline
    ``line_uv_mm``, ``f(0) = 0``) less half the gap; the distal fragment keeps the bone below
    it, turned by ``angulation_deg`` about a hinge where the line meets the ``hinge`` cortex,
    slid by ``slide_mm`` along the turned line and pushed ``distraction_mm`` away from it.

    Attributes:
        label: ``"AFF"`` or ``"NFF"``.
        kind: One of :data:`FRACTURE_KINDS`.
        level_mm: Distance of the centre below the lesser trochanter along the shaft.
        angle_deg: Mean obliquity of the line to the transverse; positive when the line runs
            distally from medial to lateral.
        line_uv_mm: Nodes ``(u, v)`` of the line, ``u`` increasing.
        gap_mm: Width of the fracture cleft before displacement.
        distraction_mm: Push of the distal fragment away from the line.
        slide_mm: Slide of the distal fragment along the line (+: towards lateral).
        angulation_deg: Opening angle of the fragments (>= 0).
        hinge: ``"lateral"`` or ``"medial"``: the cortex where the cleft stays narrowest.
        swelling_mm: Extra soft-tissue radius at the fracture (haematoma).
        swelling_length_mm: Gaussian width of the swelling along the shaft.
        beak_mm: AFF periosteal thickening ("beak") of the lateral cortex; 0 for NFF.
        beak_length_mm: Gaussian width of the beak along the shaft.
        endosteal_mm: AFF endosteal thickening of the lateral cortex; 0 for NFF.
        spike_mm: AFF medial spike: how far the line turns along the shaft across the medial
            cortex (signed); 0 for none.
        roughness_mm: Standard deviation of the jaggedness of the line.
        butterfly: A butterfly wedge (comminuted), or ``None``.
        chips: Small cortical chips broken off the fragments' corners (comminuted).

    """

    label: str
    kind: str
    level_mm: float
    angle_deg: float
    line_uv_mm: tuple[tuple[float, float], ...]
    gap_mm: float
    distraction_mm: float
    slide_mm: float
    angulation_deg: float
    hinge: str
    swelling_mm: float
    swelling_length_mm: float
    beak_mm: float = 0.0
    beak_length_mm: float = 5.0
    endosteal_mm: float = 0.0
    spike_mm: float = 0.0
    roughness_mm: float = 0.0
    butterfly: Fragment | None = None
    chips: tuple[Fragment, ...] = ()

    @property
    def loose(self) -> tuple[Fragment, ...]:
        """The butterfly (if any) and the chips."""
        return (self.butterfly, *self.chips) if self.butterfly is not None else self.chips

    def line_at(self, u_mm: float) -> float:
        """``f(u)``: the line's ``v`` at ``u`` (mm)."""
        nodes = np.asarray(self.line_uv_mm, dtype=float)
        return float(np.interp(u_mm, nodes[:, 0], nodes[:, 1]))


@dataclass(frozen=True)
class FemurView:
    """One radiograph of the patient: field of view, exposure and noise.

    Attributes:
        size_px: ``(width, height)`` in pixels.
        spacing_mm: Pixel spacing at the detector (square pixels), mm.
        center_xy_px: Where the fracture centre lands, ``[x, y]`` = ``[column, row]``.
        rotation_deg: Tilt of the shaft from the image's vertical (+: the knee to the right).
        magnification: Detector size over patient size (projection magnification).
        window: ``(low, high)`` attenuation mapped to black and white.
        gamma: Display gamma (> 1 darkens mid greys).
        heel: Relative exposure change from top to bottom (anode heel effect).
        noise: Noise standard deviation in attenuation units (0: none; bone edges are ~1).
        noise_seed: Seed of the noise.

    """

    size_px: tuple[int, int]
    spacing_mm: float
    center_xy_px: tuple[float, float]
    rotation_deg: float
    magnification: float
    window: tuple[float, float]
    gamma: float
    heel: float
    noise: float
    noise_seed: int


@dataclass(frozen=True)
class FemurSpec:
    """Everything that determines a synthetic femur radiograph."""

    anatomy: FemurAnatomy
    fracture: FemurFracture
    view: FemurView


def sample_anatomy(rng: np.random.Generator, side: str | None = None) -> FemurAnatomy:
    """Draw one patient's anatomy (sizes of adult femora; ``side`` random when ``None``)."""
    radius = rng.uniform(12.5, 16.0)
    return FemurAnatomy(
        side=str(rng.choice(SIDES)) if side is None else side,
        shaft_radius_mm=radius,
        cortex_mm=radius * rng.uniform(0.30, 0.42),
        taper=rng.uniform(-0.02, 0.04),
        bow_mm=rng.uniform(0.0, 6.0),
        head_radius_mm=rng.uniform(21.0, 26.0),
        head_height_mm=rng.uniform(55.0, 68.0),
        offset_mm=rng.uniform(36.0, 46.0),
        neck_shaft_angle_deg=rng.uniform(122.0, 136.0),
        length_mm=rng.uniform(400.0, 480.0),
        condyle_radius_mm=rng.uniform(34.0, 42.0),
        thigh_radius_mm=rng.uniform(60.0, 95.0),
        thigh_offset_mm=rng.uniform(-5.0, 20.0),
        surface_seed=int(rng.integers(0, 2**31)),
    )


def sample_fracture(
    rng: np.random.Generator,
    label: str,
    anatomy: FemurAnatomy,
    kind: str | None = None,
    angle_deg: float | None = None,
) -> FemurFracture:
    """Draw a fracture of class ``label`` (pattern and angle random unless given)."""
    if kind is None:
        kind = "transverse" if label == AFF else str(rng.choice(FRACTURE_KINDS, p=NFF_KIND_SHARES))
    radius, cortex = anatomy.shaft_radius_mm, anatomy.cortex_mm
    sign = 1.0 if rng.random() < 0.5 else -1.0
    if angle_deg is None:
        if label == AFF:
            angle_deg = rng.uniform(-12.0, 12.0)
        elif kind == "transverse":
            angle_deg = rng.uniform(-15.0, 15.0)
        elif kind == "oblique":
            angle_deg = sign * rng.uniform(25.0, 55.0)
        elif kind == "spiral":
            angle_deg = sign * rng.uniform(50.0, 68.0)
        else:
            angle_deg = sign * rng.uniform(0.0, 40.0)
    # AFF lines are a little cleaner (a fine cue only: 0.05-0.2 mm against 0.1-0.35 mm).
    roughness = rng.uniform(0.05, 0.2) if label == AFF else rng.uniform(0.1, 0.35)
    u = np.linspace(-LINE_SPAN * radius, LINE_SPAN * radius, LINE_NODES)
    slope = math.tan(math.radians(angle_deg))
    if kind == "spiral":
        # A helix around the shaft projects to v = -p asin(u / R): steepest at the cortices.
        pitch = slope * 2.0 * radius / (2.0 * math.asin(0.97))
        v = pitch * np.arcsin(np.clip(u / (1.02 * radius), -0.97, 0.97))
    else:
        v = slope * u
    beak = endosteal = spike = 0.0
    beak_length = 5.0
    if label == AFF:
        # The line crosses the lateral cortex transversely (flat from the lateral endosteum
        # outwards); across the medial cortex it may turn into a short spike.
        inner = radius - cortex
        v = np.where(u > inner, slope * inner, v)
        if rng.random() < 0.75:
            spike = float(rng.choice((-1.0, 1.0)) * rng.uniform(1.0, 2.5))
            start = -inner + 0.5
            v = v + spike * np.clip((start - u) / (radius - inner + 0.5), 0.0, 1.0)
        beak = rng.uniform(0.7, 1.6)
        beak_length = rng.uniform(3.5, 7.0)
        endosteal = rng.uniform(0.5, 1.2)
    # Jagged line: coarse bends every ~3.5 mm plus a little fine jitter at every node.
    bends = np.linspace(u[0], u[-1], ROUGH_NODES)
    v = v + np.interp(u, bends, rng.normal(0.0, roughness, size=ROUGH_NODES))
    v = v + rng.normal(0.0, 0.3 * roughness, size=u.shape)
    v = v - float(np.interp(0.0, u, v))
    nodes = tuple((float(a), float(b)) for a, b in zip(u, v, strict=True))

    span = anatomy.distal_end_mm - 120.0
    level = rng.uniform(25.0, max(span, 60.0))
    highest = float(v[np.abs(u) <= radius].min())
    level = max(level, 15.0 - highest)  # keep the line below the lesser trochanter

    butterfly: Fragment | None = None
    chips: tuple[Fragment, ...] = ()
    if kind == "comminuted":
        if rng.random() < 0.6:
            butterfly = _butterfly(rng, u, v, radius)
        chips = tuple(_chip(rng, u, v, radius, cortex) for _ in range(int(rng.integers(2, 5))))
    return FemurFracture(
        label=label,
        kind=kind,
        level_mm=level,
        angle_deg=float(angle_deg),
        line_uv_mm=nodes,
        gap_mm=rng.uniform(0.5, 1.0),
        distraction_mm=rng.uniform(1.0, 3.5),
        slide_mm=float(rng.choice((-1.0, 1.0)) * rng.uniform(0.0, 7.0)),
        angulation_deg=rng.uniform(0.0, 8.0),
        hinge=str(rng.choice(("lateral", "medial"))),
        swelling_mm=rng.uniform(6.0, 20.0),
        swelling_length_mm=rng.uniform(30.0, 60.0),
        beak_mm=beak,
        beak_length_mm=beak_length,
        endosteal_mm=endosteal,
        spike_mm=spike,
        roughness_mm=roughness,
        butterfly=butterfly,
        chips=chips,
    )


def _butterfly(rng: np.random.Generator, u: np.ndarray, v: np.ndarray, radius: float) -> Fragment:
    """A triangular wedge with its base on one cortex, straddling the line."""
    side = 1.0 if rng.random() < 0.5 else -1.0
    base_u = side * 1.15 * radius
    base_v = float(np.interp(side * radius, u, v))
    apex_u = side * radius * (1.0 - 2.0 * rng.uniform(0.35, 0.6))
    corners = (
        (base_u, base_v - rng.uniform(4.0, 9.0)),
        (base_u, base_v + rng.uniform(4.0, 9.0)),
        (apex_u, float(np.interp(apex_u, u, v))),
    )
    motion = (side * rng.uniform(1.0, 4.0), rng.uniform(-2.0, 2.0), rng.uniform(-10.0, 10.0))
    return Fragment(_points(corners), _floats(motion), "both")


def _chip(
    rng: np.random.Generator, u: np.ndarray, v: np.ndarray, radius: float, cortex: float
) -> Fragment:
    """A small corner of cortex broken off one fragment where the line crosses a cortex."""
    side = 1.0 if rng.random() < 0.5 else -1.0
    proximal = rng.random() < 0.5
    outside, inner = side * (radius + 0.6), side * (radius - rng.uniform(1.5, min(4.0, cortex)))
    at = float(np.interp(side * radius, u, v))
    along = rng.uniform(1.5, 4.0) * (-1.0 if proximal else 1.0)
    corners = ((outside, at), (outside, at + along), (inner, float(np.interp(inner, u, v))))
    motion = (side * rng.uniform(1.5, 5.0), rng.uniform(-3.0, 3.0), rng.uniform(-40.0, 40.0))
    return Fragment(_points(corners), _floats(motion), "proximal" if proximal else "distal")


def _points(points: Sequence[Sequence[float]]) -> tuple[tuple[float, float], ...]:
    return tuple((float(p[0]), float(p[1])) for p in points)


def _floats(values: Sequence[float]) -> tuple[float, float, float]:
    return float(values[0]), float(values[1]), float(values[2])


def sample_view(
    rng: np.random.Generator,
    size_px: tuple[int, int],
    spacing_mm: float,
    rotation_deg: float | None = None,
    noise: float | None = None,
) -> FemurView:
    """Draw the exposure, noise and placement of one radiograph of the given size."""
    width, height = size_px
    center = (width * rng.uniform(0.35, 0.65), height * rng.uniform(0.3, 0.7))
    low = rng.uniform(0.3, 0.7)
    return FemurView(
        size_px=(int(width), int(height)),
        spacing_mm=float(spacing_mm),
        center_xy_px=(float(center[0]), float(center[1])),
        rotation_deg=rng.uniform(-10.0, 10.0) if rotation_deg is None else float(rotation_deg),
        magnification=rng.uniform(1.0, 1.12),
        window=(low, low + rng.uniform(2.4, 3.2)),
        gamma=rng.uniform(0.8, 1.25),
        heel=rng.uniform(-0.12, 0.12),
        noise=rng.uniform(0.02, 0.06) if noise is None else float(noise),
        noise_seed=int(rng.integers(0, 2**31)),
    )
