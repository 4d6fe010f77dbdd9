"""One synthetic vertebra: its analytic shape in a local frame and its ground truth.

This module holds the truth definition the measuring code is checked against: the body's
height profile ``h(r, a)`` for each fracture kind, where the anterior, middle and posterior
heights are read (``a = +0.8 D``, ``0``, ``-0.8 D`` at ``r = 0``), and how height loss,
Genant grade and morphology follow from them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from fracturelab.synth.anatomy import NominalSize
from fracturelab.synth.fractures import FractureSpec, true_genant_grade

__all__ = ["SyntheticVertebra"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Where heights are measured, as a fraction of the semi-depth D (10 % of the depth 2D inside
#: the anterior and posterior edges).
MEASURE_AT = 0.8
#: Biconcave dish: confined to rho < 0.7 (rho^2 < 0.49) in the normalised footprint.
DISH_RHO2 = 0.49
#: Thickness of the cortical shell of the body, mm.
CORTEX_MM = 1.5
#: Posterior elements stay within this fraction of H above and below the body centre.
POSTERIOR_HALF_EXTENT = 0.35

# The atlas (C1): a ring around the canal, sizes in mm in its local frame.
_ATLAS_CANAL_RADIUS = 10.0
_ATLAS_CANAL_OFFSET = -6.0
_ATLAS_OUTER = (20.0, 15.0)


class SyntheticVertebra:
    """A vertebra as analytic shapes in its local frame ``(r, a, s)`` (mm).

    The body is an elliptic cylinder ``(r/W)^2 + (a/D)^2 <= 1`` between the endplates
    ``s = -h(r, a)/2`` and ``s = +h(r, a)/2``, with a 1.5 mm cortical shell. Behind it, the
    posterior elements (pedicles, a neural arch around the spinal canal, a spinous process and
    two transverse processes) stay within ``+-0.35 H`` along ``s`` and outside the body's
    footprint cylinder, so they never change a measured body height. C1 is a ring (no body);
    S1 is a large block with the same posterior elements.

    Args:
        level: Level name, e.g. ``"L1"``.
        center_mm: LPS centre of the body, shape ``(3,)``.
        frame: ``(right, anterior, superior)`` orthonormal LPS unit vectors, each ``(3,)``.
        size: Nominal height H, semi-width W and semi-depth D of the level.
        fracture: The fracture to draw, or ``None`` for a normal vertebra.

    """

    def __init__(
        self,
        level: str,
        *,
        center_mm: npt.ArrayLike,
        frame: tuple[FloatArray, FloatArray, FloatArray],
        size: NominalSize,
        fracture: FractureSpec | None = None,
    ) -> None:
        self.level = level
        self.center_mm: FloatArray = np.asarray(center_mm, dtype=float)
        self.right, self.anterior, self.superior = (np.asarray(v, dtype=float) for v in frame)
        self.height_mm = float(size.height_mm)
        self.semi_width_mm = float(size.semi_width_mm)
        self.semi_depth_mm = float(size.semi_depth_mm)
        self.has_body = level != "C1"
        loss = fracture.loss_fraction if fracture is not None else 0.0
        self.kind: str = fracture.kind if fracture is not None and loss > 0 else "normal"
        self.loss_fraction = loss if self.kind != "normal" else 0.0

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
        self.canal_offset_mm = -(depth + 0.5 * self._arch + self.canal_radius_mm)
        back_of_arch = self.canal_offset_mm - self.canal_radius_mm
        self._spine_start = back_of_arch + 0.5 * self._arch
        self._spine_tip = back_of_arch - self._arch - (0.8 * depth + 8.0)
        self._spine_half_width = max(1.5, 0.12 * width)
        self._transverse_tip = max(1.6 * width, width + 12.0)
        self._transverse_half_depth = max(2.0, 0.12 * width)
        s_max = max(0.5 * height * (1 + 0.125 * self.loss_fraction), POSTERIOR_HALF_EXTENT * height)
        self._extent = (self._transverse_tip, self._spine_tip, depth, s_max)

    # ------------------------------------------------------------------ truth
    def body_height_mm(self, r_mm: npt.ArrayLike, a_mm: npt.ArrayLike) -> FloatArray:
        """Height ``h(r, a)`` of the body between its endplates, in mm.

        Normal: ``H``. Wedge with loss L: ``H (1 - L (a - a_P) / (a_A - a_P))`` with
        ``a_A = +0.8 D``, ``a_P = -0.8 D``. Biconcave: ``H (1 - L max(0, 1 - rho^2 / 0.49))``
        with ``rho^2 = (r/W)^2 + (a/D)^2``. Crush: ``H (1 - L)``.

        Args:
            r_mm: Local right coordinate, any shape.
            a_mm: Local anterior coordinate, broadcastable with ``r_mm``.

        """
        r = np.asarray(r_mm, dtype=float)
        a = np.asarray(a_mm, dtype=float)
        rho2 = (r / self.semi_width_mm) ** 2 + (a / self.semi_depth_mm) ** 2
        return self._height(a, rho2)

    def _height(self, a: FloatArray, rho2: FloatArray) -> FloatArray:
        height, loss = self.height_mm, self.loss_fraction
        shape = np.broadcast_shapes(a.shape, rho2.shape)
        if self.kind == "wedge":
            a_posterior = -MEASURE_AT * self.semi_depth_mm
            span = 2 * MEASURE_AT * self.semi_depth_mm
            return np.asarray(height * (1 - loss * (a - a_posterior) / span), dtype=float)
        if self.kind == "biconcave":
            dish = np.maximum(0.0, 1 - rho2 / DISH_RHO2)
            return np.asarray(height * (1 - loss * dish), dtype=float)
        if self.kind == "crush":
            return np.full(shape, height * (1 - loss))
        return np.full(shape, height)

    def heights_mm(self) -> dict[str, float]:
        """Return the true heights (mm) at ``r = 0`` and ``a = +0.8 D`` / ``0`` / ``-0.8 D``."""
        offsets = {"anterior": MEASURE_AT, "middle": 0.0, "posterior": -MEASURE_AT}
        return {
            name: float(self.body_height_mm(0.0, fraction * self.semi_depth_mm))
            for name, fraction in offsets.items()
        }

    @property
    def height_loss_pct(self) -> float:
        """True height loss in %: wedge 1 - Ha/Hp, biconcave 1 - Hm/Hp, crush L, normal 0."""
        heights = self.heights_mm()
        if self.kind == "wedge":
            loss = 100 * (1 - heights["anterior"] / heights["posterior"])
        elif self.kind == "biconcave":
            loss = 100 * (1 - heights["middle"] / heights["posterior"])
        elif self.kind == "crush":
            loss = 100 * self.loss_fraction
        else:
            loss = 0.0
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
    def canal_center_mm(self) -> FloatArray:
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
    def world_bounds_mm(self) -> tuple[FloatArray, FloatArray]:
        """LPS axis-aligned box ``(low, high)`` holding the whole vertebra, each ``(3,)``."""
        r_max, a_min, a_max, s_max = self._extent
        corners = np.array(
            [[r, a, s] for r in (-r_max, r_max) for a in (a_min, a_max) for s in (-s_max, s_max)]
        )
        axes = np.stack([self.right, self.anterior, self.superior])
        world = self.center_mm + corners @ axes
        return world.min(axis=0), world.max(axis=0)

    def to_local(
        self, x_mm: FloatArray, y_mm: FloatArray, z_mm: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
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

    def _axes(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        return self.right, self.anterior, self.superior

    def masks(
        self, r: FloatArray, a: FloatArray, s: FloatArray
    ) -> tuple[BoolArray, BoolArray, BoolArray]:
        """Which points lie in the cortical shell, the cancellous core and the posterior elements.

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
        rho2 = (r / width) ** 2 + (a / depth) ** 2
        footprint = rho2 <= 1.0
        half = 0.5 * self._height(a, rho2)
        body = footprint & (abs_s <= half)
        inner_rho2 = (r / (width - CORTEX_MM)) ** 2 + (a / (depth - CORTEX_MM)) ** 2
        cancellous = body & (inner_rho2 <= 1.0) & (abs_s <= half - CORTEX_MM)
        cortical = body & ~cancellous
        posterior = self._posterior(r, a, s, abs_s) & ~footprint
        return cortical, cancellous, posterior

    def _posterior(
        self, r: FloatArray, a: FloatArray, s: FloatArray, abs_s: FloatArray
    ) -> BoolArray:
        height, depth = self.height_mm, self.semi_depth_mm
        radius, arch, a_canal = self.canal_radius_mm, self._arch, self.canal_offset_mm
        abs_r = np.abs(r)
        slab = abs_s <= POSTERIOR_HALF_EXTENT * height
        canal_d2 = r**2 + (a - a_canal) ** 2
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
        return np.asarray(
            ((ring | pedicles | spinous | transverse) & slab) & (canal_d2 > radius**2)
        )

    def _atlas(self, r: FloatArray, a: FloatArray, abs_s: FloatArray) -> BoolArray:
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


def _rounded(vector: FloatArray) -> list[float]:
    return [round(float(value), 6) for value in vector]
