"""What a vertebral fracture looks like in the CT beyond the body's shape.

A compression fracture compacts the trabecular bone under the collapsed endplate (a sclerotic
band, denser than the rest of the body) and breaks the endplate's cortex. Both change the CT
only: the label map (the body's shape) and the true heights stay as drawn.

- **Sclerotic band.** A layer of the cancellous core under a collapsed endplate, ``thickness``
  (2-6 mm) deep below the inner surface of the endplate cortex, measured along the body's
  superior axis, ``extra_hu`` (150-350 HU) denser. Which part of which endplate follows the
  fracture kind: a wedge, the anterior part of the superior endplate (``a >= a_min``); a
  biconcave fracture, the central part of both endplates (``rho <= rho_max``, with
  ``rho^2 = (r/W)^2 + (a/D)^2``); a crush, the whole of both endplates.
- **Cortex gap.** A slot ``width`` (2-4 mm) wide across the cortical shell of one collapsed
  endplate, running left-right at the anterior position ``a``, where the cortex is missing and
  the core's bone (band included) shows instead; the endplate surface, and so the edge
  between bone and disc, stays where it was. It lies inside the band: a wedge's superior
  endplate in its anterior part, a biconcave fracture's superior or inferior endplate near
  the centre, a crush's anywhere.

Only fractured vertebrae (Genant grade >= 1) carry signs; each is drawn from the vertebra's own
seeded generator. Edges follow the partial-volume rule of
:func:`fracturelab.synth._render._partial_volume`: a voxel ``d`` mm inside an edge holds the
share ``0.5 + d / w`` of what lies inside (``w`` the voxel's extent across the edge), so a band
``t`` mm thick adds ``extra_hu * t`` HU mm along a line through it whatever the spacing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fracturelab.synth._body import CORTEX_MM, wall_inset_mm
from fracturelab.synth.vertebra import SyntheticVertebra
from fracturelab.typing import Float64Array

__all__ = [
    "BAND_EXTRA_HU_RANGE",
    "BAND_THICKNESS_RANGE_MM",
    "GAP_WIDTH_RANGE_MM",
    "CortexGap",
    "FractureSigns",
    "SclerosisBand",
    "draw_fracture_signs",
    "sign_weights",
]

#: Range of the sclerotic band's extra density, HU.
BAND_EXTRA_HU_RANGE = (150.0, 350.0)
#: Range of the band's thickness below the endplate cortex, mm.
BAND_THICKNESS_RANGE_MM = (2.0, 6.0)
#: Range of the cortex gap's width, mm.
GAP_WIDTH_RANGE_MM = (2.0, 4.0)
#: Where a wedge's band starts, as a fraction of the semi-depth D (0: mid-body).
WEDGE_BAND_START_RANGE = (-0.2, 0.2)
#: Normalised radius of a biconcave fracture's band.
BICONCAVE_BAND_RHO_RANGE = (0.5, 0.8)
#: Where the gap lies along the anterior axis, as a fraction of D, per fracture kind.
#: Each lies inside the band (a wedge's band starts at most 0.2 D anterior of the centre, a
#: biconcave fracture's reaches at least 0.5 D from it).
GAP_POSITION_RANGE = {"wedge": (0.3, 0.65), "biconcave": (-0.3, 0.3), "crush": (-0.5, 0.5)}


@dataclass(frozen=True)
class SclerosisBand:
    """A denser layer of the cancellous core under the collapsed endplate(s).

    Attributes:
        endplates: ``("superior",)`` for a wedge, ``("superior", "inferior")`` otherwise.
        extra_hu: How much denser than the rest of the core, HU.
        thickness_mm: Depth below the endplate cortex (which is ``CORTEX_MM`` thick), along
            the body's superior axis, mm.
        region: ``"anterior"`` (``a >= a_min_mm``), ``"central"`` (``rho <= rho_max``) or
            ``"whole"``.
        a_min_mm: Start of an anterior band along the local anterior axis, mm.
        rho_max: Normalised radius of a central band.

    """

    endplates: tuple[str, ...]
    extra_hu: float
    thickness_mm: float
    region: str
    a_min_mm: float = 0.0
    rho_max: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable description for ``truth.json``."""
        record: dict[str, Any] = {
            "endplates": list(self.endplates),
            "extra_hu": round(self.extra_hu, 6),
            "thickness_mm": round(self.thickness_mm, 6),
            "depth_below_endplate_mm": [CORTEX_MM, round(CORTEX_MM + self.thickness_mm, 6)],
            "region": self.region,
        }
        if self.region == "anterior":
            record["a_min_mm"] = round(self.a_min_mm, 6)
        if self.region == "central":
            record["rho_max"] = round(self.rho_max, 6)
        return record


@dataclass(frozen=True)
class CortexGap:
    """A break in the cortical shell of one collapsed endplate.

    Attributes:
        endplate: ``"superior"`` or ``"inferior"``.
        a_mm: Centre of the slot along the local anterior axis, mm.
        width_mm: Width of the slot along the anterior axis, mm (it runs left-right across
            the endplate).

    """

    endplate: str
    a_mm: float
    width_mm: float


