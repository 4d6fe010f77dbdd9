"""Genant semi-quantitative grades and morphology from measured heights.

Height loss is the largest of three reductions (quantitative morphometry, Eastell 1991;
McCloskey 1993; grades after Genant 1993):

* wedge: ``1 - Ha/Hp`` (anterior against the vertebra's own posterior height),
* biconcave: ``1 - Hm/Hp`` (middle against posterior),
* crush: ``1 - Hp/Hp_expected``, the posterior height against the one expected from the
  neighbouring vertebrae (median posterior height of up to two measured vertebrae on each side).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fracturelab.spine.levels import level_index
from fracturelab.spine.morphometry import VertebraMeasurement

__all__ = ["GENANT_THRESHOLDS_PCT", "Grading", "genant_grade", "grade_vertebrae"]

#: Lower bounds (%) of Genant grades 1, 2 and 3; grade 3 starts above 40 %.
GENANT_THRESHOLDS_PCT = (20.0, 25.0, 40.0)

_RATIO_OF = {"wedge": "Ha/Hp", "biconcave": "Hm/Hp", "crush": "Hp/Hp_expected"}


@dataclass(frozen=True)
class Grading:
    """Grade of one measured vertebra.

    Args:
        height_loss_pct: Largest height reduction in % (0 when none).
        genant_grade: 0 (< 20 %), 1 (20-25 %), 2 (25-40 %), 3 (> 40 %).
        morphology: ``normal`` for grade 0, else ``wedge``, ``biconcave`` or ``crush``.
        decided_by: The ratio that gave the largest reduction, e.g. ``"Ha/Hp"``.
        ratios: ``Ha/Hp``, ``Hm/Hp`` and, when neighbours allow, ``Hp/Hp_expected``.
        expected_posterior_mm: Posterior height expected from the neighbours, or ``None``.

    """

    height_loss_pct: float
    genant_grade: int
    morphology: str
    decided_by: str
    ratios: dict[str, float]
    expected_posterior_mm: float | None


def genant_grade(height_loss_pct: float) -> int:
    """Genant grade of a height loss: < 20 % is 0, 20-25 % is 1, 25-40 % is 2, > 40 % is 3."""
    mild, moderate, severe = GENANT_THRESHOLDS_PCT
    if height_loss_pct < mild:
        return 0
    if height_loss_pct < moderate:
        return 1
    if height_loss_pct <= severe:
        return 2
    return 3


def grade_vertebrae(measurements: list[VertebraMeasurement]) -> dict[int, Grading]:
    """Grade every measured vertebra of one spine.

    Args:
        measurements: All vertebrae of the scan (any status); only ``measured`` ones are graded
            and serve as neighbours.

    Returns:
        Label value -> grading, for the measured vertebrae.

    """
    measured = [m for m in measurements if m.status == "measured" and m.heights_mm]
    gradings: dict[int, Grading] = {}
    for vertebra in measured:
        heights = vertebra.heights_mm or {}
        ratios = {
            "Ha/Hp": heights["anterior"] / heights["posterior"],
            "Hm/Hp": heights["middle"] / heights["posterior"],
        }
        expected = _expected_posterior_mm(vertebra, measured)
        if expected is not None:
            ratios["Hp/Hp_expected"] = heights["posterior"] / expected
        losses = {
            kind: max(0.0, 100.0 * (1.0 - ratios[ratio]))
            for kind, ratio in _RATIO_OF.items()
            if ratio in ratios
        }
        kind = max(losses, key=lambda k: losses[k])
        loss = losses[kind]
        grade = genant_grade(loss)
        gradings[vertebra.label] = Grading(
            height_loss_pct=loss,
            genant_grade=grade,
            morphology=kind if grade > 0 else "normal",
            decided_by=_RATIO_OF[kind],
            ratios=ratios,
            expected_posterior_mm=expected,
        )
    return gradings


def _expected_posterior_mm(
    vertebra: VertebraMeasurement, measured: list[VertebraMeasurement]
) -> float | None:
    """Median posterior height of up to two measured neighbours on each side.

    Neighbours more than three level steps away (gaps in the labels) are not used.
    """
    here = level_index(vertebra.level)
    others = sorted(
        (level_index(m.level), m.heights_mm["posterior"])
        for m in measured
        if m is not vertebra and m.heights_mm
    )
    above = [h for index, h in others if 0 < here - index <= 3][-2:]
    below = [h for index, h in others if 0 < index - here <= 3][:2]
    neighbours = above + below
    return float(np.median(neighbours)) if neighbours else None
