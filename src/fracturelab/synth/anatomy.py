"""Nominal vertebra sizes of the synthetic spine, level by level."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from fracturelab.spine.levels import LEVELS, level_index

__all__ = ["NominalSize", "nominal_size", "spine_stack"]

#: Levels of a spine without transitional vertebrae, cranial to caudal.
STANDARD_STACK: tuple[str, ...] = tuple(level for level in LEVELS if level not in ("T13", "L6"))

_THORACOLUMBAR = (*(f"T{i}" for i in range(1, 13)), *(f"L{i}" for i in range(1, 6)))


class NominalSize(NamedTuple):
    """Nominal size of a normal vertebra, in mm.

    Attributes:
        height_mm: Body height H (for C1, the height of the ring).
        semi_width_mm: Semi-axis W of the body footprint along the patient's left-right.
        semi_depth_mm: Semi-axis D of the body footprint along anterior-posterior.
        gap_below_mm: Distance from the body's lower endplate to the next body's upper
            endplate along the spinal curve: the disc height (0 below the sacrum).

    """

    height_mm: float
    semi_width_mm: float
    semi_depth_mm: float
    gap_below_mm: float


def nominal_size(level: str) -> NominalSize:
    """Nominal size of a level, interpolated smoothly from cervical to lumbar.

    Body height: C3-C7 14, T1 16 rising to T12 23, L1 25 rising to L5 27 (T13 like T12, L6
    like L5), S1 30; C1 is a 10 mm ring and C2 is sized like C3. Discs: 5 mm cervical and
    thoracic, 7 mm below T12/T13, 9 mm lumbar. Footprint semi-width: 8 cervical, T1 13 rising
    to L5 24, S1 26; semi-depth: 8 cervical, T1 11 rising to L5 17, S1 18.

    Args:
        level: Level name, e.g. ``"L1"``.

    Raises:
        InputError: If the level name is unknown.

    """
    name = LEVELS[level_index(level)]
    if name == "S1":
        return NominalSize(30.0, 26.0, 18.0, 0.0)
    if name.startswith("C"):
        return NominalSize(10.0 if name == "C1" else 14.0, 8.0, 8.0, 5.0)
    reference = {"T13": "T12", "L6": "L5"}.get(name, name)
    fraction = _THORACOLUMBAR.index(reference) / (len(_THORACOLUMBAR) - 1)
    semi_width = 13.0 + (24.0 - 13.0) * fraction
    semi_depth = 11.0 + (17.0 - 11.0) * fraction
    number = int(reference[1:])
    if reference.startswith("T"):
        height = 16.0 + (23.0 - 16.0) * (number - 1) / 11.0
        gap = 7.0 if name in ("T12", "T13") else 5.0
    else:
        height = 25.0 + (27.0 - 25.0) * (number - 1) / 4.0
        gap = 9.0
    return NominalSize(height, semi_width, semi_depth, gap)


def spine_stack(levels: Iterable[str]) -> tuple[str, ...]:
    """List the whole spine C1-S1 holding ``levels``, with T13 / L6 only when asked for.

    Args:
        levels: Level names the phantom draws.

    Returns:
        Level names in cranio-caudal order.

    """
    wanted = {LEVELS[level_index(level)] for level in levels}
    extra = [level for level in ("T13", "L6") if level in wanted]
    return tuple(sorted((*STANDARD_STACK, *extra), key=level_index))
