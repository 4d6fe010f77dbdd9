"""The learned per-vertebra fracture classifier: network, training, model folder.

A MONAI 3D network (CNN or ViT) reads a patch cut in each vertebra's own frame and predicts
P(fracture), an ordinal Genant grade (CORAL) and the morphology. :func:`train_spine` trains
it on a patch cache with patient-grouped folds; :class:`SpineModel` is the saved model.

The names below load their module on first use (PEP 562), so that importing this package
(or its torch-free :mod:`~fracturelab.spine.learned.config`) does not load PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time __getattr__ imports on first use
    from fracturelab.spine.learned.bundle import SpineModel
    from fracturelab.spine.learned.config import SpineTrainingConfig
    from fracturelab.spine.learned.data import CacheIndex, VertebraDataset
    from fracturelab.spine.learned.experiment import SpineRun, train_spine
    from fracturelab.spine.learned.inference import VertebraOutputs
    from fracturelab.spine.learned.network import build_spine_network
    from fracturelab.spine.learned.splits import SpineSplits, make_spine_splits

__all__ = [
    "CacheIndex",
    "SpineModel",
    "SpineRun",
    "SpineSplits",
    "SpineTrainingConfig",
    "VertebraDataset",
    "VertebraOutputs",
    "build_spine_network",
    "make_spine_splits",
    "train_spine",
]

#: Public name -> the module that defines it.
_HOMES = {
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