@dataclass(frozen=True)
class FractureSigns:
    """The signs of one fractured vertebra: a sclerotic band and a cortex gap."""

    band: SclerosisBand
    gap: CortexGap

    def as_dict(self, vertebra: SyntheticVertebra) -> dict[str, Any]:
        """JSON-serialisable description for ``truth.json``, the gap's centre in LPS mm.

        ``cortex_gap.center_mm`` is the point of the endplate surface at ``r = 0``,
        ``a = a_mm``.
        """
        top, bottom = (float(v) for v in vertebra.endplates_mm(0.0, self.gap.a_mm))
        height = top if self.gap.endplate == "superior" else bottom
        center = vertebra.center_mm + self.gap.a_mm * vertebra.anterior + height * vertebra.superior
        return {
            "sclerotic_band": self.band.as_dict(),
            "cortex_gap": {
                "endplate": self.gap.endplate,
                "a_mm": round(self.gap.a_mm, 6),
                "width_mm": round(self.gap.width_mm, 6),
                "center_mm": [round(float(v), 6) for v in center],
            },
        }


def draw_fracture_signs(
    vertebra: SyntheticVertebra, rng: np.random.Generator
) -> FractureSigns | None:
    """Draw the signs of a fractured vertebra, seeded; ``None`` for grade 0 or no body.

    Args:
        vertebra: The vertebra (its kind and grade decide which endplates).
        rng: Random generator of this vertebra's signs (the same draws whatever its kind).

    """
    extra, thickness, start, rho, gap_width, gap_where, gap_side = rng.uniform(size=7)
    if not vertebra.has_body or vertebra.genant_grade < 1 or vertebra.kind == "normal":
        return None
    kind, depth = vertebra.kind, vertebra.semi_depth_mm
    band = SclerosisBand(
        endplates=("superior",) if kind == "wedge" else ("superior", "inferior"),
        extra_hu=_scale(extra, BAND_EXTRA_HU_RANGE),
        thickness_mm=_scale(thickness, BAND_THICKNESS_RANGE_MM),
        region={"wedge": "anterior", "biconcave": "central"}.get(kind, "whole"),
        a_min_mm=_scale(start, WEDGE_BAND_START_RANGE) * depth if kind == "wedge" else 0.0,
        rho_max=_scale(rho, BICONCAVE_BAND_RHO_RANGE) if kind == "biconcave" else 1.0,
    )
    gap = CortexGap(
        endplate="superior" if kind == "wedge" or gap_side < 0.5 else "inferior",
        a_mm=_scale(gap_where, GAP_POSITION_RANGE[kind]) * depth,
        width_mm=_scale(gap_width, GAP_WIDTH_RANGE_MM),
    )
    return FractureSigns(band=band, gap=gap)


def sign_weights(
    vertebra: SyntheticVertebra,
    signs: FractureSigns,
    r: Float64Array,
    a: Float64Array,
    s: Float64Array,
    spacing_mm: tuple[float, float, float],
) -> tuple[Float64Array, Float64Array]:
    """Share of each voxel in the sclerotic band and in the cortex gap (partial volume).

    Args:
        vertebra: The fractured vertebra.
        signs: Its signs.
        r: Local right coordinate of the voxel centres, mm, any shape ``(...)`` (the body's
            voxels only, to keep it fast).
        a: Local anterior coordinate, same shape.
        s: Local superior coordinate, same shape.
        spacing_mm: Voxel size along the grid's axes, mm.

    Returns:
        ``(band, gap)`` in 0..1, each of that shape. ``band`` applies to the cancellous
        share of a voxel, ``gap`` to its cortical share (it is limited to the endplate's
        cortex: points nearer that endplate than the walls, at most ``2 CORTEX_MM`` deep).

    """
    along = {
        name: float(np.dot(np.abs(axis), spacing_mm))
        for name, axis in (("s", vertebra.superior), ("a", vertebra.anterior))
    }
    top, bottom = vertebra.endplates_mm(r, a)
    below = {"superior": top - s, "inferior": s - bottom}
    band_spec = signs.band
    reach = CORTEX_MM + band_spec.thickness_mm
    band = np.zeros(np.shape(r))
    for endplate in band_spec.endplates:
        band = np.maximum(band, _share(reach - below[endplate], along["s"]))
    if band_spec.region == "anterior":
        band *= _share(a - band_spec.a_min_mm, along["a"])
    elif band_spec.region == "central":
        width, depth = vertebra.semi_width_mm, vertebra.semi_depth_mm
        rho = np.sqrt((r / width) ** 2 + (a / depth) ** 2)
        band *= _share((band_spec.rho_max - rho) * depth, along["a"])
    gap_spec = signs.gap
    inset = wall_inset_mm(r, a, vertebra.semi_width_mm, vertebra.semi_depth_mm)
    depth_below = below[gap_spec.endplate]
    slot = _share(0.5 * gap_spec.width_mm - np.abs(a - gap_spec.a_mm), along["a"])
    gap = np.where((depth_below <= inset) & (depth_below <= 2 * CORTEX_MM), slot, 0.0)
    return np.asarray(band, dtype=float), np.asarray(gap, dtype=float)


def _share(depth_mm: Float64Array, extent_mm: float) -> Float64Array:
    """Share ``0.5 + d / w`` of a voxel ``d`` mm inside a flat edge, clipped to 0..1."""
    return np.asarray(np.clip(0.5 + depth_mm / max(extent_mm, 1e-6), 0.0, 1.0), dtype=float)


def _scale(unit: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return float(low + (high - low) * unit)
