"""One synthetic vertebra: its analytic shape in a local frame and its ground truth.

This module holds the truth definition the measuring code is checked against. It is defined
here, from the phantom's own geometry, independently of how :mod:`fracturelab.spine` measures:

- **Where.** As six-point morphometry places its points (Eastell 1991, McCloskey 1993): in the
  mid-sagittal plane of the body (local ``r = 0``), Ha at the anterior wall (``a = +D``), Hp at
  the posterior wall (``a = -D``) and Hm in the middle (``a = 0``), each the distance along the
  body's superior axis between the superior and the inferior endplate surfaces.
- **Which endplate.** The endplate surface extrapolated to the wall: the corner point a reader
  places on the endplate line at the wall, not the rounded edge of the mask. Rounded corners
  and osteophytes change the drawn bone near the rim but not the endplate surfaces, so not the
  true heights. A biconcave dish that reaches the walls lowers Ha and Hp, honestly.
- **Loss and grade.** Wedge ``1 - Ha/Hp``, biconcave ``1 - Hm/Hp``, crush the loss against the
  nominal height, normal the larger of ``1 - Ha/Hp`` and ``1 - Hm/Hp`` (physiological
  wedging and endplate depressions, kept below 15 %); the Genant grade follows from the loss
  (:func:`~fracturelab.synth.fractures.true_genant_grade`), the morphology from the grade.

The shape itself (endplate surfaces, rounded rim, osteophytes) is in
:mod:`fracturelab.synth._body`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from fracturelab.synth._body import (
    CONCAVITY_RHO,
    CORTEX_MM,
    BodyShape,
    body_distance_mm,
    osteophyte_mask,
    wall_inset_mm,
)
from fracturelab.synth.anatomy import NominalSize
from fracturelab.synth.fractures import FractureSpec, true_genant_grade
from fracturelab.typing import BoolArray, Float64Array

__all__ = ["PROCESSES", "TRUTH_DEFINITION", "SyntheticVertebra"]


#: The truth definition in words, as written into ``truth.json``.
TRUTH_DEFINITION = (
    "Heights in the mid-sagittal plane of the body along its superior axis, between the "
    "superior and inferior endplate surfaces: Ha at the anterior wall, Hp at the posterior wall, "
    "Hm midway (six-point morphometry, Eastell 1991, McCloskey 1993). At the walls the endplate "
    "surface is extrapolated to the wall (the corner point on the endplate line), not read off "
    "the rounded rim; osteophytes do not count. Loss: wedge 1-Ha/Hp, biconcave 1-Hm/Hp, crush "
    "against the nominal height, normal max(1-Ha/Hp, 1-Hm/Hp); Genant grade 0 below 20 %, "
    "1 to 25 %, 2 to 40 %, 3 above."
)

#: Posterior processes that ``missing-process`` can leave out of the label map.
PROCESSES: tuple[str, ...] = ("spinous", "transverse_right", "transverse_left")

#: Posterior elements stay within this fraction of H above and below the body centre.
POSTERIOR_HALF_EXTENT = 0.35

# The atlas (C1): a ring around the canal, sizes in mm in its local frame.
_ATLAS_CANAL_RADIUS = 10.0
_ATLAS_CANAL_OFFSET = -6.0
_ATLAS_OUTER = (20.0, 15.0)


class SyntheticVertebra:
    """A vertebra as analytic shapes in its local frame ``(r, a, s)`` (mm).

    The body is the part of the elliptic cylinder ``(r/W)^2 + (a/D)^2 <= 1`` between the
    endplate surfaces :meth:`endplates_mm`, its rim rounded, with a 1.5 mm cortical shell and
    perhaps an osteophyte (see :mod:`fracturelab.synth._body`). Behind it, the posterior
    elements (pedicles, a neural arch around the spinal canal, which touches the posterior wall
    in the mid-sagittal plane, a spinous process and two transverse processes) stay within
    ``+-0.35 H`` along ``s`` and outside the body's footprint cylinder. C1 is a ring (no body);
    S1 is a large block with the same posterior elements.

    Args:
        level: Level name, e.g. ``"L1"``.
        center_mm: LPS centre of the body, shape ``(3,)``.
        frame: ``(right, anterior, superior)`` orthonormal LPS unit vectors, each ``(3,)``.
        size: Nominal height H, semi-width W and semi-depth D of the level.
        fracture: The fracture to draw, or ``None`` for a normal vertebra.
        shape: Rounded corners, physiological wedging, endplate depressions, dish radius and
            osteophyte; default a sharp-cornered body with flat endplates.

    """

    def __init__(
        self,
        level: str,
        *,
        center_mm: npt.ArrayLike,
        frame: tuple[Float64Array, Float64Array, Float64Array],
        size: NominalSize,
        fracture: FractureSpec | None = None,
        shape: BodyShape | None = None,
    ) -> None:
        self.level = level
        self.center_mm: Float64Array = np.asarray(center_mm, dtype=float)
        self.right, self.anterior, self.superior = (np.asarray(v, dtype=float) for v in frame)
        self.height_mm = float(size.height_mm)
        self.semi_width_mm = float(size.semi_width_mm)
        self.semi_depth_mm = float(size.semi_depth_mm)
        self.has_body = level != "C1"
        loss = fracture.loss_fraction if fracture is not None else 0.0
        self.kind: str = fracture.kind if fracture is not None and loss > 0 else "normal"
        self.loss_fraction = loss if self.kind != "normal" else 0.0
        self.shape = shape if shape is not None else BodyShape()

        width, depth, height = self.semi_width_mm, self.semi_depth_mm, self.height_mm
        if not self.has_body:
            self.canal_radius_mm = _ATLAS_CANAL_RADIUS
            self.canal_offset_mm = _ATLAS_CANAL_OFFSET
            outer_width, outer_depth = _ATLAS_OUTER
            self.semi_width_mm, self.semi_depth_mm = outer_width, outer_depth
            self._extent = (
                outer_width,
                self.canal_offset_mm - outer_depth,
                self.canal_offset_mm + outer_depth,
                height / 2,
            )
            return
        self.canal_radius_mm = max(0.35 * width, 6.0)
        self._arch = max(2.5, 0.2 * width)
        self.canal_offset_mm = -(depth + self.canal_radius_mm)
        back_of_arch = self.canal_offset_mm - self.canal_radius_mm
        self._spine_start = back_of_arch + 0.5 * self._arch
        self._spine_tip = back_of_arch - self._arch - (0.8 * depth + 8.0)
        self._spine_half_width = max(1.5, 0.12 * width)
        self._transverse_tip = max(1.6 * width, width + 12.0)
        self._transverse_half_depth = max(2.0, 0.12 * width)
        s_max = max(0.5 * height + 5.0, POSTERIOR_HALF_EXTENT * height)
        self._extent = (self._transverse_tip, self._spine_tip, depth + 8.0, s_max)

    # ------------------------------------------------------------------ truth
    def _plane_heights(self) -> tuple[float, float]:
        """Height of the endplates' plane part at the posterior and anterior walls, mm."""
        height, loss = self.height_mm, self.loss_fraction
        if self.kind == "wedge":
            return height, height * (1.0 - loss)
        if self.kind == "crush":
            return height * (1.0 - loss), height * (1.0 - loss)
        return height, height * self.shape.wedge_ratio

    def _dish_depth_mm(self) -> float:
        """Total depth (both endplates) of a biconcave fracture's dish at the centre, mm.

        Chosen so that ``Hm / Hp = 1 - L`` exactly, also when the dish reaches the walls and
        lowers Hp: ``delta = L H / (1 - (1 - L) f(1))`` with ``f(1) = max(0, 1 - 1/c^2)``.
        """
        if self.kind != "biconcave":
            return 0.0
        loss = self.loss_fraction
        at_wall = max(0.0, 1.0 - 1.0 / self.shape.dish_radius**2)
        return loss * self.height_mm / (1.0 - (1.0 - loss) * at_wall)

    def endplates_mm(
        self, r_mm: npt.ArrayLike, a_mm: npt.ArrayLike
    ) -> tuple[Float64Array, Float64Array]:
        """Superior and inferior endplate surfaces ``s = top(r, a)``, ``s = bottom(r, a)``, mm.

        Defined over the whole footprint and beyond, walls included (see
        :mod:`fracturelab.synth._body`): the plane part ``+-h(a)/2`` with ``h`` linear from
        ``Hp`` at ``a = -D`` to ``Ha`` at ``a = +D``, minus the physiological central depression
        of each endplate, minus a biconcave fracture's dish.

        Args:
            r_mm: Local right coordinate, any shape.
            a_mm: Local anterior coordinate, broadcastable with ``r_mm``.

        Returns:
            ``(top, bottom)`` local superior coordinates, the broadcast shape.

        """
        r = np.asarray(r_mm, dtype=float)
        a = np.asarray(a_mm, dtype=float)
        depth = self.semi_depth_mm
        posterior, anterior = self._plane_heights()
        plane = posterior + (anterior - posterior) * (a + depth) / (2.0 * depth)
        rho2 = (r / self.semi_width_mm) ** 2 + (a / depth) ** 2
        normal_dip = np.maximum(0.0, 1.0 - rho2 / CONCAVITY_RHO**2) ** 2
        dish = 0.5 * self._dish_depth_mm() * np.maximum(0.0, 1.0 - rho2 / self.shape.dish_radius**2)
        superior, inferior = self.shape.depression_mm
        top = 0.5 * plane - superior * normal_dip - dish
        bottom = -0.5 * plane + inferior * normal_dip + dish
        return np.asarray(top, dtype=float), np.asarray(bottom, dtype=float)

    def body_height_mm(self, r_mm: npt.ArrayLike, a_mm: npt.ArrayLike) -> Float64Array:
        """Height ``top(r, a) - bottom(r, a)`` between the endplate surfaces, in mm.

        Args:
            r_mm: Local right coordinate, any shape.
            a_mm: Local anterior coordinate, broadcastable with ``r_mm``.

        """
        top, bottom = self.endplates_mm(r_mm, a_mm)
        return np.asarray(top - bottom, dtype=float)

    def heights_mm(self) -> dict[str, float]:
        """True heights (mm) in the mid-sagittal plane ``r = 0``.

        Anterior at the anterior wall ``a = +D``, middle at ``a = 0``, posterior at the
        posterior wall ``a = -D``, each between the endplate surfaces (the rounded rim is not
        taken off).
        """
        return {
            name: float(self.body_height_mm(0.0, offset))
            for name, offset in self._height_positions().items()
        }

    def _height_positions(self) -> dict[str, float]:
        depth = self.semi_depth_mm
        return {"anterior": depth, "middle": 0.0, "posterior": -depth}

    def height_points_mm(self) -> dict[str, dict[str, list[float]]]:
        """LPS points (mm) where the six-point morphometry places its points.

        Returns:
            ``{"anterior" | "middle" | "posterior": {"superior": [x, y, z],
            "inferior": [x, y, z]}}``: the endplate surfaces at the walls and in the middle of
            the mid-sagittal plane.

        """
        points: dict[str, dict[str, list[float]]] = {}
        for name, offset in self._height_positions().items():
            top, bottom = (float(v) for v in self.endplates_mm(0.0, offset))
            base = self.center_mm + offset * self.anterior
            points[name] = {
                "superior": _rounded(base + top * self.superior),
                "inferior": _rounded(base + bottom * self.superior),
            }
        return points

    @property
    def height_loss_pct(self) -> float:
        """True height loss in % from the true heights.

        Wedge ``1 - Ha/Hp``, biconcave ``1 - Hm/Hp``, crush ``L`` (against the nominal height),
        normal the larger of ``1 - Ha/Hp`` and ``1 - Hm/Hp`` (physiological wedging and
        endplate depressions, below 20 % by construction).
        """
        heights = self.heights_mm()
        wedge = 1 - heights["anterior"] / heights["posterior"]
        dish = 1 - heights["middle"] / heights["posterior"]
        if self.kind == "wedge":
            loss = 100 * wedge
        elif self.kind == "biconcave":
            loss = 100 * dish
        elif self.kind == "crush":
            loss = 100 * self.loss_fraction
        else:
            loss = 100 * max(0.0, wedge, dish)
        return round(loss, 6)

    @property
    def genant_grade(self) -> int:
        """True Genant grade of :attr:`height_loss_pct`."""
        return true_genant_grade(self.height_loss_pct)

    @property
    def morphology(self) -> str:
        """``"normal"`` for grade 0, else the fracture kind."""
        return "normal" if self.genant_grade == 0 else self.kind

    @property
    def canal_center_mm(self) -> Float64Array:
        """LPS centre of the spinal canal at the level of the body centre, shape ``(3,)``."""
        return np.asarray(self.center_mm + self.canal_offset_mm * self.anterior, dtype=float)

    def truth_record(self, label: int, *, in_field_of_view: bool) -> dict[str, Any]:
        """Return the vertebra's entry in ``truth.json`` (JSON-serialisable)."""
        heights = self.heights_mm()
        return {
            "level": self.level,
            "label": int(label),
            "kind": self.kind,
            "height_loss_pct": self.height_loss_pct,
            "genant_grade": self.genant_grade,
            "morphology": self.morphology,
            "heights_mm": {name: round(value, 6) for name, value in heights.items()},
            "height_points_mm": self.height_points_mm() if self.has_body else None,
            "shape": self.shape.as_dict(self.kind) if self.has_body else None,
            "nominal_height_mm": round(self.height_mm, 6),
            "body_center_mm": _rounded(self.center_mm),
            "frame": {
                "superior": _rounded(self.superior),
                "anterior": _rounded(self.anterior),
                "right": _rounded(self.right),
            },
            "semi_width_mm": round(self.semi_width_mm, 6),
            "semi_depth_mm": round(self.semi_depth_mm, 6),
            "in_field_of_view": bool(in_field_of_view),
            "has_body": self.has_body,
            "canal_center_mm": _rounded(self.canal_center_mm),
            "canal_radius_mm": round(self.canal_radius_mm, 6),
        }

    # ------------------------------------------------------------------ voxelisation
    def world_bounds_mm(self) -> tuple[Float64Array, Float64Array]:
        """LPS axis-aligned box ``(low, high)`` holding the whole vertebra, each ``(3,)``."""
        r_max, a_min, a_max, s_max = self._extent
        corners = np.array(
            [[r, a, s] for r in (-r_max, r_max) for a in (a_min, a_max) for s in (-s_max, s_max)]
        )
        axes = np.stack([self.right, self.anterior, self.superior])
        world = self.center_mm + corners @ axes
        return world.min(axis=0), world.max(axis=0)

    def to_local(
        self, x_mm: Float64Array, y_mm: Float64Array, z_mm: Float64Array
    ) -> tuple[Float64Array, Float64Array, Float64Array]:
        """Local coordinates of the grid of LPS points ``x_mm x y_mm x z_mm``.

        Args:
            x_mm: LPS x of the grid's points, shape ``(I,)``.
            y_mm: LPS y of the grid's points, shape ``(J,)``.
            z_mm: LPS z of the grid's points, shape ``(K,)``.

        Returns:
            ``(r, a, s)`` in mm, each shape ``(I, J, K)``.

        """
        dx = (x_mm - self.center_mm[0])[:, None, None]
        dy = (y_mm - self.center_mm[1])[None, :, None]
        dz = (z_mm - self.center_mm[2])[None, None, :]
        r, a, s = ((u[0] * dx + u[1] * dy) + u[2] * dz for u in self._axes())
        return r, a, s

    def _axes(self) -> tuple[Float64Array, Float64Array, Float64Array]:
        return self.right, self.anterior, self.superior

    def masks(
        self, r: Float64Array, a: Float64Array, s: Float64Array
    ) -> tuple[BoolArray, BoolArray, BoolArray]:
        """Which points lie in the cortical shell, the cancellous core and the posterior elements.

        The cortical shell holds the body's outer 1.5 mm (rounded rim included) and an
        osteophyte, if any.

        Args:
            r: Local right coordinate in mm, shape ``(...)``.
            a: Local anterior coordinate in mm, same shape.
            s: Local superior coordinate in mm, same shape.

        Returns:
            ``(cortical, cancellous, posterior)`` boolean arrays of that shape, disjoint.

        """
        abs_s = np.abs(s)
        if not self.has_body:
            empty = np.zeros(r.shape, dtype=bool)
            return empty, empty.copy(), self._atlas(r, a, abs_s)
        width, depth = self.semi_width_mm, self.semi_depth_mm
        footprint = (r / width) ** 2 + (a / depth) ** 2 <= 1.0
        inside = self.body_depth_mm(r, a, s)
        body = footprint & (inside >= 0.0)
        cancellous = body & (inside >= CORTEX_MM)
        cortical = body & ~cancellous
        spur = self.shape.osteophyte
        if spur is not None:
            corner_a = depth * np.sqrt(max(0.0, 1.0 - (spur.r_mm / width) ** 2))
            top_at, bottom_at = self.endplates_mm(spur.r_mm, corner_a)
            corner_s = float(top_at if spur.endplate == "superior" else bottom_at)
            cortical |= osteophyte_mask(spur, (spur.r_mm, corner_a, corner_s), r, a, s) & ~body
        posterior = self._posterior(r, a, s, abs_s) & ~footprint & ~cortical
        return cortical, cancellous, posterior

    def body_depth_mm(self, r: Float64Array, a: Float64Array, s: Float64Array) -> Float64Array:
        """Signed depth (mm) of points inside the body, rounded rim included; negative outside.

        Args:
            r: Local right coordinate in mm, shape ``(...)``.
            a: Local anterior coordinate in mm, same shape.
            s: Local superior coordinate in mm, same shape.

        Returns:
            Depth in mm, same shape; ``-inf`` everywhere for a vertebra without a body.

        """
        if not self.has_body:
            return np.full(np.shape(r), -np.inf)
        top, bottom = self.endplates_mm(r, a)
        inset = wall_inset_mm(r, a, self.semi_width_mm, self.semi_depth_mm)
        return body_distance_mm(inset, top - s, s - bottom, self.shape.corner_radius_mm)

    def process_mask(
        self, name: str, r: Float64Array, a: Float64Array, s: Float64Array
    ) -> BoolArray:
        """Points of one posterior process beyond the neural arch and pedicles.

        Args:
            name: One of :data:`PROCESSES`: ``"spinous"``, ``"transverse_right"`` (local
                ``r > 0``) or ``"transverse_left"``.
            r: Local right coordinate in mm, shape ``(...)``.
            a: Local anterior coordinate in mm, same shape.
            s: Local superior coordinate in mm, same shape.

        Returns:
            Boolean array of that shape; all false for C1.

        """
        if not self.has_body:
            return np.zeros(r.shape, dtype=bool)
        parts = self._posterior_parts(r, a, s, np.abs(s))
        arch = parts["ring"] | parts["pedicles"]
        if name == "spinous":
            process = parts["spinous"]
        else:
            process = parts["transverse"] & ((r > 0) if name == "transverse_right" else (r < 0))
        return np.asarray(process & ~arch)

    def _posterior(
        self, r: Float64Array, a: Float64Array, s: Float64Array, abs_s: Float64Array
    ) -> BoolArray:
        parts = self._posterior_parts(r, a, s, abs_s)
        return np.asarray(
            parts["ring"] | parts["pedicles"] | parts["spinous"] | parts["transverse"]
        )

    def _posterior_parts(
        self, r: Float64Array, a: Float64Array, s: Float64Array, abs_s: Float64Array
    ) -> dict[str, BoolArray]:
        height, depth = self.height_mm, self.semi_depth_mm
        radius, arch, a_canal = self.canal_radius_mm, self._arch, self.canal_offset_mm
        abs_r = np.abs(r)
        slab = abs_s <= POSTERIOR_HALF_EXTENT * height
        canal_d2 = r**2 + (a - a_canal) ** 2
        open_canal = slab & (canal_d2 > radius**2)
        ring = canal_d2 <= (radius + arch) ** 2
        pedicles = (
            (abs_r >= 0.55 * radius)
            & (abs_r <= radius + arch)
            & (a >= a_canal)
            & (a <= -0.4 * depth)
            & (abs_s <= 0.3 * height)
        )
        start, tip = self._spine_start, self._spine_tip
        along = np.clip((start - a) / (start - tip), 0.0, 1.0)
        spinous = (
            (abs_r <= self._spine_half_width)
            & (a <= start)
            & (a >= tip)
            & (np.abs(s + 0.15 * height * along) <= 0.2 * height)
        )
        transverse = (
            (abs_r >= radius + 0.5 * arch)
            & (abs_r <= self._transverse_tip)
            & (np.abs(a - a_canal) <= self._transverse_half_depth)
            & (abs_s <= 0.2 * height)
        )
        return {
            "ring": np.asarray(ring & open_canal),
            "pedicles": np.asarray(pedicles & open_canal),
            "spinous": np.asarray(spinous & open_canal),
            "transverse": np.asarray(transverse & open_canal),
        }

    def _atlas(self, r: Float64Array, a: Float64Array, abs_s: Float64Array) -> BoolArray:
        outer_width, outer_depth = _ATLAS_OUTER
        offset = a - self.canal_offset_mm
        inside = (r / outer_width) ** 2 + (offset / outer_depth) ** 2 <= 1.0
        canal = r**2 + offset**2 < self.canal_radius_mm**2
        return np.asarray(inside & ~canal & (abs_s <= 0.5 * self.height_mm))

    def __repr__(self) -> str:
        return (
            f"SyntheticVertebra({self.level}, kind={self.kind}, "
            f"loss={100 * self.loss_fraction:g}%, H={self.height_mm:g} mm)"
        )


def _rounded(vector: Float64Array) -> list[float]:
    return [round(float(value), 6) for value in vector]
