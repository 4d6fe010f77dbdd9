"""Femur radiographs: fracture-centre localisation and AFF/NFF classification.

The names below load their module on first use (PEP 562), so that importing a light module
such as :mod:`fracturelab.femur.contract` or :mod:`fracturelab.femur.config` does not load
PyTorch and MONAI with :class:`FemurModel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fracturelab.lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(globals(), _HOMES)
