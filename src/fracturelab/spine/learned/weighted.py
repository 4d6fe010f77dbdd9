"""Training with per-vertebra weights: graded vertebrae weigh 1, pseudo-labelled ones less.

:class:`WeightedVertebraDataset` adds a ``weight`` item to
:class:`~fracturelab.spine.learned.data.VertebraDataset`'s; :class:`WeightedSpineLoss` is
:class:`~fracturelab.spine.learned.losses.SpineLoss` with each vertebra's terms multiplied by
its weight and divided by the batch's total weight (so an all-graded batch gives the same
fracture and grade terms as ``SpineLoss``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from fracturelab.spine.learned.data import VertebraDataset, VertebraRecord
from fracturelab.spine.learned.losses import SpineLoss
from fracturelab.spine.learned.ordinal import coral_targets
from fracturelab.typing import FloatArray

__all__ = ["WeightedSpineLoss", "WeightedVertebraDataset"]


class WeightedVertebraDataset(VertebraDataset):
    """A :class:`VertebraDataset` whose items carry ``weight`` (float32 scalar).

    Args:
        records: The vertebrae.
        patches: Their patches.
        weights: Loss weight of each, same order.
        augment: Apply the anatomy-respecting augmentation.
        max_rotation_deg: Largest rotation about the superior axis.
        max_shift_vox: Largest shift per axis in voxels.
        seed: Seed of the augmentation.

    """

    def __init__(
        self,
        records: list[VertebraRecord],
        patches: list[FloatArray],
        weights: Sequence[float],
        augment: bool = False,
        max_rotation_deg: float = 10.0,
        max_shift_vox: float = 2.0,
        seed: int = 0,
    ) -> None:
        super().__init__(records, patches, augment, max_rotation_deg, max_shift_vox, seed)
        if len(weights) != len(records):
            raise ValueError("records and weights differ in length")
        self.weights = [float(w) for w in weights]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = super().__getitem__(index)
        item["weight"] = torch.tensor(self.weights[index], dtype=torch.float32)
        return item


class WeightedSpineLoss(SpineLoss):
    """``loss(model, batch)`` with ``batch["weight"]`` weighting each vertebra."""

    def __call__(self, model: nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Weighted total loss of one batch (scalar)."""
        out = model(batch["patch"], batch["morphometry"] if self.fuse else None)
        device = out["fracture"].device
        weight = batch["weight"].float()
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
