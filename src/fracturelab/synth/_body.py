"""The vertebral body of the spine phantom: endplate surfaces, rounded corners, osteophytes.

The body sits in its local frame ``(r, a, s)`` (mm; right, anterior, superior). Its footprint
is the ellipse ``(r/W)^2 + (a/D)^2 <= 1``, so at ``r = 0`` the anterior wall is at ``a = +D``
and the posterior wall at ``a = -D``. Each endplate is a smooth surface ``s = top(r, a)`` and
``s = bottom(r, a)`` defined over the whole footprint, walls included:

- a plane part, the body's height at the walls ``h(a)``, linear in ``a`` between the posterior
  wall (``Hp``) and the anterior wall (``Ha``): tilted for a wedge (fracture or physiological
  wedging), lowered for a crush;
- minus a gentle central depression of each normal endplate (``d (1 - rho^2 / 0.49)^2`` for
  ``rho < 0.7``, ``rho^2 = (r/W)^2 + (a/D)^2``), which never reaches the walls;
- minus, for a biconcave fracture, a dish ``delta/2 (1 - rho^2 / c^2)`` on each endplate, whose
  normalised radius ``c`` may exceed 1: then the dish reaches the walls and lowers Ha and Hp.

The drawn body is the part of the footprint between the endplates with its rim rounded: where
the wall meets an endplate the edge is a quarter circle of radius ``R`` (1.5-3 mm) in the plane
of the wall's normal and the superior axis. Rounding removes bone only near the rim, so the
endplate surfaces, and the heights read off them at the walls, are what a reader
reconstructs when placing a corner point on the endplate line at the wall. An osteophyte is a
small cone of bone growing out of an anterior endplate corner, beyond the wall; it is part of
the vertebra's label but not of its endplates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fracturelab.typing import BoolArray, Float64Array

__all__ = [
    "CONCAVITY_RHO",
    "CORTEX_MM",
    "BodyShape",
    "Osteophyte",
    "body_distance_mm",
    "draw_body_shape",
    "osteophyte_mask",
    "wall_inset_mm",
]


#: Thickness of the cortical shell of the body, mm.
CORTEX_MM = 1.5
#: The physiological endplate depression stays inside this normalised radius.
CONCAVITY_RHO = 0.7
#: Levels drawn with mild physiological wedging when normal.
WEDGED_LEVELS: tuple[str, ...] = ("T11", "T12", "T13", "L1")
#: Range of the physiological Ha/Hp at those levels.
WEDGE_RATIO_RANGE = (0.85, 0.95)
#: Range of the rounded corners' radius, mm.
CORNER_RADIUS_RANGE_MM = (1.5, 3.0)
#: Range of the central depression of a normal endplate, mm.
DEPRESSION_RANGE_MM = (0.5, 1.5)
#: A normal body's largest deformity 1 - Hm/Hp: its depressions are scaled down to stay within.
NORMAL_MAX_DEFORMITY = 0.15
#: Range of the normalised radius of a biconcave fracture's dish (above 1: reaches the walls).
DISH_RADIUS_RANGE = (0.6, 1.2)
#: Chance that a vertebra carries an osteophyte.
OSTEOPHYTE_CHANCE = 0.25


@dataclass(frozen=True)
class Osteophyte:
    """A small spur of bone at an anterior endplate corner.

    Attributes:
        endplate: ``"superior"`` or ``"inferior"``.
        r_mm: Lateral position of the spur along the anterior rim (local ``r``), mm.
        length_mm: How far the spur reaches beyond the wall along its axis, mm.
        radius_mm: Radius of the cone's base at the corner, mm.
        angle_deg: Tilt of the spur's axis from anterior towards the disc, degrees.

    """

    endplate: str
    r_mm: float
    length_mm: float
    radius_mm: float
    angle_deg: float = 20.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable description."""
        return {
            "endplate": self.endplate,
            "r_mm": round(self.r_mm, 6),
            "length_mm": round(self.length_mm, 6),
            "radius_mm": round(self.radius_mm, 6),
            "angle_deg": round(self.angle_deg, 6),
        }


@dataclass(frozen=True)
class BodyShape:
    """How one body departs from a flat-ended elliptic cylinder (all zero: sharp and flat).

    Attributes:
        corner_radius_mm: Radius of the rounded rim where the walls meet the endplates.
        wedge_ratio: Physiological Ha/Hp of a normal body (1: none).
        depression_mm: Central depression of the ``(superior, inferior)`` endplate of a body
            that is not biconcave, mm.
        dish_radius: Normalised radius of a biconcave fracture's dish (above 1 it reaches the
            walls); unused for other kinds.
        osteophyte: An osteophyte, or ``None``.

    """

    corner_radius_mm: float = 0.0
    wedge_ratio: float = 1.0
    depression_mm: tuple[float, float] = (0.0, 0.0)
    dish_radius: float = 0.7
    osteophyte: Osteophyte | None = None

    def as_dict(self, kind: str) -> dict[str, Any]:
        """JSON-serialisable description for ``truth.json``."""
        superior, inferior = self.depression_mm
        record: dict[str, Any] = {
            "corner_radius_mm": round(self.corner_radius_mm, 6),
            "physiological_wedge_ratio": round(self.wedge_ratio, 6),
            "endplate_depression_mm": {
                "superior": round(superior, 6),
                "inferior": round(inferior, 6),
            },
            "osteophyte": None if self.osteophyte is None else self.osteophyte.as_dict(),
        }
        if kind == "biconcave":
            record["dish_radius"] = round(self.dish_radius, 6)
            record["dish_reaches_walls"] = self.dish_radius > 1.0
        return record


