"""How to train one network: plain settings, free of PyTorch.

Importing this module loads no deep-learning library, so that configurations (such as
:class:`fracturelab.femur.config.ExperimentConfig`) can be read, checked and written without
PyTorch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fracturelab.errors import InputError

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """How to train one network.

    Attributes:
        max_epochs: Passes over the training data (exactly this many without validation).
        max_steps: Stop after this many optimiser steps in all (for smoke tests), or ``None``.
        batch_size: Images per step.
        learning_rate: AdamW learning rate (cosine-annealed to zero over the run).
        weight_decay: AdamW weight decay.
        patience: Epochs without a better validation score before stopping early.
        seed: Seed of initialisation, shuffling and augmentation.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    """

    max_epochs: int = 30
    max_steps: int | None = None
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 6
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        for name in ("max_epochs", "batch_size", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InputError(f"{name}={value!r} is not valid; use a positive integer")
        if self.max_steps is not None and self.max_steps < 1:
            raise InputError(f"max_steps={self.max_steps!r} is not valid; use >= 1 or None")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise InputError(f"learning_rate={self.learning_rate!r} is not valid; use > 0")
