"""Radiographs prepared once for training: network inputs cached in memory, and datasets.

Reading a 3000 x 2500 radiograph takes longer than a training step, so each image is read
once and kept as (a) its letterboxed localizer input, (b) its letterboxed 224 x 224 baseline
input, (c) a native-resolution window around the true centre, large enough for every
jittered training patch, and (d) for a two-stage localizer, the refinement window at the
refiner's resolution around the true centre, large enough for every simulated first-stage
error; patches or windows at predicted centres outside them re-read the file.

:data:`PREPARED_FORMAT` names what a :class:`PreparedImage` holds; it is part of the key of
the disk cache of prepared images, and changes whenever their meaning does.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Dataset

from fracturelab.femur.geometry import Letterbox, crop_patch
from fracturelab.femur.manifest import ManifestRow
from fracturelab.femur.presets import ASSUMED_SPACING_MM, PatchGeometry, RefineGeometry
from fracturelab.femur.refine import WindowFrame, cut_window, mm_per_window_px, sub_window
from fracturelab.imaging.radiograph import Radiograph
from fracturelab.typing import FloatArray

__all__ = [
    "PREPARED_FORMAT",
    "BaselineDataset",
    "LocalizerDataset",
    "PatchDataset",
    "PatchGeometry",
    "PreparedImage",
    "RefineDataset",
    "cut_patch",
    "prepare_image",
    "standardise",
]

#: Version of what :func:`prepare_image` returns (bump when PreparedImage or prepare_image
#: change meaning): part of the key of the disk cache of prepared images.
PREPARED_FORMAT = "femur-prepared-2"


def standardise(image: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance per image: the network input normalisation everywhere."""
    mean = image.mean(dim=(-2, -1), keepdim=True)
    std = image.std(dim=(-2, -1), keepdim=True)
    return (image - mean) / (std + 1e-6)


def cut_patch(
    geometry: PatchGeometry,
    image: FloatArray,
    center_xy_px: tuple[float, float],
    spacing_xy_mm: tuple[float, float] | None,
    origin_xy_px: tuple[int, int] = (0, 0),
) -> FloatArray:
    """Cut the classifier patch around ``center_xy_px`` from ``image`` (or a window of it).

    Args:
        geometry: How the patch is cut (native pixels, or a size in mm resampled).
        image: ``(rows, columns)`` image, or a window of it whose top-left pixel in the
            original is ``origin_xy_px``.
        center_xy_px: Patch centre ``(x, y)`` in original pixels.
        spacing_xy_mm: Pixel spacing; needed when ``geometry.size_mm`` is set.
        origin_xy_px: Top-left pixel of ``image`` in the original image.

    Returns:
        Shape ``(geometry.size_px, geometry.size_px)``.

    """
    return crop_patch(
        image,
        center_xy_px,
        geometry.size_px,
        region_xy_px=geometry.region_xy_px(spacing_xy_mm),
        origin_xy_px=origin_xy_px,
    )


