"""Shared training pieces: plain settings, device choice, seeding, a resumable training loop.

The names below load their module on first use (PEP 562), so that importing
:mod:`fracturelab.training.config` (or a configuration built on it) does not load PyTorch with
:func:`fit`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fracturelab.lazy import lazy_exports

if TYPE_CHECKING:  # for type checkers; at run time __getattr__ imports on first use
    from fracturelab.training.config import TrainConfig
    from fracturelab.training.device import seed_everything, select_device
    from fracturelab.training.trainer import FitResult, fit

__all__ = ["FitResult", "TrainConfig", "fit", "seed_everything", "select_device"]

#: Public name -> the module that defines it.
_HOMES = {
    "FitResult": "fracturelab.training.trainer",
    "TrainConfig": "fracturelab.training.config",
    "fit": "fracturelab.training.trainer",
    "seed_everything": "fracturelab.training.device",
    "select_device": "fracturelab.training.device",
}

__getattr__, __dir__ = lazy_exports(globals(), _HOMES)
