"""The learned per-vertebra fracture classifier: network, training, model folder.

A MONAI 3D network (CNN or ViT) reads a patch cut in each vertebra's own frame and predicts
P(fracture), an ordinal Genant grade (CORAL) and the morphology. :func:`train_spine` trains
it on a patch cache with patient-grouped folds; :class:`SpineModel` is the saved model.
Ungraded scans help through pseudo-labels (:class:`PseudoLabelRule`) and self-supervised
encoder pretraining (:func:`pretrain_spine`); :func:`run_ablation` measures what they add.

The names below load their module on first use (PEP 562), so that importing this package
(or its torch-free :mod:`~fracturelab.spine.learned.config`) does not load PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time __getattr__ imports on first use
    from fracturelab.spine.learned.ablation import AblationConfig, run_ablation
    from fracturelab.spine.learned.ablation_report import write_ablation_report
    from fracturelab.spine.learned.bundle import SpineModel
    from fracturelab.spine.learned.config import SpineTrainingConfig
    from fracturelab.spine.learned.data import CacheIndex, VertebraDataset
    from fracturelab.spine.learned.experiment import SpineRun, train_spine
    from fracturelab.spine.learned.inference import VertebraOutputs
    from fracturelab.spine.learned.network import build_spine_network
    from fracturelab.spine.learned.pretrain import PretrainConfig, pretrain_spine
    from fracturelab.spine.learned.pseudo_labels import PseudoLabelRule
    from fracturelab.spine.learned.splits import SpineSplits, make_spine_splits

__all__ = [
    "AblationConfig",
    "CacheIndex",
    "PretrainConfig",
    "PseudoLabelRule",
    "SpineModel",
    "SpineRun",
    "SpineSplits",
    "SpineTrainingConfig",
    "VertebraDataset",
    "VertebraOutputs",
    "build_spine_network",
    "make_spine_splits",
    "pretrain_spine",
    "run_ablation",
    "train_spine",
    "write_ablation_report",
]

#: Public name -> the module that defines it.
_HOMES = {
    "AblationConfig": "fracturelab.spine.learned.ablation",
    "PretrainConfig": "fracturelab.spine.learned.pretrain",
    "PseudoLabelRule": "fracturelab.spine.learned.pseudo_labels",
    "pretrain_spine": "fracturelab.spine.learned.pretrain",
    "run_ablation": "fracturelab.spine.learned.ablation",
    "write_ablation_report": "fracturelab.spine.learned.ablation_report",
    "CacheIndex": "fracturelab.spine.learned.data",
    "SpineModel": "fracturelab.spine.learned.bundle",
    "SpineRun": "fracturelab.spine.learned.experiment",
    "SpineSplits": "fracturelab.spine.learned.splits",
    "SpineTrainingConfig": "fracturelab.spine.learned.config",
    "VertebraDataset": "fracturelab.spine.learned.data",
    "VertebraOutputs": "fracturelab.spine.learned.inference",
    "build_spine_network": "fracturelab.spine.learned.network",
    "make_spine_splits": "fracturelab.spine.learned.splits",
    "train_spine": "fracturelab.spine.learned.experiment",
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
