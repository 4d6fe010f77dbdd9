"""Settings of the learned spine classifier, torch-free.

Backbone names, network size presets, the grades and morphologies the heads predict, and
:class:`SpineTrainingConfig` (saved as ``config.json`` in a run folder). Importing this module
loads no deep-learning library, so the command line can check options before loading PyTorch.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fracturelab.checks import check_choice
from fracturelab.errors import InputError
from fracturelab.training.config import TrainConfig

__all__ = [
    "BACKBONES",
    "GRADES",
    "MORPHOLOGIES",
    "SIZES",
    "SpineNetworkSize",
    "SpineTrainingConfig",
]

#: Backbones: ``cnn`` (MONAI 3D ``ResNet``) and ``vit`` (MONAI 3D ``ViT``).
BACKBONES: tuple[str, ...] = ("cnn", "vit")
#: Genant semi-quantitative grades the ordinal head predicts.
GRADES: tuple[int, ...] = (0, 1, 2, 3)
#: Morphologies the morphology head predicts, in the order of its outputs.
MORPHOLOGIES: tuple[str, ...] = ("normal", "wedge", "biconcave", "crush")


@dataclass(frozen=True)
class SpineNetworkSize:
    """Widths and depths of one network size preset.

    Attributes:
        resnet_planes: Channels of the four stages of the 3D ResNet.
        resnet_layers: Blocks per ResNet stage.
        vit_hidden: Token width of the 3D ViT.
        vit_layers: Transformer layers of the ViT.
        vit_heads: Attention heads of the ViT.
        vit_patch: Side in voxels of a ViT token's cube; patch sides must be multiples of it.

    """

    resnet_planes: tuple[int, int, int, int]
    resnet_layers: tuple[int, int, int, int]
    vit_hidden: int
    vit_layers: int
    vit_heads: int
    vit_patch: int


#: Size presets: ``tiny`` for tests, ``small`` for CPU work, ``base`` for a GPU.
SIZES: dict[str, SpineNetworkSize] = {
    "tiny": SpineNetworkSize((4, 8, 16, 32), (1, 1, 1, 1), 32, 1, 2, 8),
    "small": SpineNetworkSize((16, 32, 64, 128), (1, 1, 1, 1), 96, 4, 4, 8),
    "base": SpineNetworkSize((32, 64, 128, 256), (2, 2, 2, 2), 384, 8, 6, 8),
}


#: Semi-supervised settings and their defaults (left out of ``config.json`` at the default).
_SEMI_DEFAULTS: dict[str, Any] = {
    "pseudo_labels": False,
    "pseudo_margin_pct": 2.0,
    "pseudo_weight": 0.5,
    "pseudo_teacher": None,
    "init": None,
}


@dataclass(frozen=True)
class SpineTrainingConfig:
    """Everything that defines a spine training run (``config.json`` of the run folder).

    Attributes:
        n_folds: Cross-validation folds (at least 2); each fold model is kept and the
            folds' mean probability is the model's output.
        test_fraction: Share of patients held out as the test set, in (0, 0.5].
        backbone: ``"cnn"`` or ``"vit"``.
        model_size: Network size preset: ``tiny`` (tests), ``small`` (CPU) or ``base`` (GPU).
        fuse_morphometry: Give the network the vertebra's morphometry (height loss in % and
            morphometric grade) next to the image features.
        augment: Augment training patches (rotation about the superior axis, shifts,
            left-right flips, intensity jitter; never superior-inferior or anterior-posterior
            flips).
        max_rotation_deg: Largest rotation about the superior axis, degrees.
        max_shift_vox: Largest shift along each axis, voxels of the patch.
        morphology_weight: Weight of the morphology loss against the fracture and grade losses.
        training: How each fold network is trained (:class:`~fracturelab.training.TrainConfig`).
        seed: Seed of the split and the training.
        pseudo_labels: Also train on the confidently pseudo-labelled vertebrae of the
            delineated-only scans (:mod:`fracturelab.spine.learned.pseudo_labels`).
        pseudo_margin_pct: Least distance of a pseudo-labelled vertebra's height loss from
            the Genant cuts 20/25/40 %, percentage points.
        pseudo_weight: Loss weight of a pseudo-labelled vertebra (a graded one weighs 1).
        pseudo_teacher: A model folder (trained on graded scans) that must agree with each
            pseudo-label, or ``None``.
        init: A ``spine pretrain`` run folder whose encoder initialises every fold network,
            or ``None`` (random initialisation).

    """

    n_folds: int = 5
    test_fraction: float = 0.2
    backbone: str = "cnn"
    model_size: str = "small"
    fuse_morphometry: bool = False
    augment: bool = True
    max_rotation_deg: float = 10.0
    max_shift_vox: float = 2.0
    morphology_weight: float = 0.5
    training: TrainConfig = field(default_factory=lambda: TrainConfig(max_epochs=40))
    seed: int = 0
    pseudo_labels: bool = False
    pseudo_margin_pct: float = 2.0
    pseudo_weight: float = 0.5
    pseudo_teacher: str | None = None
    init: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.n_folds, int) or self.n_folds < 2:
            raise InputError(f"n_folds={self.n_folds!r} is not valid; use an integer >= 2")
        if not 0 < self.test_fraction <= 0.5:
            raise InputError(
                f"test_fraction={self.test_fraction!r} is not valid; use a number in (0, 0.5]"
            )
        check_choice("backbone", self.backbone, BACKBONES)
        check_choice("model_size", self.model_size, list(SIZES))
        for name in ("max_rotation_deg", "max_shift_vox", "morphology_weight"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise InputError(f"{name}={value!r} is not valid; use a number >= 0")
        if not (math.isfinite(self.pseudo_margin_pct) and 0 <= self.pseudo_margin_pct <= 10):
            raise InputError(
                f"pseudo_margin_pct={self.pseudo_margin_pct!r} is not valid; use 0-10 points"
            )
        if not (math.isfinite(self.pseudo_weight) and 0 < self.pseudo_weight <= 1):
            raise InputError(f"pseudo_weight={self.pseudo_weight!r} is not valid; use (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings; the semi-supervised ones only when not at their defaults.

        (So that a run folder written before they existed still resumes.)
        """
        values = asdict(self)
        for name, default in _SEMI_DEFAULTS.items():
            if values[name] == default:
                del values[name]
        return values

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpineTrainingConfig:
        """Rebuild from :meth:`to_dict`."""
        values = dict(data)
        values["training"] = TrainConfig(**values["training"])
        return cls(**values)

    def check_same_as_saved(self, path: Path) -> None:
        """Refuse to continue a run folder that was started with other settings.

        Only the device may differ (a run may move between machines).

        Raises:
            InputError: Naming the settings that differ.

        """
        if not path.is_file():
            return
        saved = json.loads(path.read_text(encoding="utf-8"))
        mine = self.to_dict()
        saved.get("training", {}).pop("device", None)
        mine["training"].pop("device", None)
        differing = sorted(k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k))
        if differing:
            raise InputError(
                f"{path.parent} holds a run with other settings ({', '.join(differing)} differ); "
                "use a new --out folder to start another run, or the same settings to resume"
            )
