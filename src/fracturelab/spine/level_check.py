"""Sanity of the level names of a label map: order along the spine, duplicates, gaps.

A label map whose levels are out of anatomical order along the spine, name one level twice, or
are likely shifted by one (a gap between two consecutive labels as wide as a missing vertebra,
or two labels a level apart that sit a vertebra apart) is still measured, but every affected
vertebra and the report's summary carry a warning: a grade given to the wrong level misleads.
Numbering anomalies such as 11 or 13 rib-bearing vertebrae are not detected.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

from fracturelab.spine.levels import LEVELS, level_index

__all__ = ["check_levels"]

#: A gap between consecutive centroids this many times the typical step suggests a missing
#: vertebra (or a level shifted by one).
_GAP_FACTOR = 1.6
#: Labels two or more levels apart closer than this many typical steps sit a vertebra apart.
_ADJACENT_FACTOR = 1.3


def check_levels(
    levels: list[str], centroids_mm: list[npt.NDArray[np.float64]]
) -> tuple[list[str], dict[str, list[str]]]:
    """Check level names against where their vertebrae lie.

    Args:
        levels: Level names, one per label, in the label map's cranio-caudal order.
        centroids_mm: LPS centroid of each label's voxels, shape ``(3,)`` each.

    Returns:
        The summary warnings, and level name -> warnings for the vertebrae concerned.

    """
    summary: list[str] = []
    per_level: dict[str, list[str]] = {}

    def warn(message: str, *names: str) -> None:
        if message not in summary:
            summary.append(message)
        for name in names:
            per_level.setdefault(name, []).append(message)

    seen: dict[str, int] = {}
    for name in levels:
        seen[name] = seen.get(name, 0) + 1
    for name, count in seen.items():
        if count > 1:
            warn(f"level {name} is named by {count} labels: check the level names", name)
    if len(levels) < 3:
        return summary, per_level
    points = np.asarray(centroids_mm, dtype=float)
    order = np.argsort([level_index(name) for name in levels], kind="stable")
    names = [levels[i] for i in order]
    points = points[order]
    axis = _spine_axis(points)
    position = (points - points.mean(axis=0)) @ axis  # head-wards
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    jumps = np.array([_levels_apart(a, b) for a, b in itertools.pairwise(names)])
    single = steps[jumps == 1]
    typical = float(np.median(single)) if single.size else float(np.median(steps / jumps))
    for k in range(len(names) - 1):
        upper, lower = names[k], names[k + 1]
        if position[k + 1] >= position[k]:
            warn(
                f"levels out of anatomical order: {lower} lies above {upper} along the spine; "
                "check the level names",
                upper,
                lower,
            )
            continue
        if jumps[k] == 1 and steps[k] > _GAP_FACTOR * typical:
            warn(
                f"gap between {upper} and {lower} ({steps[k]:.0f} mm, typical step "
                f"{typical:.0f} mm): a vertebra may be unlabelled and the levels below shifted "
                "by one",
                upper,
                lower,
            )
        elif jumps[k] >= 2 and steps[k] < _ADJACENT_FACTOR * typical:
            warn(
                f"{upper} and {lower} are {jumps[k]} levels apart but adjacent in the scan "
                f"({steps[k]:.0f} mm): the levels may be shifted by one",
                upper,
                lower,
            )
    return summary, per_level


def _spine_axis(points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Unit direction from the last (caudal) towards the first (cranial) centroids."""
    centred = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axis = vt[0]
    head = points[: max(1, len(points) // 2)].mean(axis=0)
    foot = points[len(points) // 2 :].mean(axis=0)
    if np.dot(head - foot, axis) < 0:
        axis = -axis
    return np.asarray(axis, dtype=float)


def _levels_apart(upper: str, lower: str) -> int:
    """Level steps from ``upper`` to ``lower``; absent transitional T13 and L6 do not count."""
    first, last = level_index(upper), level_index(lower)
    between = LEVELS[first + 1 : last]
    return 1 + sum(name not in ("T13", "L6") for name in between)
