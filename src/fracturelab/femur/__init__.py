"""Femur radiographs: fracture-centre localisation and AFF/NFF classification.

The names below load their module on first use (PEP 562), so that importing a light module
such as :mod:`fracturelab.femur.contract` or :mod:`fracturelab.femur.config` does not load
PyTorch and MONAI with :class:`FemurModel`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time __getattr__ imports on first use
    from fracturelab.femur.bundle import FemurModel, FemurPrediction
    from fracturelab.femur.config import ExperimentConfig
    from fracturelab.femur.manifest import Manifest, ManifestRow
    from fracturelab.femur.splits import Splits, make_splits

__all__ = [
    "ExperimentConfig",
    "FemurModel",
    "FemurPrediction",
    "Manifest",
    "ManifestRow",
    "Splits",
    "make_splits",
]

#: Public name -> the module that defines it.
_HOMES = {
    "ExperimentConfig": "fracturelab.femur.config",
    "FemurModel": "fracturelab.femur.bundle",
    "FemurPrediction": "fracturelab.femur.bundle",
    "Manifest": "fracturelab.femur.manifest",
    "ManifestRow": "fracturelab.femur.manifest",
    "Splits": "fracturelab.femur.splits",
    "make_splits": "fracturelab.femur.splits",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
