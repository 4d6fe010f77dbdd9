"""Vertebra label conventions (VerSe, TotalSegmentator v1/v2) and their detection."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fracturelab.checks import did_you_mean
from fracturelab.errors import InputError
from fracturelab.spine.levels import VERSE_LABELS, level_index

__all__ = ["CONVENTIONS", "LabelConvention", "choose_convention", "detect_convention"]


@dataclass(frozen=True)
class LabelConvention:
    """How a label map numbers vertebrae.

    Args:
        name: Short name used on the command line (``verse``, ``totalseg_v2``, ...).
        description: One line for messages.
        levels: Label value -> level name, for the labels that are vertebrae.
        max_label: Largest label value the convention uses at all (organs included).

    """

    name: str
    description: str
    levels: Mapping[int, str] = field(repr=False)
    max_label: int

    def level_of(self, label: int) -> str | None:
        """Level name of a label value, or ``None`` when it is not a vertebra."""
        return self.levels.get(int(label))


def _totalseg_v2() -> dict[int, str]:
    # v2 `total`: 26 vertebrae_S1, 27 L5 ... 31 L1, 32 T12 ... 43 T1, 44 C7 ... 50 C1
    mapping = {51 - label: level for level, label in VERSE_LABELS.items() if label <= 24}
    mapping[26] = "S1"
    return mapping


def _totalseg_v1() -> dict[int, str]:
    # v1 `total`: 18 vertebrae_L5 ... 22 L1, 23 T12 ... 34 T1, 35 C7 ... 41 C1
    return {42 - label: level for level, label in VERSE_LABELS.items() if label <= 24}


CONVENTIONS: dict[str, LabelConvention] = {
    convention.name: convention
    for convention in (
        LabelConvention(
            "verse",
            "VerSe (1-7 C1-C7, 8-19 T1-T12, 20-25 L1-L6, 26 S1, 28 T13)",
            {label: level for level, label in VERSE_LABELS.items()},
            max_label=28,
        ),
        LabelConvention(
            "totalseg_v2",
            "TotalSegmentator v2 total (26 S1, 27 L5 ... 50 C1)",
            _totalseg_v2(),
            max_label=117,
        ),
        LabelConvention(
            "totalseg_v1",
            "TotalSegmentator v1 total (18 L5 ... 41 C1)",
            _totalseg_v1(),
            max_label=104,
        ),
    )
}


def choose_convention(name: str) -> LabelConvention:
    """Look a convention up by name, suggesting the closest one on a typo.

    Raises:
        InputError: If ``name`` is unknown.

    """
    key = name.strip().lower().replace("-", "_")
    if key in CONVENTIONS:
        return CONVENTIONS[key]
    hint = did_you_mean(key, [*CONVENTIONS, "auto"])
    allowed = ", ".join(["auto", *CONVENTIONS, "a folder of vertebrae_<LEVEL> files"])
    raise InputError(f"--labels {name!r} is not a known convention{hint}; use one of: {allowed}")


def detect_convention(
    centroids_mm: Mapping[int, npt.NDArray[np.float64]],
) -> tuple[LabelConvention, str]:
    """Guess the convention of a label map from its labels and where they lie.

    Each convention that allows every label present is scored by how well the labels it
    calls vertebrae form a spinal column: consecutive levels should be 8-60 mm apart per level,
    with the more cranial level higher up (larger LPS z). The best score wins; ties go to
    VerSe, then TotalSegmentator v2, then v1.

    Args:
        centroids_mm: Non-zero label value -> its centroid in LPS mm, shape ``(3,)``.

    Returns:
        The convention and a sentence saying what was detected and why.

    Raises:
        InputError: If no convention fits the label values, or none finds a vertebra.

    """
    labels = sorted(centroids_mm)
    candidates = [c for c in CONVENTIONS.values() if labels[-1] <= c.max_label]
    if not candidates:
        shown = _short_list(labels)
        raise InputError(
            f"labels {shown} match no known convention (largest allowed label is 117); "
            "give a vertebra label map in VerSe or TotalSegmentator numbering"
        )
    scored: list[tuple[int, int, LabelConvention, int]] = []
    for rank, convention in enumerate(candidates):
        vertebrae = {lab: convention.level_of(lab) for lab in labels}
        found = {lab: lev for lab, lev in vertebrae.items() if lev is not None}
        if not found:
            continue
        score = _chain_score(found, centroids_mm)
        scored.append((score, -rank, convention, len(found)))
    if not scored:
        names = " or ".join(c.name for c in candidates)
        raise InputError(
            f"labels {_short_list(labels)} contain no vertebra in {names} numbering; "
            "give a label map that includes the vertebrae"
        )
    scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
    score, _, best, n_found = scored[0]
    reason = f"{n_found} vertebra label(s) fit a spinal column (score {score})"
    if len(scored) > 1 and scored[1][0] == score:
        reason += f"; {scored[1][2].name} fits equally well, pass --labels to override"
    return best, f"detected {best.description}: {reason}"


def _chain_score(
    found: Mapping[int, str], centroids_mm: Mapping[int, npt.NDArray[np.float64]]
) -> int:
    ordered = sorted(found, key=lambda lab: level_index(found[lab]))
    score = 0
    for upper, lower in itertools.pairwise(ordered):
        gap = level_index(found[lower]) - level_index(found[upper])
        if gap > 3:
            continue
        delta = centroids_mm[upper] - centroids_mm[lower]
        distance = float(np.linalg.norm(delta))
        plausible = delta[2] > 0 and 8.0 * gap <= distance <= 60.0 * gap
        score += 1 if plausible else -1
    return score


def _short_list(labels: list[int]) -> str:
    text = ", ".join(str(lab) for lab in labels[:8])
    return "{" + text + (", ..." if len(labels) > 8 else "") + "}"
