"""Anatomical plausibility of vertebra labels: refuse labels that cannot be one vertebra.

A label map that puts several vertebrae under one label (TotalSegmentator's ``vertebrae_body``
task: every vertebral body under label 1, the rest of the spine under 2) would otherwise be
read as a VerSe map with two "vertebrae" C1 and C2 and give results that look real. Each
label that a convention calls a vertebra is checked against generous anatomical limits for
its region:

- **volume** of all its voxels (the whole vertebra, posterior elements included, as VerSe and
  TotalSegmentator ``total`` segment it);
- **extent along the head-foot axis** (LPS z, in mm);
- **stacked pieces**: separate vertebra-sized pieces of the label whose head-foot ranges do
  not overlap, i.e. one above the other like separate vertebrae between discs.

The limits are about twice the largest values seen on real label maps (VerSe'19, TPTBox,
TotalSegmentator; whole lumbar vertebrae up to ~80 ml and ~60 mm head-foot), so that large
patients, sloppy masks and tilted (scoliotic) vertebrae pass, while a map of many vertebrae
under one label (hundreds of ml, 100-200+ mm) does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fracturelab.errors import InputError
from fracturelab.imaging import Volume

__all__ = ["RegionLimits", "check_vertebra_labels", "region_limits"]


@dataclass(frozen=True)
class RegionLimits:
    """Largest plausible size of one vertebra of a spinal region.

    Args:
        max_volume_mm3: Largest volume of one whole vertebra (body and posterior elements).
        max_extent_mm: Largest extent along the head-foot axis in mm.

    """

    max_volume_mm3: float
    max_extent_mm: float


# Cervical: whole adult cervical vertebrae are ~5-20 ml (C2 the largest), at most ~45 mm tall
# with the dens; 40 ml / 70 mm leaves room for lordosis and large necks.
# Thoracic: T12 is the largest, ~45-55 ml on real VerSe maps; the sloping spinous processes
# make a vertebra up to ~60 mm tall. 120 ml / 100 mm.
# Lumbar: ~50-80 ml on real maps, up to ~105 mm wide across the transverse processes and
# ~60 mm tall; 160 ml / 110 mm also allows a 100 mm wide vertebra tilted ~35 degrees
# (scoliosis).
# Sacrum (VerSe label 26 is the whole visible sacrum, TotalSegmentator's S1 its first
# segment): an adult sacrum is ~100-120 mm long and inclined; 400 ml / 180 mm.
_CERVICAL = RegionLimits(40_000.0, 70.0)
_THORACIC = RegionLimits(120_000.0, 100.0)
_LUMBAR = RegionLimits(160_000.0, 110.0)
_SACRAL = RegionLimits(400_000.0, 180.0)

#: A piece of a label counts as vertebra-sized from 2 ml (an adult cervical vertebral body is
#: ~2-5 ml); smaller pieces are segmentation specks or fragments.
MIN_PIECE_MM3 = 2_000.0
#: Three or more vertebra-sized pieces one above the other are several vertebrae. Two are
#: tolerated: a vertebra cut by the field of view or a fracture can come apart in two.
MAX_STACKED_PIECES = 2


def region_limits(level: str) -> RegionLimits:
    """Limits for a level name (``"C2"``, ``"T13"``, ``"L6"``, ``"S1"``)."""
    region = level[:1].upper()
    return {"C": _CERVICAL, "T": _THORACIC, "L": _LUMBAR}.get(region, _SACRAL)


def check_vertebra_labels(
    volume: Volume,
    levels: dict[int, str],
    boxes: dict[int, tuple[slice, slice, slice]],
    *,
    name: str,
    numbering: str,
) -> None:
    """Refuse a label map if a label said to be one vertebra cannot be one vertebra.

    Args:
        volume: Integer label map, shape ``(I, J, K)``, with its geometry.
        levels: Label value -> level name, for the labels that are vertebrae.
        boxes: Label value -> bounding box of its voxels as array slices.
        name: The label map's file name, for the message.
        numbering: The numbering the levels come from (``VerSe``, ...), for the message.

    Raises:
        InputError: One line naming the file, the label, what is wrong and the fix.

    """
    for label in sorted(levels):
        level = levels[label]
        limits = region_limits(level)
        size = _measure(volume, label, boxes[label])
        too_big = size.volume_mm3 > limits.max_volume_mm3
        too_tall = size.extent_mm > limits.max_extent_mm
        too_many = size.stacked_pieces > MAX_STACKED_PIECES
        if not (too_big or too_tall or too_many):
            continue
        pieces = f" in {size.stacked_pieces} pieces one above the other" if too_many else ""
        raise InputError(
            f"label map {name}: label {label} ({level} in {numbering} numbering) covers "
            f"{size.volume_mm3:,.0f} mm3 and {size.extent_mm:.0f} mm along the head-foot axis"
            f"{pieces}, more than one vertebra can ({level} at most "
            f"~{limits.max_volume_mm3:,.0f} mm3 and {limits.max_extent_mm:.0f} mm); "
            "this looks like several vertebrae under one label (e.g. TotalSegmentator "
            "vertebrae_body); give a per-vertebra label map such as TotalSegmentator `total` "
            "or VerSe"
        )


@dataclass(frozen=True)
class _Size:
    volume_mm3: float
    extent_mm: float
    stacked_pieces: int


def _measure(volume: Volume, label: int, box: tuple[slice, slice, slice]) -> _Size:
    from scipy import ndimage

    inside = np.asarray(volume.array[box]) == label
    start = np.array([s.start for s in box], dtype=np.int64)
    voxel_mm3 = volume.voxel_volume_mm3
    indices = np.argwhere(inside)
    z_mm = volume.index_to_world(indices + start)[:, 2]
    pieces, n_pieces = ndimage.label(inside, structure=np.ones((3, 3, 3), dtype=bool))
    ranges: list[tuple[float, float]] = []
    if n_pieces > 1:
        ids = pieces[tuple(indices.T)]
        counts = np.bincount(ids, minlength=n_pieces + 1)
        for piece in np.flatnonzero(counts * voxel_mm3 >= MIN_PIECE_MM3):
            z = z_mm[ids == piece]
            ranges.append((float(z.min()), float(z.max())))
    return _Size(
        volume_mm3=float(indices.shape[0] * voxel_mm3),
        extent_mm=float(z_mm.max() - z_mm.min()) if z_mm.size else 0.0,
        stacked_pieces=max(1, _disjoint_ranges(ranges)),
    )


def _disjoint_ranges(ranges: list[tuple[float, float]]) -> int:
    """Largest number of ranges that do not overlap one another (greedy by upper end)."""
    count, last_top = 0, -np.inf
    for low, high in sorted(ranges, key=lambda r: r[1]):
        if low > last_top:
            count += 1
            last_top = high
    return count
