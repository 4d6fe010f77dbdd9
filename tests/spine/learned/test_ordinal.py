"""CORAL decoding and loss against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from fracturelab.spine.learned.ordinal import (
    CoralHead,
    coral_class_probabilities,
    coral_cumulative_probabilities,
    coral_grade,
    coral_loss,
    coral_targets,
)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_decoding_matches_the_hand_computed_example() -> None:
    # P(grade > 0, > 1, > 2) = 0.9, 0.6, 0.2 -> P(grade = 0..3) = 0.1, 0.3, 0.4, 0.2; grade 2.
    logits = torch.tensor([[_logit(0.9), _logit(0.6), _logit(0.2)]])
    assert coral_class_probabilities(logits)[0].tolist() == pytest.approx([0.1, 0.3, 0.4, 0.2])
    assert coral_grade(logits).tolist() == [2]


def test_inconsistent_logits_are_made_rank_consistent() -> None:
    # P(>1) = 0.7 above P(>0) = 0.4 is impossible; the running minimum caps it at 0.4.
    logits = torch.tensor([[_logit(0.4), _logit(0.7), _logit(0.1)]])
    assert coral_cumulative_probabilities(logits)[0].tolist() == pytest.approx([0.4, 0.4, 0.1])
    probabilities = coral_class_probabilities(logits)[0]
    assert probabilities.tolist() == pytest.approx([0.6, 0.0, 0.3, 0.1])
    assert coral_grade(logits).tolist() == [0]


def test_targets_and_loss_by_hand() -> None:
    assert coral_targets(torch.tensor([0, 1, 3])).tolist() == [
        [0, 0, 0],
        [1, 0, 0],
        [1, 1, 1],
    ]
    # Zero logits: every task has p = 0.5, BCE = ln 2 whatever the target.
    loss = coral_loss(torch.zeros(2, 3), torch.tensor([0, 2]))
    assert float(loss) == pytest.approx(math.log(2))
    # pos_weight 3 on task 0, grade 2 (positive on tasks 0, 1): mean of (3 ln2, ln2, ln2) and
    # grade 0 (all negative: ln2 each) -> (3 + 1 + 1 + 1 + 1 + 1) ln2 / 6.
    weighted = coral_loss(torch.zeros(2, 3), torch.tensor([0, 2]), torch.tensor([3.0, 1.0, 1.0]))
    assert float(weighted) == pytest.approx(8 * math.log(2) / 6)


def test_head_starts_rank_consistent() -> None:
    head = CoralHead(5)
    logits = head(torch.randn(7, 5))
    assert torch.all(logits[:, :-1] >= logits[:, 1:])  # shared weight, ordered biases
