"""The femur networks, built from MONAI: heatmap localizers and AFF/NFF classifiers.

Two backbones each: ``cnn`` (MONAI ``UNet`` / ``ResNet``) and ``vit`` (MONAI ``ViT`` with its
patch tokens laid back on their grid, so a heatmap decoder and Grad-CAM see a feature map).
Three sizes: ``tiny`` for tests, ``small`` for CPU work, ``base`` for a GPU (the names and
presets live in :mod:`fracturelab.femur.presets`, which needs no PyTorch).
"""

from __future__ import annotations

import torch
from torch import nn

from fracturelab.checks import check_choice
from fracturelab.errors import InputError
from fracturelab.femur.presets import BACKBONES, SIZES, VIT_PATCH, NetworkSize
from fracturelab.training.layers import TokenGrid

__all__ = ["TokenGrid", "build_classifier", "build_localizer", "gradcam_layer"]

# TokenGrid lives in fracturelab.training.layers (shared with the spine model); exported here too.


class _ViTFeatures(nn.Module):
    """MONAI ViT encoder returning a feature map of shape ``(B, hidden, H/16, W/16)``."""

    def __init__(self, input_size: int, size: NetworkSize) -> None:
        super().__init__()
        from monai.networks.nets import ViT

        if input_size % VIT_PATCH:
            raise InputError(
                f"input size {input_size} px is not valid for a ViT; use a multiple of {VIT_PATCH}"
            )
        self.vit = ViT(
            in_channels=1,
            img_size=(input_size, input_size),
            patch_size=VIT_PATCH,
            hidden_size=size.vit_hidden,
            mlp_dim=size.vit_mlp_dim,
            num_layers=size.vit_layers,
            num_heads=size.vit_heads,
            classification=False,
            spatial_dims=2,
            qkv_bias=size.vit_qkv_bias,
        )
        side = input_size // VIT_PATCH
        self.grid = TokenGrid((side, side))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        tokens, _ = self.vit(image)
        return self.grid(tokens)  # type: ignore[no-any-return]


class _Classifier(nn.Module):
    """Backbone feature map -> global average pool -> one logit (AFF)."""

    def __init__(self, features: nn.Module, channels: int) -> None:
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(channels, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, 1, S, S)`` -> logits ``(B,)``."""
        return self.head(self.pool(self.features(image)).flatten(1))[:, 0]  # type: ignore[no-any-return]


def _resnet_features(size: NetworkSize) -> tuple[nn.Module, int]:
    from monai.networks.nets import ResNet

    resnet = ResNet(
        block="basic",
        layers=list(size.resnet_layers),
        block_inplanes=list(size.resnet_planes),
        spatial_dims=2,
        n_input_channels=1,
        conv1_t_size=7,
        conv1_t_stride=2,
        num_classes=1,
        feed_forward=False,
    )
    features = nn.Sequential(
        resnet.conv1, resnet.bn1, resnet.act, resnet.maxpool,
        resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4,
    )  # fmt: skip
    return features, size.resnet_planes[-1]


def build_classifier(backbone: str, input_size: int, size: str = "small") -> nn.Module:
    """An AFF/NFF classifier for ``(B, 1, input_size, input_size)`` images; logits ``(B,)``."""
    check_choice("backbone", backbone, BACKBONES)
    preset = SIZES[check_choice("model size", size, list(SIZES))]
    if backbone == "cnn":
        features, channels = _resnet_features(preset)
        return _Classifier(features, channels)
    return _Classifier(_ViTFeatures(input_size, preset), preset.vit_hidden)


def gradcam_layer(backbone: str) -> str:
    """Name of the layer whose feature map Grad-CAM explains, for MONAI ``GradCAM``."""
    return (
        "features.7"
        if check_choice("backbone", backbone, BACKBONES) == "cnn"
        else ("features.grid")
    )


class _ViTHeatmap(nn.Module):
    """ViT encoder + a small convolutional decoder: heatmap logits at 1/4 input resolution."""

    def __init__(self, input_size: int, size: NetworkSize) -> None:
        super().__init__()
        self.encoder = _ViTFeatures(input_size, size)
        hidden = size.vit_hidden
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(hidden, hidden // 2, kernel_size=2, stride=2),
            nn.GELU(),
            nn.Conv2d(hidden // 2, hidden // 2, kernel_size=3, padding=1),
            nn.GELU(),
            nn.ConvTranspose2d(hidden // 2, hidden // 4, kernel_size=2, stride=2),
            nn.GELU(),
            nn.Conv2d(hidden // 4, 1, kernel_size=3, padding=1),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(image))  # type: ignore[no-any-return]


def build_localizer(backbone: str, input_size: int, size: str = "small") -> nn.Module:
    """A heatmap localizer: ``(B, 1, S, S)`` -> logits ``(B, 1, h, w)``.

    The CNN (MONAI ``UNet``) predicts at full resolution, ``h = S``; the ViT at ``h = S / 4``.
    :func:`fracturelab.femur.heatmap.decode_heatmap` handles either.
    """
    check_choice("backbone", backbone, BACKBONES)
    preset = SIZES[check_choice("model size", size, list(SIZES))]
    if backbone == "vit":
        return _ViTHeatmap(input_size, preset)
    from monai.networks.nets import UNet

    levels = len(preset.unet_channels)
    if input_size % 2 ** (levels - 1):
        raise InputError(
            f"input size {input_size} px is not valid; use a multiple of {2 ** (levels - 1)}"
        )
    return UNet(  # type: ignore[no-any-return]
        spatial_dims=2,
        in_channels=1,
        out_channels=1,
        channels=preset.unet_channels,
        strides=(2,) * (levels - 1),
        num_res_units=preset.unet_res_units,
        norm="batch",
    )
