"""Bone density of the spine phantom: the CT number of each body's cancellous core.

Trabecular bone density varies between people (young adults about 250-300 HU, osteoporotic
spines below about 110 HU) and a little between the vertebrae of one spine. The phantom draws a
spine's density uniformly from :data:`BONE_HU_RANGE` and each vertebra's from a Gaussian of
:data:`LEVEL_SPREAD_HU` around it, clipped to the range; both are seeded (a level gets the same
density whichever levels are drawn). A fixed ``bone_hu`` gives every vertebra that density.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from fracturelab.errors import InputError
from fracturelab.spine.levels import level_index

__all__ = ["BONE_HU_LIMITS", "BONE_HU_RANGE", "LEVEL_SPREAD_HU", "check_bone_hu", "draw_bone_hu"]

#: Range of a spine's cancellous density when drawn, HU.
BONE_HU_RANGE = (100.0, 300.0)
#: Standard deviation of a vertebra's density around its spine's, HU.
LEVEL_SPREAD_HU = 12.0
#: Densities accepted for ``bone_hu``: from fat-like marrow to just below the cortex, HU.
BONE_HU_LIMITS = (0.0, 700.0)


def check_bone_hu(bone_hu: float | None) -> float | None:
    """Return a valid fixed density (a float) or ``None`` (draw it).

    Raises:
        InputError: If ``bone_hu`` is not a number in :data:`BONE_HU_LIMITS`.

    """
    if bone_hu is None:
        return None
    low, high = BONE_HU_LIMITS
    if (
        isinstance(bone_hu, bool)
        or not isinstance(bone_hu, numbers.Real)
        or not math.isfinite(float(bone_hu))
        or not low <= float(bone_hu) <= high
    ):
        raise InputError(
            f"bone_hu {bone_hu!r} is not valid; give the cancellous bone's CT number in HU in "
            f"[{low:g}, {high:g}] (e.g. 220), or leave it unset to draw it per phantom and vertebra"
        )
    return float(bone_hu)


def draw_bone_hu(levels: Sequence[str], seed: int, bone_hu: float | None) -> dict[str, float]:
    """Cancellous CT number of each level, HU.

    Args:
        levels: Level names drawn.
        seed: The phantom's seed.
        bone_hu: A fixed density for every level, or ``None`` to draw them.

    Returns:
        ``{level: HU}`` for every level.

    """
    if bone_hu is not None:
        return dict.fromkeys(levels, float(bone_hu))
    low, high = BONE_HU_RANGE
    spine = float(np.random.default_rng([seed, 0xDE5]).uniform(low, high))
    densities: dict[str, float] = {}
    for name in levels:
        rng = np.random.default_rng([seed, level_index(name), 0xDE5])
        value = spine + LEVEL_SPREAD_HU * float(rng.standard_normal())
        densities[name] = round(min(high, max(low, value)), 3)
    return densities
