"""Pseudo-labels for delineated-only scans: morphometry's grade where it is confident.

A delineated scan has a vertebra label map but no reader's grade. Morphometry grades each of
its vertebrae from the height loss (Genant: < 20 % grade 0, 20-25 % grade 1, 25-40 % grade 2,
> 40 % grade 3). A vertebra becomes a pseudo-labelled training item only when the rule of
:class:`PseudoLabelRule` finds the grade confident:

1. morphometry graded it (``status == graded``: the cache row has a ``morph_grade``) and left
   no ``reason`` (a framing or plausibility note);
2. its height loss lies at least ``margin_pct`` percentage points from every Genant cut
   (20, 25 and 40 %): 21 % (1 point from 20) is refused with the default margin 2, 30 % is
   kept;
3. optionally a teacher model (trained on the graded scans) agrees: its grade equals
   morphometry's and its probability of that grade is at least ``teacher_min_probability``
   (:func:`teacher_filter`).

Pseudo-labelled vertebrae are weighted ``weight`` (default 0.5) against 1 for graded ones in
the loss, and are only ever added to a fold's training part; vertebrae of a patient who has a
graded scan in that fold's validation part or in the test set are left out
(:func:`for_training`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.spine.learned.bundle import SpineModel
from fracturelab.spine.learned.config import SpineTrainingConfig
from fracturelab.spine.learned.data import (
    CacheIndex,
    VertebraRecord,
    load_patches,
    morphometry_features,
)
from fracturelab.spine.learned.inference import predict_outputs
from fracturelab.typing import FloatArray

__all__ = [
    "GENANT_CUTS_PCT",
    "PseudoLabelRule",
    "confident_grade",
    "for_training",
    "load_pseudo_labels",
    "pseudo_records",
    "teacher_filter",
]

#: Height-loss cuts (percent) between Genant grades 0|1, 1|2 and 2|3.
GENANT_CUTS_PCT: tuple[float, float, float] = (20.0, 25.0, 40.0)


@dataclass(frozen=True)
class PseudoLabelRule:
    """When morphometry's grade of an ungraded vertebra is trusted as a label.

    Attributes:
        margin_pct: Least distance, in percentage points, of the height loss from every cut
            of :data:`GENANT_CUTS_PCT`; 0 keeps every graded vertebra.
        weight: Loss weight of a pseudo-labelled vertebra (a graded one weighs 1), in (0, 1].
        teacher_min_probability: With a teacher model, the least probability the teacher
            gives morphometry's grade, in [0, 1].

    """

    margin_pct: float = 2.0
    weight: float = 0.5
    teacher_min_probability: float = 0.6

    def __post_init__(self) -> None:
        if not (math.isfinite(self.margin_pct) and 0 <= self.margin_pct <= 10):
            raise InputError(
                f"pseudo-label margin {self.margin_pct!r} is not valid; use 0-10 percentage points"
            )
        if not (math.isfinite(self.weight) and 0 < self.weight <= 1):
            raise InputError(f"pseudo-label weight {self.weight!r} is not valid; use (0, 1]")
        if not 0 <= self.teacher_min_probability <= 1:
            raise InputError(
                f"teacher probability {self.teacher_min_probability!r} is not valid; use 0-1"
            )


def confident_grade(
    height_loss_pct: float, morph_grade: int | None, reason: str, rule: PseudoLabelRule
) -> int | None:
    """Morphometry's grade when the rule trusts it, else ``None``.

    Args:
        height_loss_pct: Morphometry's height loss in %, NaN when not measured.
        morph_grade: Morphometry's Genant grade, ``None`` unless ``status == graded``.
        reason: Morphometry's note on the vertebra (empty when none).
        rule: The confidence rule.

    """
    if morph_grade is None or not math.isfinite(height_loss_pct) or reason.strip():
        return None
    if min(abs(height_loss_pct - cut) for cut in GENANT_CUTS_PCT) < rule.margin_pct:
        return None
    return morph_grade


def pseudo_records(cache: CacheIndex, rule: PseudoLabelRule) -> list[VertebraRecord]:
    """The confidently pseudo-labelled vertebrae of the cache's delineated scans.

    Only rows of tier ``delineated`` with a patch are considered (a graded scan's ungraded
    vertebrae are not: the reader left them out on purpose). Morphology is left unknown.

    """
    chosen = []
    for row in cache.rows:
        if row["tier"] != "delineated" or row["status"] != "ok" or not row["patch"].strip():
            continue
        loss = float(row["height_loss_pct"]) if row["height_loss_pct"].strip() else math.nan
        grade_text = row["morph_grade"].strip()
        grade = confident_grade(
            loss, int(float(grade_text)) if grade_text else None, row["reason"], rule
        )
        if grade is None:
            continue
        chosen.append(
            VertebraRecord(
                case_id=row["case_id"],
                patient_id=row["patient_id"],
                level=row["level"],
                genant_grade=grade,
                morphology=None,
                patch=cache.folder / row["patch"],
                height_loss_pct=loss,
                morph_grade=grade,
            )
        )
    return chosen


def teacher_filter(
    records: Sequence[VertebraRecord], grade_probabilities: Any, rule: PseudoLabelRule
) -> list[int]:
    """Indices of the records a teacher agrees with, confidently.

    Args:
        records: Pseudo-labelled vertebrae.
        grade_probabilities: The teacher's ``(N, 4)`` grade probabilities for them.
        rule: Gives ``teacher_min_probability``.

    """
    probabilities = np.asarray(grade_probabilities, dtype=float)
    kept = []
    for i, record in enumerate(records):
        teacher = int(np.argmax(probabilities[i]))
        if (
            teacher == record.genant_grade
            and probabilities[i, teacher] >= rule.teacher_min_probability
        ):
            kept.append(i)
    return kept


def for_training(pseudo: Sequence[VertebraRecord], held_out_patients: set[str]) -> list[int]:
    """Indices of the pseudo-labelled vertebrae a fold may train on.

    Args:
        pseudo: Pseudo-labelled vertebrae.
        held_out_patients: Patients with a graded scan in the fold's validation part or in
            the test set: none of their vertebrae is trained on.

    """
    return [i for i, r in enumerate(pseudo) if r.patient_id not in held_out_patients]


def load_pseudo_labels(
    cache: CacheIndex, settings: SpineTrainingConfig, shape: tuple[int, ...]
) -> tuple[list[VertebraRecord], list[FloatArray]]:
    """The confident pseudo-labels of the cache's delineated scans, and their patches.

    Args:
        cache: The patch cache (cut with every vertebra, not only the graded ones).
        settings: Give the margin, the weight and the optional teacher model folder.
        shape: Shape of the graded patches ``(C, D, H, W)``; the delineated ones must match.

    Raises:
        InputError: For patches of another shape, or a teacher folder that is not a model.

    """
    rule = PseudoLabelRule(settings.pseudo_margin_pct, settings.pseudo_weight)
    pseudo = pseudo_records(cache, rule)
    patches = load_patches(pseudo) if pseudo else []
    if patches and patches[0].shape != tuple(shape):
        raise InputError(
            f"{cache.folder}: delineated patches of shape {patches[0].shape} differ from the "
            f"graded ones {tuple(shape)}; rebuild the cache with one patch spec"
        )
    if settings.pseudo_teacher is not None and pseudo:
        teacher = SpineModel.load(settings.pseudo_teacher)
        morphometry = (
            [morphometry_features(r.height_loss_pct, r.morph_grade) for r in pseudo]
            if teacher.fuse_morphometry
            else None
        )
        outputs = predict_outputs(teacher.networks, patches, morphometry)
        kept = teacher_filter(pseudo, outputs.grade_probabilities, rule)
        pseudo, patches = [pseudo[i] for i in kept], [patches[i] for i in kept]
    return pseudo, patches