@dataclass
class PreparedImage:
    """One radiograph's cached network inputs.

    Attributes:
        row: Its manifest row.
        shape: ``(rows, columns)`` of the original image.
        spacing_xy_mm: Pixel spacing, or ``None``.
        localizer_input: ``(S, S)`` float16 letterboxed image.
        localizer_box: The letterbox mapping of ``localizer_input``.
        baseline_input: ``(224, 224)`` float16 letterboxed image.
        window: float16 native-resolution window around the true centre.
        window_origin_xy: Top-left pixel of ``window`` in the original image.
        allow_modalities: DICOM Modality codes accepted besides CR, DX and DR when the file
            is read again (``--allow-modality``).
        refine_cache: float16 window at the refiner's resolution around the true centre,
            covering the refinement window plus the largest training offset on every side;
            ``None`` without a two-stage localizer.
        refine_frame: Where ``refine_cache`` lies in the original image.

    """

    row: ManifestRow
    shape: tuple[int, int]
    spacing_xy_mm: tuple[float, float] | None
    localizer_input: npt.NDArray[np.float16]
    localizer_box: Letterbox
    baseline_input: npt.NDArray[np.float16]
    window: npt.NDArray[np.float16]
    window_origin_xy: tuple[int, int]
    allow_modalities: tuple[str, ...] = ()
    refine_cache: npt.NDArray[np.float16] | None = None
    refine_frame: WindowFrame | None = None

    @property
    def label(self) -> int:
        """1 for AFF, 0 for NFF."""
        return int(self.row.is_aff)

    @property
    def center_xy_px(self) -> tuple[float, float]:
        """True centre in original pixels."""
        assert self.row.center_xy_px is not None
        return self.row.center_xy_px

    def patch(self, geometry: PatchGeometry, center_xy_px: tuple[float, float]) -> FloatArray:
        """The classifier patch around ``center_xy_px``; re-reads the file if off the window."""
        region = geometry.region_xy_px(self.spacing_xy_mm) or (geometry.size_px,) * 2
        half_x, half_y = math.ceil(region[0] / 2) + 1, math.ceil(region[1] / 2) + 1
        x0, y0 = self.window_origin_xy
        rows, columns = self.window.shape
        inside = (
            center_xy_px[0] - half_x >= x0
            and center_xy_px[1] - half_y >= y0
            and center_xy_px[0] + half_x <= x0 + columns
            and center_xy_px[1] + half_y <= y0 + rows
        )
        if inside:
            window = self.window.astype(np.float32)
            return cut_patch(geometry, window, center_xy_px, self.spacing_xy_mm, (x0, y0))
        from fracturelab.imaging.radiograph_io import read_radiograph

        full = read_radiograph(
            self.row.image, _manifest_spacing(self.row), allow_modalities=self.allow_modalities
        )
        return cut_patch(geometry, full.array, center_xy_px, self.spacing_xy_mm)

    def refine_window(
        self, geometry: RefineGeometry, center_xy_px: tuple[float, float]
    ) -> tuple[FloatArray, WindowFrame]:
        """The refiner's window around ``center_xy_px``; re-reads the file if off the cache."""
        if self.refine_cache is not None and self.refine_frame is not None:
            cache = self.refine_cache.astype(np.float32)
            window, frame, inside = sub_window(
                cache, self.refine_frame, center_xy_px, geometry.input_px
            )
            if inside:
                return window, frame
        from fracturelab.imaging.radiograph_io import read_radiograph

        full = read_radiograph(
            self.row.image, _manifest_spacing(self.row), allow_modalities=self.allow_modalities
        )
        return cut_window(full.array, center_xy_px, self.spacing_xy_mm, geometry)

    def localizer_sigma_px(self, sigma_mm: float) -> float:
        """A heatmap width in mm as pixels of the letterboxed input (at least 1)."""
        spacing = ASSUMED_SPACING_MM if self.spacing_xy_mm is None else self.spacing_xy_mm[0]
        return max(1.0, sigma_mm / spacing * self.localizer_box.scale_xy[0])


def _manifest_spacing(row: ManifestRow) -> tuple[float, float] | None:
    spacing = row.pixel_spacing_mm
    return None if spacing is None else (spacing, spacing)


