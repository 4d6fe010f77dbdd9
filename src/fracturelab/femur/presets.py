"""The choices a femur experiment is configured with, torch-free.

Backbone names, network size presets, the two classifier approaches and how classifier
patches are cut. :mod:`fracturelab.femur.config` validates against these without importing
PyTorch or MONAI; :mod:`fracturelab.femur.networks` builds the networks from them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["APPROACHES", "BACKBONES", "SIZES", "VIT_PATCH", "NetworkSize", "PatchGeometry"]

#: Backbones: ``cnn`` (MONAI ``UNet`` / ``ResNet``) and ``vit`` (MONAI ``ViT``).
BACKBONES: tuple[str, ...] = ("cnn", "vit")
#: Classifier inputs: a patch around the fracture centre, or the whole image downsampled.
APPROACHES: tuple[str, ...] = ("patch", "downsample")
#: Side in pixels of a ViT token's square patch.
VIT_PATCH = 16


@dataclass(frozen=True)
class NetworkSize:
    """Widths and depths of one network size preset.

    Attributes:
        unet_channels: Channels per level of the CNN localizer (MONAI ``UNet``).
        unet_res_units: Residual units per ``UNet`` level.
        resnet_planes: Channels of the four stages of the CNN classifier (MONAI ``ResNet``).
        resnet_layers: Blocks per ``ResNet`` stage.
        vit_hidden: Token width of the ViT.
        vit_layers: Transformer layers of the ViT.
        vit_heads: Attention heads of the ViT.

    """

    unet_channels: tuple[int, ...]
    unet_res_units: int
    resnet_planes: tuple[int, int, int, int]
    resnet_layers: tuple[int, int, int, int]
    vit_hidden: int
    vit_layers: int
    vit_heads: int


#: Size presets: ``tiny`` for tests, ``small`` for CPU work, ``base`` for a GPU.
SIZES: dict[str, NetworkSize] = {
    "tiny": NetworkSize((4, 8, 16, 32), 0, (8, 16, 32, 64), (1, 1, 1, 1), 32, 2, 2),
    "small": NetworkSize((8, 16, 32, 64, 128), 0, (16, 32, 64, 128), (1, 1, 1, 1), 96, 4, 3),
    "base": NetworkSize((16, 32, 64, 128, 256), 2, (64, 128, 256, 512), (2, 2, 2, 2), 384, 8, 6),
}


@dataclass(frozen=True)
class PatchGeometry:
    """How classifier patches are cut.

    Attributes:
        size_px: Side of the patch given to the classifier.
        size_mm: If set, the patch covers this many mm and is resampled to ``size_px``;
            otherwise it is cut at native resolution, pixel for pixel.

    """

    size_px: int = 224
    size_mm: float | None = None

    def region_xy_px(self, spacing_xy_mm: tuple[float, float] | None) -> tuple[float, float] | None:
        """Region to cut in original pixels, or ``None`` for a native-resolution patch."""
        if self.size_mm is None:
            return None
        if spacing_xy_mm is None:
            raise ValueError("a patch size in mm needs the pixel spacing")
        return (self.size_mm / spacing_xy_mm[0], self.size_mm / spacing_xy_mm[1])
