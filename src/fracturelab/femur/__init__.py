"""Femur radiographs: fracture-centre localisation and AFF/NFF classification."""

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
