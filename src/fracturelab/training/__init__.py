"""Shared training pieces: plain settings, device choice, seeding, a resumable training loop.

The names below load their module on first use (PEP 562), so that importing
:mod:`fracturelab.training.config` (or a configuration built on it) does not load PyTorch with
:func:`fit`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
