"""Ordinal Genant grades with CORAL (Cao, Mirjalili & Raschka 2020): rank-consistent logits.

A grade ``g`` in ``0..K-1`` becomes ``K - 1`` binary tasks "grade > k" (``k = 0..K-2``). The
CORAL head shares one weight vector between the tasks and gives each its own bias, so the
``K - 1`` logits differ only by a constant; with ordered biases the cumulative probabilities
``P(grade > k)`` never increase with ``k`` (rank consistency). Decoding also enforces the
order (a running minimum), so class probabilities are never negative.

Worked example (the test checks it): cumulative probabilities ``(0.9, 0.6, 0.2)`` give class
probabilities ``(0.1, 0.3, 0.4, 0.2)`` and the grade ``2`` (two tasks above 0.5).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "CoralHead",
    "coral_class_probabilities",
    "coral_cumulative_probabilities",
    "coral_grade",
    "coral_loss",
    "coral_targets",
]


class CoralHead(nn.Module):
    """Features ``(B, F)`` -> ``K - 1`` cumulative logits ``(B, K - 1)``: one weight, K-1 biases.

    Args:
        in_features: Feature width ``F``.
        n_classes: Number of ordered classes ``K`` (4 for Genant grades 0-3).

    """

    def __init__(self, in_features: int, n_classes: int = 4) -> None:
        super().__init__()
        self.weight = nn.Linear(in_features, 1, bias=False)
        # Ordered start (decreasing biases): rank-consistent from the first step.
        start = torch.linspace(1.0, -1.0, n_classes - 1)
        self.bias = nn.Parameter(start)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` -> logits of ``P(grade > k)``, ``(B, K - 1)``."""
        return self.weight(features) + self.bias  # type: ignore[no-any-return]


def coral_targets(grades: torch.Tensor, n_classes: int = 4) -> torch.Tensor:
    """Binary targets ``[grade > k for k in 0..K-2]``: grades ``(B,)`` -> ``(B, K - 1)`` float."""
    thresholds = torch.arange(n_classes - 1, device=grades.device)
    return (grades[:, None] > thresholds[None, :]).float()


def coral_loss(
    logits: torch.Tensor, grades: torch.Tensor, task_pos_weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean binary cross-entropy over the cumulative tasks.

    Args:
        logits: ``(B, K - 1)`` cumulative logits.
        grades: ``(B,)`` integer grades in ``0..K-1``.
        task_pos_weight: ``(K - 1,)`` weight of the positives of each task ("grade > k"),
            e.g. negatives / positives in the training set, against class imbalance.

    Returns:
        Scalar loss.

    """
    targets = coral_targets(grades, logits.shape[1] + 1)
    return nn.functional.binary_cross_entropy_with_logits(
        logits.float(), targets, pos_weight=task_pos_weight
    )


def coral_cumulative_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """``P(grade > k)`` for ``k = 0..K-2``, ``(B, K - 1)``, made non-increasing in ``k``."""
    probabilities = torch.sigmoid(logits.float())
    return torch.cummin(probabilities, dim=1).values


def coral_class_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """``P(grade = g)`` for ``g = 0..K-1``, ``(B, K)``; rows sum to 1."""
    cumulative = coral_cumulative_probabilities(logits)
    ones = torch.ones_like(cumulative[:, :1])
    zeros = torch.zeros_like(cumulative[:, :1])
    above = torch.cat([ones, cumulative, zeros], dim=1)  # P(grade > k) for k = -1..K-1
    return above[:, :-1] - above[:, 1:]


def coral_grade(logits: torch.Tensor) -> torch.Tensor:
    """Predicted grade: how many cumulative probabilities exceed 0.5, ``(B,)`` int64."""
    return (coral_cumulative_probabilities(logits) > 0.5).sum(dim=1)
