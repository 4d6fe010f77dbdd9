"""Settings of a femur experiment, validated at construction and saved with the run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fracturelab.checks import check_choice
from fracturelab.errors import InputError
from fracturelab.femur.presets import BACKBONES, LOCALIZERS, SIZES, PatchGeometry, RefineGeometry
from fracturelab.training.config import TrainConfig

__all__ = ["ExperimentConfig"]


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that defines a femur experiment (saved as ``config.json`` in the run folder).

    Attributes:
        n_folds: Cross-validation folds (validation for early stopping, thresholds and model
            choice); at least 2.
        test_fraction: Share of patients held out as the test set.
        backbones: Backbones to compare, from ``("cnn", "vit")``.
        model_size: Network size preset: ``tiny``, ``small`` (CPU) or ``base`` (GPU).
        localizer_input_px: Side of the localizer's letterboxed input.
        localizer: ``"two-stage"`` (the reduced image, then a window near native resolution
            around its estimate) or ``"single"`` (the reduced image only).
        refine: The second stage's window and training offsets.
        heatmap_sigma_mm: Width (standard deviation) of the first stage's heatmap target in
            mm, converted per image to input pixels so that images of different sizes get
            the same physical target (at least 1 input pixel).
        patch: How classifier patches are cut (native 224 px, or a fixed size in mm).
        baseline_input_px: Side of the downsampled whole-image input.
        jitter_px: Largest random shift of the true centre for training patches (pixels of
            the patch).
        localizer_training: Training settings of the localizers.
        classifier_training: Training settings of the classifiers.
        n_bootstrap: Bootstrap resamples (by patient) for confidence intervals.
        pretrained: Backbone -> a local ImageNet weights file (torchvision ResNet for
            ``cnn``, timm ViT for ``vit``) loaded into every classifier of that backbone and,
            for ``vit``, into the localizers' ViT encoders (the CNN localizer is a U-Net,
            which has no ImageNet counterpart); nothing is downloaded.
        repeats: Repetitions of the cross-validation with other fold assignments (same
            test set); the out-of-fold intervals then pool the repeats, so they include the
            split-to-split variance.
        seed: Seed of the split and the training.

    """

    n_folds: int = 5
    test_fraction: float = 0.2
    backbones: tuple[str, ...] = BACKBONES
    model_size: str = "small"
    localizer_input_px: int = 256
    localizer: str = "two-stage"
    refine: RefineGeometry = field(default_factory=RefineGeometry)
    heatmap_sigma_mm: float = 4.0
    patch: PatchGeometry = field(default_factory=PatchGeometry)
    baseline_input_px: int = 224
    jitter_px: float = 16.0
    localizer_training: TrainConfig = field(default_factory=lambda: TrainConfig(max_epochs=40))
    classifier_training: TrainConfig = field(default_factory=lambda: TrainConfig(max_epochs=30))
    n_bootstrap: int = 2000
    repeats: int = 1
    pretrained: dict[str, str] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.n_folds, int) or self.n_folds < 2:
            raise InputError(f"n_folds={self.n_folds!r} is not valid; use an integer >= 2")
        if not self.backbones:
            raise InputError(f"backbones={self.backbones!r} is empty; allowed: {BACKBONES}")
        for backbone in self.backbones:
            check_choice("backbone", backbone, BACKBONES)
        if len(set(self.backbones)) != len(self.backbones):
            raise InputError(f"backbones={self.backbones!r} repeats a backbone")
        check_choice("model_size", self.model_size, list(SIZES))
        for name in ("localizer_input_px", "baseline_input_px"):
            value = getattr(self, name)
            if value < 32 or value % 16:
                raise InputError(f"{name}={value!r} is not valid; use a multiple of 16, >= 32")
        if self.patch.size_px < 32 or self.patch.size_px % 16:
            raise InputError(
                f"patch size {self.patch.size_px!r} px is not valid; use a multiple of 16, >= 32"
            )
        if self.patch.size_mm is not None and not self.patch.size_mm > 0:
            raise InputError(f"patch size {self.patch.size_mm!r} mm is not valid; use > 0")
        if self.jitter_px < 0:
            raise InputError(f"jitter_px={self.jitter_px!r} is not valid; use >= 0")
        check_choice("localizer", self.localizer, LOCALIZERS)
        problems = self.refine.problems()
        if problems:
            raise InputError("; ".join(problems))
        if not self.heatmap_sigma_mm > 0:
            raise InputError(f"heatmap_sigma_mm={self.heatmap_sigma_mm!r} is not valid; use > 0")
        for backbone in self.pretrained:
            if backbone not in self.backbones:
                raise InputError(
                    f"pretrained weights given for {backbone!r}, which is not trained "
                    f"(backbones: {', '.join(self.backbones)}); give cnn=FILE or vit=FILE "
                    "for a trained backbone"
                )
        if not isinstance(self.repeats, int) or self.repeats < 1:
            raise InputError(f"repeats={self.repeats!r} is not valid; use an integer >= 1")
        if self.n_bootstrap < 100:
            raise InputError(f"n_bootstrap={self.n_bootstrap!r} is not valid; use >= 100")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        data = asdict(self)
        data["backbones"] = list(self.backbones)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        """Rebuild from :meth:`to_dict`."""
        values = dict(data)
        values["backbones"] = tuple(values["backbones"])
        values["patch"] = PatchGeometry(**values["patch"])
        values["refine"] = RefineGeometry(**values.get("refine", {}))
        values["pretrained"] = dict(values.get("pretrained", {}))
        values["localizer_training"] = TrainConfig(**values["localizer_training"])
        values["classifier_training"] = TrainConfig(**values["classifier_training"])
        return cls(**values)

    def check_same_as_saved(self, path: Path) -> None:
        """Refuse to continue a run folder that was started with other settings.

        Only the device may differ (a run may move between machines).
        """
        if not path.is_file():
            return
        saved = json.loads(path.read_text(encoding="utf-8"))
        mine = self.to_dict()
        for part in ("localizer_training", "classifier_training"):
            saved.get(part, {}).pop("device", None)
            mine[part].pop("device", None)
        differing = sorted(k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k))
        if differing:
            raise InputError(
                f"{path.parent} holds a run with other settings ({', '.join(differing)} differ); "
                "use a new --out folder to start another experiment, or the same settings to "
                "resume this one"
            )
