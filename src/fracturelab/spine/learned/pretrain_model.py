"""The self-supervised pretraining network and the pretrained encoder file.

The recipe is the one of MONAI's self-supervised tutorials (``ViTAutoEnc`` and Swin UNETR
pretraining): two augmented views of each crop, each with random cubes masked out
(``RandCoarseDropout``) and shuffled (``RandCoarseShuffle``); the network reconstructs the
original crop from each view (L1 loss) and pulls the two views' pooled, projected features
together against the other crops of the batch (MONAI ``ContrastiveLoss``, NT-Xent,
temperature 0.5). The total is ``L1(view 1) + L1(view 2) + contrastive_weight * contrastive``.

The encoder is exactly the classifier's feature extractor (``SpineNet.features``: the 3D
ResNet stages, or the ViT with its token grid), so its weights drop into the classifier:
``spine train --init RUN`` calls :func:`load_encoder`. The pretraining run writes
``RUN/encoder.pt`` (the encoder's ``state_dict``) and ``RUN/pretrain.json`` (backbone, size,
channels, crop shape), and :func:`load_encoder` refuses, in one line, an encoder of another
architecture.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fracturelab.errors import InputError
from fracturelab.spine.learned.network import SpineNet, build_spine_network

__all__ = [
    "ENCODER_FILE",
    "PRETRAIN_FILE",
    "PretrainLoss",
    "PretrainNet",
    "check_init",
    "load_encoder",
]

#: Encoder weights of a pretraining run.
ENCODER_FILE = "encoder.pt"
#: Description of a pretraining run's encoder.
PRETRAIN_FILE = "pretrain.json"


class PretrainNet(nn.Module):
    """Encoder -> (reconstruction of the crop, projected pooled features).

    Args:
        backbone: ``cnn`` or ``vit``.
        shape: Crop ``(D, H, W)`` in voxels.
        channels: Input channels (those of the classifier, so the encoder fits it).
        size: Size preset.
        projection: Width of the contrastive projection.

    """

    def __init__(
        self,
        backbone: str,
        shape: tuple[int, int, int],
        channels: int,
        size: str,
        projection: int = 64,
    ) -> None:
        super().__init__()
        classifier = build_spine_network(backbone, shape, channels, size)
        self.features = classifier.features
        width = classifier.fracture.in_features
        self.shape = shape
        self.reconstruct = nn.Sequential(
            nn.Conv3d(width, 16, 1), nn.GELU(), nn.Conv3d(16, 1, 3, padding=1)
        )
        self.project = nn.Sequential(
            nn.Linear(width, projection), nn.GELU(), nn.Linear(projection, projection)
        )

    def forward(self, crop: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruction ``(B, 1, D, H, W)`` and embedding ``(B, projection)`` of a crop.

        Args:
            crop: ``(B, C, D, H, W)``.

        """
        feature_map = self.features(crop)
        coarse = self.reconstruct(feature_map)
        reconstruction = nn.functional.interpolate(
            coarse, size=self.shape, mode="trilinear", align_corners=False
        )
        embedding = self.project(feature_map.mean(dim=(2, 3, 4)))
        return {"reconstruction": reconstruction, "embedding": embedding}


class PretrainLoss:
    """``loss(model, batch)`` for :func:`fracturelab.training.fit`.

    ``batch``: ``view1``, ``view2`` (masked, augmented crops ``(B, C, D, H, W)``) and
    ``target`` (the CT channel of the unmasked crop, ``(B, 1, D, H, W)``).

    Args:
        contrastive_weight: Weight of the contrastive term.
        temperature: NT-Xent temperature.

    """

    def __init__(self, contrastive_weight: float = 1.0, temperature: float = 0.5) -> None:
        from monai.losses import ContrastiveLoss

        self.contrastive = ContrastiveLoss(temperature=temperature)
        self.weight = contrastive_weight

    def __call__(self, model: nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Reconstruction of both views plus the weighted contrastive term (scalar)."""
        first = model(batch["view1"])
        second = model(batch["view2"])
        target = batch["target"].float()
        loss = nn.functional.l1_loss(first["reconstruction"].float(), target)
        loss = loss + nn.functional.l1_loss(second["reconstruction"].float(), target)
        if self.weight > 0 and first["embedding"].shape[0] > 1:
            contrast = self.contrastive(first["embedding"].float(), second["embedding"].float())
            loss = loss + self.weight * contrast
        return loss


def pretrain_description(
    backbone: str, size: str, channels: int, shape: tuple[int, int, int]
) -> dict[str, Any]:
    """What ``pretrain.json`` records of the encoder."""
    return {"backbone": backbone, "model_size": size, "channels": channels, "shape": list(shape)}


def check_init(run: str | Path, backbone: str, size: str, option: str = "--init") -> Path:
    """Check that ``run`` is a finished pretraining run of this backbone and size.

    ``option`` names the command-line option that gave ``run``, for the messages.

    Raises:
        InputError: One line naming the folder, what does not match and the fix.

    """
    folder = Path(run)
    described = folder / PRETRAIN_FILE
    if not described.is_file() or not (folder / ENCODER_FILE).is_file():
        raise InputError(
            f"{option} {folder}: not a finished pretraining run (no {PRETRAIN_FILE} and "
            f"{ENCODER_FILE}); run fracturelab spine pretrain --out {folder} first"
        )
    saved = json.loads(described.read_text(encoding="utf-8"))
    mine = {"backbone": backbone, "model_size": size}
    differing = [f"{k} {saved.get(k)!r} (the classifier: {v!r})" for k, v in mine.items()
                 if saved.get(k) != v]  # fmt: skip
    if differing:
        raise InputError(
            f"{option} {folder}: the pretrained encoder does not match: {'; '.join(differing)}; "
            "train with the pretraining's --backbone and --size, or pretrain again"
        )
    return folder


def load_encoder(network: SpineNet, run: str | Path, backbone: str, size: str) -> None:
    """Load a pretraining run's encoder into a classifier's ``features``.

    Args:
        network: The classifier (randomly initialised).
        run: The ``spine pretrain`` run folder (``encoder.pt``, ``pretrain.json``).
        backbone: The classifier's backbone.
        size: The classifier's size preset.

    Raises:
        InputError: One line for a folder that is not a finished pretraining run, or an
            encoder of another backbone, size, channel count or (ViT) shape.

    """
    folder = check_init(run, backbone, size)
    weights = folder / ENCODER_FILE
    state = torch.load(weights, map_location="cpu", weights_only=True)
    try:
        network.features.load_state_dict(state)
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        first = (lines[1] if len(lines) > 1 else lines[0]) if lines else "shapes differ"
        raise InputError(
            f"--init {folder}: the pretrained encoder does not fit the classifier ({first}); "
            "use the same channels and patch size as the pretraining, or pretrain again"
        ) from None
