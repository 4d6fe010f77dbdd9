"""Shared training pieces: settings, device choice, seeding, a resumable (multi-process) loop.

:func:`fit` trains in one process or, started by :func:`launch` (or torchrun), in several
processes with distributed data parallel.

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
    from fracturelab.training.distributed import is_main_process, launch
    from fracturelab.training.trainer import FitResult, fit

__all__ = [
    "FitResult",
    "TrainConfig",
    "fit",
    "is_main_process",
    "launch",
    "seed_everything",
    "select_device",
]

#: Public name -> the module that defines it.
_HOMES = {
    "FitResult": "fracturelab.training.trainer",
    "TrainConfig": "fracturelab.training.config",
    "fit": "fracturelab.training.trainer",
    "is_main_process": "fracturelab.training.distributed",
    "launch": "fracturelab.training.distributed",
    "seed_everything": "fracturelab.training.device",
    "select_device": "fracturelab.training.device",
}

__getattr__, __dir__ = lazy_exports(globals(), _HOMES)
