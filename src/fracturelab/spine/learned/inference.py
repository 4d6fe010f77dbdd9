"""Running spine networks on patches: batched, averaged over the fold models.

Each fold network gives, per vertebra, P(fracture), the CORAL cumulative probabilities
P(grade > k) and the morphology probabilities; the model's output is their mean over the
folds (the mean of non-increasing cumulative probabilities stays non-increasing, so the
averaged grades are still rank-consistent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from fracturelab.spine.learned.config import MORPHOLOGIES
from fracturelab.spine.learned.ordinal import coral_cumulative_probabilities
from fracturelab.typing import Float64Array, FloatArray, IntArray

__all__ = ["VertebraOutputs", "predict_outputs"]


@dataclass(frozen=True)
class VertebraOutputs:
    """A model's outputs for ``n`` vertebrae.

    Attributes:
        fracture_probability: P(grade >= 1) from the fracture head, ``(n,)``.
        grade_above: CORAL P(grade > k) for ``k = 0, 1, 2``, ``(n, 3)``, non-increasing.
        morphology_probabilities: ``(n, 4)`` over
            :data:`~fracturelab.spine.learned.config.MORPHOLOGIES`.

    """

    fracture_probability: Float64Array
    grade_above: Float64Array
    morphology_probabilities: Float64Array

    @property
    def grade_probabilities(self) -> Float64Array:
        """P(grade = g) for ``g = 0..3``, ``(n, 4)``; rows sum to 1."""
        n = self.grade_above.shape[0]
        above = np.concatenate([np.ones((n, 1)), self.grade_above, np.zeros((n, 1))], axis=1)
        return above[:, :-1] - above[:, 1:]  # type: ignore[no-any-return]

    @property
    def p_grade_ge2(self) -> Float64Array:
        """P(grade >= 2) from the ordinal head, ``(n,)``."""
        return self.grade_above[:, 1]

    @property
    def predicted_grade(self) -> IntArray:
        """CORAL decoding: how many of P(grade > k) exceed 0.5, ``(n,)``."""
        return (self.grade_above > 0.5).sum(axis=1).astype(np.int64)  # type: ignore[no-any-return]

    @property
    def predicted_morphology(self) -> list[str]:
        """Most probable morphology of each vertebra."""
        return [MORPHOLOGIES[i] for i in self.morphology_probabilities.argmax(axis=1)]


@torch.no_grad()
def predict_outputs(
    networks: Sequence[nn.Module],
    patches: Sequence[FloatArray],
    morphometry: Sequence[FloatArray] | None = None,
    batch_size: int = 16,
) -> VertebraOutputs:
    """Run each network on every patch and average the probabilities.

    Args:
        networks: Fold networks (:class:`~fracturelab.spine.learned.network.SpineNet`), all on
            one device.
        patches: ``(C, D, H, W)`` patches.
        morphometry: ``(2,)`` features per patch (for networks that fuse them), or ``None``.
        batch_size: Patches per forward pass.

    Returns:
        The averaged :class:`VertebraOutputs`.

    """
    n = len(patches)
    fracture = np.zeros(n)
    above = np.zeros((n, 3))
    morphology = np.zeros((n, len(MORPHOLOGIES)))
    for network in networks:
        network.eval()
        device = next(network.parameters()).device
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            batch = torch.from_numpy(
                np.stack([np.asarray(p, np.float32) for p in patches[start:stop]])
            )
            extra = None
            if morphometry is not None:
                extra = torch.from_numpy(np.stack(morphometry[start:stop])).to(device)
            out = network(batch.to(device), extra)
            fracture[start:stop] += torch.sigmoid(out["fracture"].float()).cpu().numpy()
            above[start:stop] += coral_cumulative_probabilities(out["grade"]).cpu().numpy()
            morphology[start:stop] += torch.softmax(out["morphology"].float(), 1).cpu().numpy()
    count = max(1, len(networks))
    return VertebraOutputs(fracture / count, above / count, morphology / count)
