"""The choices a femur experiment is configured with, torch-free.

Backbone names, network size presets, the two classifier approaches and how classifier
patches are cut. :mod:`fracturelab.femur.config` validates against these without importing
PyTorch or MONAI; :mod:`fracturelab.femur.networks` builds the networks from them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "APPROACHES",
    "ASSUMED_SPACING_MM",
    "BACKBONES",
    "LOCALIZERS",
    "SIZES",
    "VIT_PATCH",
    "NetworkSize",
    "PatchGeometry",
    "RefineGeometry",
]

#: Backbones: ``cnn`` (MONAI ``UNet`` / ``ResNet``) and ``vit`` (MONAI ``ViT``).
BACKBONES: tuple[str, ...] = ("cnn", "vit")
#: Classifier inputs: a patch around the fracture centre, or the whole image downsampled.
APPROACHES: tuple[str, ...] = ("patch", "downsample")
#: Side in pixels of a ViT token's square patch.
VIT_PATCH = 16
#: Localizers: one stage on the reduced image, or that stage refined near native resolution.
LOCALIZERS: tuple[str, ...] = ("single", "two-stage")
#: Pixel spacing assumed where an image does not state one (typical of CR and DX detectors):
#: only to size heatmap targets and the refinement window, never for reported millimetres.
ASSUMED_SPACING_MM = 0.15


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
        vit_mlp: Width of the ViT's MLP blocks (default: twice ``vit_hidden``).
        vit_qkv_bias: Whether the ViT's attention projections have a bias (as timm's do).

    """

    unet_channels: tuple[int, ...]
    unet_res_units: int
    resnet_planes: tuple[int, int, int, int]
    resnet_layers: tuple[int, int, int, int]
    vit_hidden: int
    vit_layers: int
    vit_heads: int
    vit_mlp: int = 0
    vit_qkv_bias: bool = False

    @property
    def vit_mlp_dim(self) -> int:
        """Width of the ViT's MLP blocks."""
        return self.vit_mlp or 2 * self.vit_hidden


#: Size presets: ``tiny`` for tests, ``small`` for CPU work, ``base`` for a GPU. ``base`` has
#: the layouts of the standard ImageNet networks, so their weights load (``--pretrained``):
#: the CNN classifier is a ResNet-18 (torchvision ``resnet18``) and the ViT a ViT-S/16 (timm
#: ``vit_small_patch16_224``: 384 wide, 12 layers, 6 heads, MLP 1536, attention bias).
SIZES: dict[str, NetworkSize] = {
    "tiny": NetworkSize((4, 8, 16, 32), 0, (8, 16, 32, 64), (1, 1, 1, 1), 32, 2, 2),
    "small": NetworkSize((8, 16, 32, 64, 128), 0, (16, 32, 64, 128), (1, 1, 1, 1), 96, 4, 3),
    "base": NetworkSize(
        (16, 32, 64, 128, 256),
        2,
        (64, 128, 256, 512),
        (2, 2, 2, 2),
        384,
        12,
        6,
        vit_mlp=1536,
        vit_qkv_bias=True,
    ),
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


@dataclass(frozen=True)
class RefineGeometry:
    """The second localisation stage: a window near native resolution around the estimate.

    The window covers ``window_mm`` x ``window_mm`` around the first stage's estimate and is
    resampled to ``input_px`` x ``input_px`` (32 mm at 128 px: 0.25 mm per input pixel, near
    the 0.1-0.2 mm of CR/DX detectors). Training windows are centred on the true centre moved
    by a random first-stage error: each axis normal with standard deviation ``offset_mm``,
    clipped to ``max_offset_mm`` (a fixed, documented distribution; the report shows how
    many first-stage errors fall outside it).

    Attributes:
        input_px: Side of the refiner's input square.
        window_mm: Side of the window in mm.
        offset_mm: Standard deviation per axis of the simulated first-stage error, mm.
        max_offset_mm: Largest simulated error per axis, mm (< ``window_mm / 2``).
        sigma_mm: Standard deviation of the heatmap target, mm.

    """

    input_px: int = 128
    window_mm: float = 32.0
    offset_mm: float = 4.0
    max_offset_mm: float = 10.0
    sigma_mm: float = 1.0

    def window_px(self, spacing_xy_mm: tuple[float, float] | None) -> float:
        """Side of the window in original pixels (spacing assumed where unknown)."""
        spacing = ASSUMED_SPACING_MM if spacing_xy_mm is None else spacing_xy_mm[0]
        return self.window_mm / spacing

    def problems(self) -> list[str]:
        """What is wrong with these settings (empty when valid)."""
        found = []
        if self.input_px < 32 or self.input_px % 16:
            found.append(f"refine input {self.input_px!r} px: use a multiple of 16, >= 32")
        if not self.window_mm > 0:
            found.append(f"refine window {self.window_mm!r} mm: use > 0")
        if not 0 <= self.max_offset_mm < self.window_mm / 2:
            found.append(
                f"refine largest offset {self.max_offset_mm!r} mm: use >= 0 and below half "
                f"the window ({self.window_mm / 2:g} mm)"
            )
        if not self.offset_mm >= 0:
            found.append(f"refine offset {self.offset_mm!r} mm: use >= 0")
        if not self.sigma_mm > 0:
            found.append(f"refine heatmap width {self.sigma_mm!r} mm: use > 0")
        return found
