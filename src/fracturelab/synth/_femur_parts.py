"""Projected bone shapes of the femur phantom: tubes from profile tables, blobs, the pelvis.

Every shape returns path lengths (mm along the X-ray beam) through bone in a 2D frame
``(u, v)`` (mm; ``u`` lateral, ``v`` distal): ``total`` through the whole shape and ``inner``
through its cancellous or marrow core, so the cortex is ``total - inner``. A tube of outer
radius ``R`` seen from the front has ``total = 2 sqrt(R^2 - (u - c)^2)``: the cortex looks
brightest just inside the bone edge, as on a real radiograph. Profiles along the shaft
(radius, centre line, cortex, the AFF beak) are tabulated densely in ``v`` and looked up by
nearest neighbour, which is exact to a few hundredths of a millimetre and cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from fracturelab.typing import BoolArray, Float64Array, FloatArray

__all__ = [
    "MU_CANCELLOUS",
    "MU_CORTEX",
    "MU_MARROW",
    "MU_SOFT",
    "Blob",
    "Pelvis",
    "Table",
    "Tube",
    "combine",
    "grid",
    "smoothstep",
]

#: Relative linear attenuation per mm (soft tissue, marrow, cancellous and cortical bone).
MU_SOFT = 0.010
MU_MARROW = 0.008
MU_CANCELLOUS = 0.020
MU_CORTEX = 0.060

#: Step of the profile tables, mm.
TABLE_STEP_MM = 0.025
#: Half-width along the tube of the running maximum that bounds its reach, mm.
SUPPORT_MARGIN_MM = 3.0


def grid(start: float, stop: float, step: float = TABLE_STEP_MM) -> Float64Array:
    """Sample coordinates ``start, start + step, ...`` up to at least ``stop``."""
    n = max(2, math.ceil((stop - start) / step) + 1)
    return start + step * np.arange(n, dtype=np.float64)


def smoothstep(x: Float64Array) -> Float64Array:
    """``3x^2 - 2x^3`` of ``x`` clipped to [0, 1]: 0 below 0, 1 above 1, smooth between."""
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class Table:
    """Profiles sampled at ``start + i * step``; looked up by the nearest sample (clamped).

    Attributes:
        start: Coordinate of sample 0, mm.
        step: Sample spacing, mm.
        values: Shape ``(K, n)`` float32: ``K`` profiles.

    """

    start: float
    step: float
    values: FloatArray

    @classmethod
    def of(cls, grid: Float64Array, *profiles: Float64Array) -> Table:
        """A table of ``profiles`` sampled on ``grid`` (made by :func:`grid`)."""
        step = float(grid[1] - grid[0])
        return cls(float(grid[0]), step, np.stack(profiles).astype(np.float32))

    def index(self, x: FloatArray) -> npt.NDArray[np.int32]:
        """Index of the nearest sample of each coordinate in ``x`` (any shape)."""
        t = (x - np.float32(self.start - 0.5 * self.step)) * np.float32(1.0 / self.step)
        np.clip(t, 0.0, self.values.shape[1] - 1, out=t)
        return t.astype(np.int32)

    def __call__(self, x: FloatArray) -> FloatArray:
        """Profiles at ``x``: shape ``(K, *x.shape)``."""
        return self.values[:, self.index(x)]


@dataclass(frozen=True)
class Tube:
    """A straight-ish tube along ``v`` with tabulated radii, centres and core attenuation.

    Table rows: outer centre ``c_o``, outer radius squared, inner centre ``c_i``, inner radius
    squared, ``mu_inner - MU_SOFT``, and (support only) the outer radius dilated along ``v``.
    """

    table: Table

    @classmethod
    def from_profiles(
        cls,
        v: Float64Array,
        outer_center: Float64Array,
        outer_radius: Float64Array,
        inner_center: Float64Array,
        inner_radius: Float64Array,
        mu_inner: Float64Array,
    ) -> Tube:
        """Build the tube from profiles sampled on the grid ``v`` (made by :func:`grid`)."""
        outer = np.maximum(outer_radius, 0.0)
        inner = np.clip(inner_radius, 0.0, outer)
        size = max(1, 2 * round(SUPPORT_MARGIN_MM / float(v[1] - v[0])) + 1)
        reach = ndimage.maximum_filter1d(outer + np.abs(outer_center), size=size, mode="nearest")
        return cls(
            Table.of(v, outer_center, outer**2, inner_center, inner**2, mu_inner - MU_SOFT, reach)
        )

    def paths(self, u: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(total, inner, mu_inner - MU_SOFT)`` at the points ``(u, v)``."""
        c_o, r2_o, c_i, r2_i, dmu = self.table.values[:5, self.table.index(v)]
        total = u - c_o
        np.square(total, out=total)
        np.subtract(r2_o, total, out=total)
        np.maximum(total, 0.0, out=total)
        np.sqrt(total, out=total)
        total *= 2.0
        inner = u - c_i
        np.square(inner, out=inner)
        np.subtract(r2_i, inner, out=inner)
        np.maximum(inner, 0.0, out=inner)
        np.sqrt(inner, out=inner)
        inner *= 2.0
        return total, inner, dmu

    def attenuation(self, u: FloatArray, v: FloatArray) -> FloatArray:
        """Attenuation added over soft tissue at the points ``(u, v)``."""
        total, inner, dmu = self.paths(u, v)
        return combine(total, inner, dmu)

    def supports(self, u: Float64Array, v: Float64Array, margin_mm: float) -> BoolArray:
        """Whether bone may lie within ``margin_mm`` of each point (conservative).

        The reach table is already the maximum over ``SUPPORT_MARGIN_MM`` along ``v``;
        samples that far apart cover the rest of ``v +- margin_mm``.
        """
        steps = math.ceil(margin_mm / SUPPORT_MARGIN_MM)
        reach = np.zeros(v.shape, dtype=np.float32)
        for k in range(-steps, steps + 1):
            shifted = (v + k * margin_mm / max(steps, 1)).astype(np.float32)
            np.maximum(reach, self.table.values[5, self.table.index(shifted)], out=reach)
        inside: BoolArray = np.abs(u) <= reach + margin_mm
        return inside


