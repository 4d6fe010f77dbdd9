"""The training loss of the spine classifier, weighted against class imbalance.

Most vertebrae are normal, so each part is weighted from the training set's counts:

- fracture head: binary cross-entropy with ``pos_weight = normal / fractured``;
- grade head: CORAL cross-entropy over "grade > k" with ``pos_weight_k = (grade <= k) /
  (grade > k)`` per task (1 where a task has no positive);
- morphology head: cross-entropy weighted by inverse class frequency among the vertebrae
  whose morphology is known; unknown morphologies (-1) are masked out.

The total is ``fracture + grade + morphology_weight * morphology``. The fracture and grade
terms are means over the batch weighted by each vertebra's ``batch["weight"]`` (1 for a
graded vertebra; below 1 for a pseudo-label), which with equal weights is the plain mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from fracturelab.spine.learned.config import MORPHOLOGIES
from fracturelab.spine.learned.ordinal import coral_targets

__all__ = ["SpineLoss", "imbalance_weights"]


def imbalance_weights(
    grades: Sequence[int], morphologies: Sequence[int]
) -> tuple[float, list[float], list[float]]:
    """Loss weights from training counts.

    Args:
        grades: Genant grade of each training vertebra.
        morphologies: Morphology index of each (-1 when unknown).

    Returns:
        ``(fracture_pos_weight, coral_task_pos_weights (3), morphology_class_weights (4))``;
        morphology weights average 1 over the classes present.

    """
    n = len(grades)
    fractured = sum(g >= 1 for g in grades)
    fracture = (n - fractured) / fractured if fractured else 1.0
    tasks = []
    for k in range(3):
        above = sum(g > k for g in grades)
        tasks.append((n - above) / above if above else 1.0)
    counts = [sum(m == i for m in morphologies) for i in range(len(MORPHOLOGIES))]
    present = [c for c in counts if c]
    known = sum(present)
    raw = [known / (len(present) * c) if c else 0.0 for c in counts]
    return fracture, tasks, raw


class SpineLoss:
    """``loss(model, batch)`` for :func:`fracturelab.training.fit`.

    Args:
        grades: Grades of the training vertebrae (for the weights).
        morphologies: Their morphology indices (-1 unknown).
        morphology_weight: Weight of the morphology term.
        fuse_morphometry: Pass ``batch["morphometry"]`` to the model.

    """

    def __init__(
        self,
        grades: Sequence[int],
        morphologies: Sequence[int],
        morphology_weight: float = 0.5,
        fuse_morphometry: bool = False,
    ) -> None:
        fracture, tasks, classes = imbalance_weights(grades, morphologies)
        self.fracture_weight = torch.tensor(fracture)
        self.task_weights = torch.tensor(tasks)
        self.class_weights = torch.tensor(classes)
        self.morphology_weight = morphology_weight
        self.fuse = fuse_morphometry

    def __call__(self, model: nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Weighted total loss of one batch (scalar)."""
        out = model(batch["patch"], batch["morphometry"] if self.fuse else None)
        device = out["fracture"].device
        weight = batch.get("weight")
        if weight is None:
            weight = torch.ones_like(batch["fracture"])
        weight = weight.float()
        total = weight.sum().clamp_min(1e-8)
        fracture = nn.functional.binary_cross_entropy_with_logits(
            out["fracture"].float(),
            batch["fracture"],
            pos_weight=self.fracture_weight.to(device),
            reduction="none",
        )
        targets = coral_targets(batch["grade"], out["grade"].shape[1] + 1)
        grade = nn.functional.binary_cross_entropy_with_logits(
            out["grade"].float(), targets, pos_weight=self.task_weights.to(device), reduction="none"
        ).mean(dim=1)
        loss = (fracture * weight).sum() / total + (grade * weight).sum() / total
        known = batch["morphology"] >= 0
        if bool(known.any()) and self.morphology_weight > 0:
            morphology = nn.functional.cross_entropy(
                out["morphology"][known].float(),
                batch["morphology"][known],
                weight=self.class_weights.to(device),
            )
            loss = loss + self.morphology_weight * morphology
        return loss
