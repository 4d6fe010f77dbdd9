"""The learned spine classifier, built from MONAI: a 3D backbone and three heads.

Input: a vertebra patch ``(B, C, D, H, W)`` in the vertebra's own frame (``D`` superior,
``H`` anterior, ``W`` left-right; see :mod:`fracturelab.spine.learned.data`) and, when fused,
its morphometry ``(B, 2)``. Output: a dict of logits

- ``fracture``: ``(B,)``, P(grade >= 1) after a sigmoid;
- ``grade``: ``(B, 3)``, CORAL cumulative logits of P(grade > k) (:mod:`.ordinal`);
- ``morphology``: ``(B, 4)``, over :data:`~fracturelab.spine.learned.config.MORPHOLOGIES`.

Backbones: ``cnn`` (MONAI ``ResNet``, 3D) and ``vit`` (MONAI ``ViT``, 3D, tokens laid back on
their grid so Grad-CAM sees a feature map); sizes from
:data:`~fracturelab.spine.learned.config.SIZES`.
"""

from __future__ import annotations

import torch
from torch import nn

from fracturelab.checks import check_choice
from fracturelab.errors import InputError
from fracturelab.spine.learned.config import BACKBONES, MORPHOLOGIES, SIZES, SpineNetworkSize
from fracturelab.spine.learned.ordinal import CoralHead
from fracturelab.training.layers import TokenGrid

__all__ = ["N_MORPHOMETRY", "SpineNet", "build_spine_network", "gradcam_layer"]

#: Morphometry features fused when asked: height loss (fraction) and morphometric grade / 3.
N_MORPHOMETRY = 2


class _ViTFeatures(nn.Module):
    """MONAI 3D ViT returning a feature map ``(B, hidden, D/p, H/p, W/p)``."""

    def __init__(self, channels: int, shape: tuple[int, int, int], size: SpineNetworkSize) -> None:
        super().__init__()
        from monai.networks.nets import ViT

        bad = [s for s in shape if s % size.vit_patch]
        if bad:
            raise InputError(
                f"patch shape {shape} is not valid for the ViT backbone; every side must be a "
                f"multiple of {size.vit_patch} voxels (use another patch size, or --backbone cnn)"
            )
        self.vit = ViT(
            in_channels=channels,
            img_size=shape,
            patch_size=size.vit_patch,
            hidden_size=size.vit_hidden,
            mlp_dim=2 * size.vit_hidden,
            num_layers=size.vit_layers,
            num_heads=size.vit_heads,
            classification=False,
            spatial_dims=3,
        )
        self.grid = TokenGrid(tuple(s // size.vit_patch for s in shape))

    def forward(self, patch: torch.Tensor) -> torch.Tensor:
        tokens, _ = self.vit(patch)
        return self.grid(tokens)  # type: ignore[no-any-return]


def _resnet_features(channels: int, size: SpineNetworkSize) -> nn.Module:
    from monai.networks.nets import ResNet

    resnet = ResNet(
        block="basic",
        layers=list(size.resnet_layers),
        block_inplanes=list(size.resnet_planes),
        spatial_dims=3,
        n_input_channels=channels,
        conv1_t_size=3,
        conv1_t_stride=1,
        no_max_pool=True,
        num_classes=1,
        feed_forward=False,
    )
    return nn.Sequential(
        resnet.conv1, resnet.bn1, resnet.act,
        resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4,
    )  # fmt: skip


class SpineNet(nn.Module):
    """Backbone feature map -> global average pool (+ morphometry) -> three heads.

    Args:
        features: Backbone: ``(B, C, D, H, W)`` -> feature map ``(B, F, d, h, w)``.
        width: ``F``.
        fuse_morphometry: Whether :meth:`forward` takes the ``(B, 2)`` morphometry too.

    """

    def __init__(self, features: nn.Module, width: int, fuse_morphometry: bool = False) -> None:
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fuse_morphometry = fuse_morphometry
        joint = width + (N_MORPHOMETRY if fuse_morphometry else 0)
        self.fracture = nn.Linear(joint, 1)
        self.grade = CoralHead(joint, n_classes=4)
        self.morphology = nn.Linear(joint, len(MORPHOLOGIES))

    def forward(
        self, patch: torch.Tensor, morphometry: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Logits of the three heads (see the module docstring)."""
        pooled = self.pool(self.features(patch)).flatten(1)
        if self.fuse_morphometry:
            if morphometry is None:
                raise InputError(
                    "this model fuses morphometry; give each vertebra's height loss and "
                    "morphometric grade"
                )
            pooled = torch.cat([pooled, morphometry.to(pooled.dtype)], dim=1)
        return {
            "fracture": self.fracture(pooled)[:, 0],
            "grade": self.grade(pooled),
            "morphology": self.morphology(pooled),
        }


def build_spine_network(
    backbone: str,
    shape: tuple[int, int, int],
    channels: int = 3,
    size: str = "small",
    fuse_morphometry: bool = False,
) -> SpineNet:
    """The spine classifier for patches of ``(channels, *shape)`` voxels.

    Args:
        backbone: ``"cnn"`` or ``"vit"``.
        shape: Patch ``(D, H, W)`` in voxels.
        channels: Input channels (3: CT, own mask, neighbours' masks).
        size: Size preset name (``tiny``, ``small``, ``base``).
        fuse_morphometry: Concatenate the morphometry features before the heads.

    Raises:
        InputError: For an unknown backbone or size, or a shape the ViT cannot tile.

    """
    check_choice("backbone", backbone, BACKBONES)
    preset = SIZES[check_choice("model size", size, list(SIZES))]
    if backbone == "cnn":
        return SpineNet(
            _resnet_features(channels, preset), preset.resnet_planes[-1], fuse_morphometry
        )
    return SpineNet(_ViTFeatures(channels, shape, preset), preset.vit_hidden, fuse_morphometry)


def gradcam_layer(backbone: str) -> str:
    """Name of the layer whose feature map Grad-CAM explains (for MONAI ``GradCAM``)."""
    return (
        "features.6" if check_choice("backbone", backbone, BACKBONES) == "cnn" else "features.grid"
    )