def combine(total: FloatArray, inner: FloatArray, dmu_inner: FloatArray | float) -> FloatArray:
    """Attenuation of cortex ``total - inner`` plus a core ``inner`` of ``dmu_inner``."""
    out = total - inner
    out *= np.float32(MU_CORTEX - MU_SOFT)
    inner *= dmu_inner
    out += inner
    return out


@dataclass(frozen=True)
class Blob:
    """An ellipsoid (``kind="ellipsoid"``) or a tapered rod (``kind="rod"``) with a shell.

    Ellipsoid: centre ``a``, in-plane semi-axes ``radii`` turned by ``angle_deg``, half depth
    ``depth``. Rod: axis from ``a`` to ``b`` with radius ``radii[0]`` at ``a`` and
    ``radii[1]`` at ``b`` (narrowest ``waist`` x ``radii[1]`` at 70 % of the way).
    """

    kind: str
    a: tuple[float, float]
    b: tuple[float, float]
    radii: tuple[float, float]
    depth: float
    shell: float
    angle_deg: float = 0.0
    waist: float = 1.0

    @property
    def box(self) -> tuple[float, float, float, float]:
        """``(u_min, u_max, v_min, v_max)`` enclosing the blob."""
        reach = max(self.radii)
        us, vs = (self.a[0], self.b[0]), (self.a[1], self.b[1])
        return min(us) - reach, max(us) + reach, min(vs) - reach, max(vs) + reach

    def paths(self, u: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(total, inner)`` path lengths at ``(u, v)``."""
        if self.kind == "rod":
            return self._rod(u, v)
        du = u - np.float32(self.a[0])
        dv = v - np.float32(self.a[1])
        cos, sin = math.cos(math.radians(self.angle_deg)), math.sin(math.radians(self.angle_deg))
        p = du * np.float32(cos) + dv * np.float32(sin)
        q = dv * np.float32(cos) - du * np.float32(sin)
        paths = []
        for shrink in (0.0, self.shell):
            ra, rb = self.radii[0] - shrink, self.radii[1] - shrink
            depth = self.depth - shrink
            r2 = np.square(p * np.float32(1.0 / ra)) + np.square(q * np.float32(1.0 / rb))
            np.subtract(1.0, r2, out=r2)
            np.maximum(r2, 0.0, out=r2)
            np.sqrt(r2, out=r2)
            r2 *= np.float32(2.0 * depth)
            paths.append(r2)
        return paths[0], paths[1]

    def _rod(self, u: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        axis = np.subtract(self.b, self.a)
        length = float(np.hypot(*axis))
        ex, ey = axis / length
        du = u - np.float32(self.a[0])
        dv = v - np.float32(self.a[1])
        t = (du * np.float32(ex) + dv * np.float32(ey)) * np.float32(1.0 / length)
        np.clip(t, 0.0, 1.0, out=t)
        d2 = np.square(du - t * np.float32(ex * length)) + np.square(
            dv - t * np.float32(ey * length)
        )
        r0, r1 = self.radii
        waist = self.waist * r1
        # Radius: r0 at the base, narrowing to the waist at t = 0.7, r1 at the head end.
        radius = np.where(
            t < 0.7,
            np.float32(r0) + (t * np.float32(1.0 / 0.7)) * np.float32(waist - r0),
            np.float32(waist) + ((t - 0.7) * np.float32(1.0 / 0.3)) * np.float32(r1 - waist),
        ).astype(np.float32)
        total = np.square(radius) - d2
        np.maximum(total, 0.0, out=total)
        np.sqrt(total, out=total)
        total *= 2.0
        radius -= np.float32(self.shell)
        np.maximum(radius, 0.0, out=radius)
        inner = np.square(radius, out=radius)
        inner -= d2
        np.maximum(inner, 0.0, out=inner)
        np.sqrt(inner, out=inner)
        inner *= 2.0
        return total, inner


@dataclass(frozen=True)
class Pelvis:
    """Acetabular cup over the femoral head, the iliac wing above and the obturator ring below.

    Attributes:
        head: Centre of the femoral head ``(u, v)``, mm.
        head_radius: Radius of the femoral head, mm.

    """

    head: tuple[float, float]
    head_radius: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        """``(u_min, u_max, v_min, v_max)`` enclosing the pelvis parts drawn."""
        hu, hv = self.head
        return hu - 130.0, hu + self.head_radius + 15.0, hv - 170.0, hv + 100.0

    def attenuation(self, u: FloatArray, v: FloatArray) -> FloatArray:
        """Attenuation added over soft tissue at ``(u, v)``."""
        hu, hv = self.head
        r = self.head_radius
        du, dv = u - np.float32(hu), v - np.float32(hv)
        rho2 = np.square(du) + np.square(dv)
        cup = _disc_path(rho2, (r + 6.0) ** 2) - _disc_path(rho2, (r + 1.5) ** 2)
        # Only the roof and the medial wall: fade out below the head's equator.
        cup *= np.clip((np.float32(0.3 * r) - dv) * np.float32(1.0 / (0.5 * r)), 0.0, 1.0)
        out = cup * np.float32(0.75 * (MU_CORTEX - MU_SOFT))
        plate = np.float32(2.5 * (MU_CORTEX - MU_SOFT) + 6.0 * (MU_CANCELLOUS - MU_SOFT))
        wing = _ellipse_fill(du + 30.0, dv + 110.0, 85.0, 65.0, -25.0)
        ring = _ellipse_fill(du + 45.0, dv - 60.0, 30.0, 40.0, 15.0)
        ring -= _ellipse_fill(du + 45.0, dv - 62.0, 18.0, 27.0, 15.0)
        wing += ring
        wing *= plate
        out += wing
        return out


def _disc_path(rho2: FloatArray, radius2: float) -> FloatArray:
    """Chord length ``2 sqrt(radius^2 - rho^2)`` through a sphere (0 outside)."""
    out = np.float32(radius2) - rho2
    np.maximum(out, 0.0, out=out)
    np.sqrt(out, out=out)
    out *= 2.0
    return out


def _ellipse_fill(
    du: FloatArray, dv: FloatArray, a: float, b: float, angle_deg: float
) -> FloatArray:
    """1 inside an ellipse (semi-axes ``a``, ``b`` turned by ``angle_deg``), soft 10 % edge."""
    cos, sin = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    p = (du * np.float32(cos) + dv * np.float32(sin)) * np.float32(1.0 / a)
    q = (dv * np.float32(cos) - du * np.float32(sin)) * np.float32(1.0 / b)
    out = np.square(p)
    out += np.square(q)
    np.subtract(1.0, out, out=out)
    out *= 5.0
    np.clip(out, 0.0, 1.0, out=out)
    return out