def prepare_image(
    row: ManifestRow,
    localizer_size: int,
    geometry: PatchGeometry,
    baseline_size: int = 224,
    jitter_px: float = 0.0,
    radiograph: Radiograph | None = None,
    allow_modalities: Collection[str] = (),
    refine: RefineGeometry | None = None,
) -> PreparedImage:
    """Read one radiograph and cache its network inputs.

    Args:
        row: Manifest row with a centre.
        localizer_size: Side of the localizer's input square.
        geometry: How patches are cut (the window is sized for it).
        baseline_size: Side of the downsampled whole-image input.
        jitter_px: Largest centre jitter used in training (the window covers it).
        radiograph: Already-read image, to skip reading the file.
        allow_modalities: DICOM Modality codes accepted besides CR, DX and DR
            (``--allow-modality``; see :func:`~fracturelab.imaging.read_radiograph`).
        refine: The second localisation stage's geometry, to cache its training windows
            (``None``: a single-stage localizer).

    """
    from fracturelab.imaging.radiograph_io import read_radiograph

    allowed = tuple(sorted(allow_modalities))
    image = radiograph or read_radiograph(
        row.image, _manifest_spacing(row), allow_modalities=allowed
    )
    pixels = torch.from_numpy(image.array)
    localizer_box = Letterbox.fit(image.shape, localizer_size)
    baseline_box = Letterbox.fit(image.shape, baseline_size)
    region = geometry.region_xy_px(image.spacing_xy_mm) or (geometry.size_px,) * 2
    half = math.ceil(max(region) / 2 + jitter_px * max(region) / geometry.size_px) + 2
    center = row.center_xy_px or (image.width_px / 2, image.height_px / 2)
    x0 = max(0, math.floor(center[0]) - half)
    y0 = max(0, math.floor(center[1]) - half)
    x1 = min(image.width_px, math.floor(center[0]) + half + 1)
    y1 = min(image.height_px, math.floor(center[1]) + half + 1)
    cache, frame = None, None
    if refine is not None:
        margin_mm = refine.max_offset_mm + 2 * refine.window_mm / refine.input_px  # rounding
        window, frame = cut_window(
            image.array, center, image.spacing_xy_mm, refine, extra_mm=margin_mm
        )
        cache = window.astype(np.float16)
    return PreparedImage(
        row=row,
        shape=image.shape,
        spacing_xy_mm=image.spacing_xy_mm,
        localizer_input=localizer_box.apply(pixels).numpy().astype(np.float16),
        localizer_box=localizer_box,
        baseline_input=baseline_box.apply(pixels).numpy().astype(np.float16),
        window=image.array[y0:y1, x0:x1].astype(np.float16),
        window_origin_xy=(x0, y0),
        allow_modalities=allowed,
        refine_cache=cache,
        refine_frame=frame,
    )


def _intensity(image: torch.Tensor) -> torch.Tensor:
    """Random gamma (0.7-1.4) and contrast (0.8-1.2): exposure differences between images."""
    gamma = float(torch.empty(1).uniform_(math.log(0.7), math.log(1.4)).exp())
    contrast = float(torch.empty(1).uniform_(0.8, 1.2))
    return (image.clamp_min(0) ** gamma) * contrast


def _flip() -> bool:
    return bool(torch.rand(1) < 0.5)


class _PreparedDataset(Dataset[dict[str, torch.Tensor]]):
    """Items built from a list of prepared images, optionally augmented."""

    def __init__(self, images: list[PreparedImage], augment: bool = False) -> None:
        self.images = images
        self.augment = augment

    def __len__(self) -> int:
        return len(self.images)


class LocalizerDataset(_PreparedDataset):
    """Letterboxed images with their true centre in input pixels.

    Items: ``image`` ``(1, S, S)`` standardised, ``center`` ``(2,)`` as ``(x, y)``,
    ``sigma`` () the heatmap width ``sigma_mm`` in input pixels of that image.
    Augmentation: left-right flips (left and right femurs) and exposure.
    """

    def __init__(
        self, images: list[PreparedImage], augment: bool = False, sigma_mm: float = 4.0
    ) -> None:
        super().__init__(images, augment)
        self.sigma_mm = sigma_mm

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = self.images[index]
        image = torch.from_numpy(item.localizer_input.astype(np.float32))
        center = torch.from_numpy(item.localizer_box.to_input(item.center_xy_px))
        if self.augment:
            image = _intensity(image)
            if _flip():
                image = image.flip(-1)
                center = torch.stack([image.shape[-1] - 1 - center[0], center[1]])
        sigma = torch.tensor(item.localizer_sigma_px(self.sigma_mm))
        return {"image": standardise(image)[None], "center": center, "sigma": sigma}


