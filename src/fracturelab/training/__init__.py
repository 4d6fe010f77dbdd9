"""Shared training pieces: device choice, seeding, a resumable training loop."""

from fracturelab.training.device import seed_everything, select_device
from fracturelab.training.trainer import FitResult, TrainConfig, fit

__all__ = ["FitResult", "TrainConfig", "fit", "seed_everything", "select_device"]