def draw_body_shape(level: str, kind: str, height_mm: float, rng: np.random.Generator) -> BodyShape:
    """Draw a body's departures from the ideal cylinder, seeded.

    Every body gets rounded corners; a normal T11-L1 (and T13) body mild wedging; every body but
    a biconcave one (whose dish replaces it) a central depression of both endplates, scaled
    down on a normal body so that ``1 - Hm/Hp`` stays within 15 %; a biconcave fracture a dish
    radius; a quarter of bodies an osteophyte.

    Args:
        level: Level name, e.g. ``"T12"``.
        kind: ``"normal"``, ``"wedge"``, ``"biconcave"`` or ``"crush"``.
        height_mm: Nominal body height H, mm.
        rng: Random generator of this vertebra.

    """
    radius = float(rng.uniform(*CORNER_RADIUS_RANGE_MM))
    ratio = float(rng.uniform(*WEDGE_RATIO_RANGE))
    superior, inferior = (float(x) for x in rng.uniform(*DEPRESSION_RANGE_MM, size=2))
    dish = float(rng.uniform(*DISH_RADIUS_RANGE))
    spur = _draw_osteophyte(rng)
    if not (kind == "normal" and level in WEDGED_LEVELS):
        ratio = 1.0
    if kind == "biconcave":
        superior = inferior = 0.0
    elif kind == "normal":
        # Hm = (1 + ratio) / 2 * Hp - depressions; keep 1 - Hm/Hp within the limit.
        room = max(0.0, (NORMAL_MAX_DEFORMITY - (1.0 - ratio) / 2.0) * height_mm)
        scale = min(1.0, room / (superior + inferior))
        superior, inferior = superior * scale, inferior * scale
    return BodyShape(
        corner_radius_mm=radius,
        wedge_ratio=ratio,
        depression_mm=(superior, inferior),
        dish_radius=dish,
        osteophyte=spur,
    )


def _draw_osteophyte(rng: np.random.Generator) -> Osteophyte | None:
    present, endplate, r_mm, length, radius = rng.uniform(size=5)
    if present >= OSTEOPHYTE_CHANCE:
        return None
    return Osteophyte(
        endplate="superior" if endplate < 0.5 else "inferior",
        r_mm=float(-4.0 + 8.0 * r_mm),
        length_mm=float(2.5 + 2.0 * length),
        radius_mm=float(1.5 + 0.8 * radius),
    )


def wall_inset_mm(r: Float64Array, a: Float64Array, width: float, depth: float) -> Float64Array:
    """Distance (mm) from each point to the footprint ellipse's wall, positive inside.

    First-order distance ``(1 - rho) / |grad rho|``, exact on the ellipse's axes (``D - |a|``
    at ``r = 0``) and close to the true distance near the wall elsewhere.
    """
    rho = np.sqrt((r / width) ** 2 + (a / depth) ** 2)
    gradient_x_rho = np.sqrt((r / width**2) ** 2 + (a / depth**2) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        inset = np.where(
            gradient_x_rho > 1e-9, (1.0 - rho) * rho / gradient_x_rho, min(width, depth)
        )
    return np.asarray(inset, dtype=float)


def body_distance_mm(
    inset_mm: Float64Array, above_mm: Float64Array, below_mm: Float64Array, radius_mm: float
) -> Float64Array:
    """Depth (mm) of each point inside the body with its rim rounded; negative outside.

    Args:
        inset_mm: Distance inside the wall (:func:`wall_inset_mm`).
        above_mm: Distance below the superior endplate, ``top(r, a) - s``.
        below_mm: Distance above the inferior endplate, ``s - bottom(r, a)``.
        radius_mm: Radius of the rounded rim.

    Returns:
        ``min(inset, above, below)`` away from the rim; within ``radius_mm`` of both the wall
        and an endplate, ``R - |(R - inset, R - v)|`` (a quarter circle of radius R).

    """
    v = np.minimum(above_mm, below_mm)
    plain = np.minimum(inset_mm, v)
    if radius_mm <= 0:
        return np.asarray(plain, dtype=float)
    rim = (inset_mm < radius_mm) & (v < radius_mm) & (inset_mm > 0) & (v > 0)
    rounded = radius_mm - np.hypot(radius_mm - inset_mm, radius_mm - v)
    return np.asarray(np.where(rim, rounded, plain), dtype=float)


def osteophyte_mask(
    spur: Osteophyte,
    corner_mm: tuple[float, float, float],
    r: Float64Array,
    a: Float64Array,
    s: Float64Array,
) -> BoolArray:
    """Points inside an osteophyte's cone.

    The cone's base (radius ``spur.radius_mm``) is centred 1.5 mm inside the anterior wall at
    the corner; its axis points anterior, tilted by ``spur.angle_deg`` towards the disc, and its
    tip lies ``spur.length_mm`` beyond the corner.

    Args:
        spur: The osteophyte.
        corner_mm: Local ``(r, a, s)`` of the endplate corner it grows from.
        r: Local right coordinate of the points, mm.
        a: Local anterior coordinate, same shape.
        s: Local superior coordinate, same shape.

    """
    angle = np.radians(spur.angle_deg)
    sign = 1.0 if spur.endplate == "superior" else -1.0
    axis = np.array([0.0, np.cos(angle), sign * np.sin(angle)])
    base = np.array(corner_mm) - 1.5 * axis
    length = spur.length_mm + 1.5
    dr, da, ds = r - base[0], a - base[1], s - base[2]
    along = da * axis[1] + ds * axis[2]
    across2 = dr**2 + (da - along * axis[1]) ** 2 + (ds - along * axis[2]) ** 2
    allowed = spur.radius_mm * (1.0 - along / length)
    return np.asarray((along >= 0) & (along <= length) & (across2 <= allowed**2))