class RefineDataset(_PreparedDataset):
    """Refinement windows around the true centre moved by a simulated first-stage error.

    Each axis of the error is normal with standard deviation ``geometry.offset_mm``,
    clipped to ``geometry.max_offset_mm``. Items: ``image`` ``(1, R, R)`` standardised,
    ``center`` ``(2,)`` the true centre in window pixels, ``sigma`` () the target width
    ``geometry.sigma_mm`` in window pixels. Augmentation: left-right flips and exposure.
    """

    def __init__(
        self, images: list[PreparedImage], geometry: RefineGeometry, augment: bool = True
    ) -> None:
        super().__init__(images, augment)
        self.geometry = geometry

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = self.images[index]
        limit = self.geometry.max_offset_mm
        offset_mm = (torch.randn(2) * self.geometry.offset_mm).clamp(-limit, limit)
        spacing = ASSUMED_SPACING_MM if item.spacing_xy_mm is None else item.spacing_xy_mm[0]
        truth = item.center_xy_px
        start = (
            truth[0] + float(offset_mm[0]) / spacing,
            truth[1] + float(offset_mm[1]) / spacing,
        )
        window, frame = item.refine_window(self.geometry, start)
        image = torch.from_numpy(window)
        center = torch.from_numpy(frame.to_window(truth))
        if self.augment:
            image = _intensity(image)
            if _flip():
                image = image.flip(-1)
                center = torch.stack([image.shape[-1] - 1 - center[0], center[1]])
        sigma = torch.tensor(self.geometry.sigma_mm / mm_per_window_px(frame, item.spacing_xy_mm))
        return {"image": standardise(image)[None], "center": center, "sigma": sigma}


class PatchDataset(_PreparedDataset):
    """Native-resolution patches around a centre, with the AFF label.

    Items: ``image`` ``(1, P, P)`` standardised, ``label`` () float (1 = AFF).

    Args:
        images: Prepared images.
        geometry: How patches are cut.
        centers_xy_px: Centre per image (e.g. predicted), or ``None`` for the true centres.
        jitter_px: Uniform random shift of the centre, up to this many pixels (training).
        augment: Flips and exposure changes.

    """

    def __init__(
        self,
        images: list[PreparedImage],
        geometry: PatchGeometry,
        centers_xy_px: FloatArray | None = None,
        jitter_px: float = 0.0,
        augment: bool = False,
    ) -> None:
        super().__init__(images, augment)
        self.geometry = geometry
        self.centers = centers_xy_px
        self.jitter_px = jitter_px
        self._cache: dict[int, FloatArray] = {}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = self.images[index]
        if self.centers is None:
            center = item.center_xy_px
        else:
            center = (float(self.centers[index][0]), float(self.centers[index][1]))
        if self.jitter_px > 0:
            shift = (torch.rand(2) * 2 - 1) * self.jitter_px
            center = (center[0] + float(shift[0]), center[1] + float(shift[1]))
            patch = item.patch(self.geometry, center)
        else:
            if index not in self._cache:  # fixed centres: cut once
                self._cache[index] = item.patch(self.geometry, center)
            patch = self._cache[index]
        image = torch.from_numpy(patch)
        if self.augment:
            image = _intensity(image)
            if _flip():
                image = image.flip(-1)
        return {"image": standardise(image)[None], "label": torch.tensor(float(item.label))}


class BaselineDataset(_PreparedDataset):
    """The whole radiograph padded to a square and downsampled (the baseline's input).

    Items: ``image`` ``(1, 224, 224)`` standardised, ``label`` () float (1 = AFF).
    """

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = self.images[index]
        image = torch.from_numpy(item.baseline_input.astype(np.float32))
        if self.augment:
            image = _intensity(image)
            if _flip():
                image = image.flip(-1)
        return {"image": standardise(image)[None], "label": torch.tensor(float(item.label))}
