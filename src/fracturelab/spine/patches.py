"""Per-vertebra 3D patches in the vertebra's own anatomical frame, for learned classifiers.

Each vertebra C3-L6 of a label map is cut out of the CT on a fixed physical grid centred on its
body and aligned with the morphometry's frame (:mod:`fracturelab.spine.frame`): superior along
the spine, anterior towards the body, right = anterior x superior (the patient's right). The
patch therefore looks the same whatever the scan's storage orientation or voxel size; only the
interpolation differs. Channels (:data:`CHANNELS`):

0. ``ct``: the CT windowed to ``spec.window_hu`` (default -200 to 1200 HU, bone) and scaled
   to [0, 1]; points outside the scan read as air (0).
1. ``vertebra``: this vertebra's mask (1 inside, 0 outside), nearest neighbour.
2. ``neighbours``: the mask of every other vertebra label, nearest neighbour.

Array axes are ``(C, D, H, W)`` = (channel, superior, anterior, right), each spatial index
increasing in that direction: ``array[:, 0]`` is the most inferior slice, so a sagittal slice
shown with the head up is ``array[c, ::-1, :, w]`` (see :meth:`VertebraPatch.sagittal`).
See ``docs/design.md`` ("Conventions") for the LPS world coordinates used here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.imaging import Volume
from fracturelab.spine.labels import VertebraLabelMap, load_vertebra_labels
from fracturelab.spine.pipeline import analyze
from fracturelab.spine.report import SpineReport, VertebraResult
from fracturelab.typing import Float64Array, FloatArray, IntArray

__all__ = ["AXES", "CHANNELS", "PatchSpec", "VertebraPatch", "extract_patches"]

#: Names of the patch channels, in order.
CHANNELS: tuple[str, ...] = ("ct", "vertebra", "neighbours")

#: Anatomical direction of the spatial array axes ``(D, H, W)``, index increasing towards it.
AXES: tuple[str, ...] = ("superior", "anterior", "right")

#: Value read outside the scan, in HU (air).
_AIR_HU = -1000.0
#: Largest patch edge in mm and largest number of voxels along one edge.
_MAX_SIZE_MM = 512.0
_MAX_VOXELS = 512


@dataclass(frozen=True)
class PatchSpec:
    """How patches are sampled; checked at construction.

    Args:
        size_mm: Patch extent ``(right, anterior, superior)`` in mm, each in (0, 512].
        spacing_mm: Isotropic sampling step in mm, in (0, 10]; each edge holds
            ``round(size / spacing)`` samples (at least 2, at most 512).
        window_hu: CT window ``(low, high)`` in HU mapped to [0, 1] (low < high).
        ct_order: Spline order for the CT: 1 (trilinear, default: no overshoot, about 4x
            faster) or 3 (cubic B-spline). Masks always use nearest neighbour (order 0).

    Raises:
        InputError: One line naming the argument, its value and the allowed range.

    """

    size_mm: tuple[float, float, float] = (64.0, 64.0, 64.0)
    spacing_mm: float = 1.0
    window_hu: tuple[float, float] = (-200.0, 1200.0)
    ct_order: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "size_mm", _check_size(self.size_mm))
        spacing = _check_real("spacing_mm", self.spacing_mm, "a step in (0, 10] mm")
        if not 0 < spacing <= 10.0:
            raise InputError(
                f"PatchSpec spacing_mm={self.spacing_mm!r} is not valid; give a step in (0, 10] mm"
            )
        object.__setattr__(self, "spacing_mm", spacing)
        for name, extent in zip(("right", "anterior", "superior"), self.size_mm, strict=True):
            n = round(extent / spacing)
            if not 2 <= n <= _MAX_VOXELS:
                raise InputError(
                    f"PatchSpec size_mm/spacing_mm: {extent:g} mm / {spacing:g} mm gives {n} "
                    f"samples along {name}; choose sizes and spacing giving 2-{_MAX_VOXELS}"
                )
        object.__setattr__(self, "window_hu", _check_window(self.window_hu))
        if isinstance(self.ct_order, bool) or self.ct_order not in (1, 3):
            raise InputError(
                f"PatchSpec ct_order={self.ct_order!r} is not valid; allowed: 1 (linear), 3 (cubic)"
            )

    @property
    def shape(self) -> tuple[int, int, int]:
        """Spatial array shape ``(D, H, W)`` = (superior, anterior, right) samples."""
        right, anterior, superior = (round(s / self.spacing_mm) for s in self.size_mm)
        return superior, anterior, right

    def local_grid_mm(self) -> Float64Array:
        """Local ``(r, a, s)`` mm of every sample, shape ``(D, H, W, 3)``, centred on 0."""
        d, h, w = self.shape
        s = (np.arange(d) - (d - 1) / 2.0) * self.spacing_mm
        a = (np.arange(h) - (h - 1) / 2.0) * self.spacing_mm
        r = (np.arange(w) - (w - 1) / 2.0) * self.spacing_mm
        ss, aa, rr = np.meshgrid(s, a, r, indexing="ij")
        return np.stack([rr, aa, ss], axis=-1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``spec.json``)."""
        return {
            "size_mm": list(self.size_mm),
            "spacing_mm": self.spacing_mm,
            "window_hu": list(self.window_hu),
            "ct_order": self.ct_order,
            "shape": list(self.shape),
            "axes": list(AXES),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PatchSpec:
        """Rebuild a spec from :meth:`to_dict` output (extra keys are ignored)."""
        size = data.get("size_mm", (64.0, 64.0, 64.0))
        window = data.get("window_hu", (-200.0, 1200.0))
        return cls(
            size_mm=(float(size[0]), float(size[1]), float(size[2])),
            spacing_mm=float(data.get("spacing_mm", 1.0)),
            window_hu=(float(window[0]), float(window[1])),
            ct_order=int(data.get("ct_order", 1)),
        )


@dataclass
class VertebraPatch:
    """One vertebra's patch and what the morphometry said about it.

    Args:
        level: Level name, e.g. ``"L1"``.
        label: Its value in the label map.
        status: The morphometry's status (``graded``, ``incomplete``, ``failed``).
        array: The patch, float32, shape ``(C, D, H, W)`` (see :data:`CHANNELS`, :data:`AXES`),
            or ``None`` when the vertebra could not be framed (``reason`` says why).
        center_mm: LPS position of the patch centre (the body centre), shape ``(3,)``.
        axes: Unit LPS vectors of the spatial array axes ``D, H, W`` as rows (superior,
            anterior, right), shape ``(3, 3)``: sample ``(d, h, w)`` lies at
            ``center_mm + ((d, h, w) - (shape - 1) / 2) * spacing_mm @ axes``.
        reason: Why there is no patch, or why the morphometry did not grade it.
        height_loss_pct: The morphometry's height loss (%), when graded.
        genant_grade: The morphometry's Genant grade, when graded.
        morphology: The morphometry's morphology, when graded.
        ratios: The morphometry's height ratios (``Ha/Hp`` ...), when graded.

    """

    level: str
    label: int
    status: str
    array: FloatArray | None = None
    center_mm: Float64Array | None = None
    axes: Float64Array | None = None
    reason: str | None = None
    height_loss_pct: float | None = None
    genant_grade: int | None = None
    morphology: str | None = None
    ratios: dict[str, float] | None = field(default=None)

    def sagittal(self, channel: int = 0) -> FloatArray:
        """Mid-sagittal slice shown head up, anterior to the left; shape ``(D, H)``.

        Raises:
            InputError: If the vertebra has no patch or ``channel`` is out of range.

        """
        if self.array is None:
            raise InputError(f"vertebra {self.level}: has no patch ({self.reason})")
        if not 0 <= channel < self.array.shape[0]:
            last = self.array.shape[0] - 1
            raise InputError(
                f"channel {channel} is not valid; give 0-{last} ({', '.join(CHANNELS)})"
            )
        plane = self.array[channel, :, :, self.array.shape[3] // 2]
        return np.ascontiguousarray(plane[::-1, ::-1])


def extract_patches(
    ct: Volume,
    labels: Volume | VertebraLabelMap,
    spec: PatchSpec | None = None,
    *,
    convention: str = "auto",
    report: SpineReport | None = None,
) -> list[VertebraPatch]:
    """Cut one patch per vertebra out of a CT, in each vertebra's anatomical frame.

    The frame is the morphometry's (``body_center_mm``, ``superior_axis``,
    ``anterior_axis`` of :class:`~fracturelab.spine.report.VertebraResult`), from ``report``
    or from :func:`fracturelab.spine.analyze` run here. World points of the patch grid are
    mapped to each volume's indices through its affine (no axis order is assumed) and sampled
    with :func:`scipy.ndimage.map_coordinates`: the CT with ``spec.ct_order``, the masks with
    nearest neighbour.

    Args:
        ct: The CT in HU.
        labels: Its vertebra label map (a :class:`Volume` on the CT's points, any storage
            orientation, or a loaded :class:`VertebraLabelMap`).
        spec: Patch size, spacing, window and CT interpolation; default :class:`PatchSpec`.
        convention: Label numbering of ``labels`` when a :class:`Volume` (``auto``, ``verse``,
            ``totalseg_v2``, ``totalseg_v1``).
        report: The morphometry of this CT and label map, if already run.

    Returns:
        One patch per vertebra of the label map, cranio-caudal. Vertebrae without a frame
        (C1, C2, S1, failed or too small) have ``array=None`` and a ``reason``.

    Raises:
        InputError: For a label map that does not fit the CT, or a ``report`` naming labels
            that are not in the label map.

    """
    spec = spec or PatchSpec()
    label_map = (
        labels
        if isinstance(labels, VertebraLabelMap)
        else load_vertebra_labels(labels, ct, convention=convention)
    )
    if report is None:
        report = analyze(ct, label_map)
    missing = [v.level for v in report.vertebrae if v.label not in label_map.levels]
    if missing:
        raise InputError(
            f"report: vertebrae {', '.join(missing)} are not in the label map "
            f"(labels {sorted(label_map.levels)}); give the report of this CT and label map"
        )
    vertebra_labels = np.array(sorted(label_map.levels), dtype=np.int64)
    return [_patch(ct, label_map, v, spec, vertebra_labels) for v in report.vertebrae]


def _patch(
    ct: Volume,
    label_map: VertebraLabelMap,
    result: VertebraResult,
    spec: PatchSpec,
    vertebra_labels: IntArray,
) -> VertebraPatch:
    patch = VertebraPatch(
        level=result.level,
        label=int(result.label),
        status=result.status,
        reason=result.reason,
        height_loss_pct=result.height_loss_pct,
        genant_grade=result.genant_grade,
        morphology=result.morphology,
        ratios=result.ratios,
    )
    if (
        result.body_center_mm is None
        or result.superior_axis is None
        or result.anterior_axis is None
    ):
        patch.reason = f"no anatomical frame: {result.reason or 'the morphometry found none'}"
        return patch
    centre = np.asarray(result.body_center_mm, dtype=float)
    superior = _unit(np.asarray(result.superior_axis, dtype=float))
    anterior = _unit(np.asarray(result.anterior_axis, dtype=float))
    anterior = _unit(anterior - np.dot(anterior, superior) * superior)
    right = np.cross(anterior, superior)
    axes = np.stack([superior, anterior, right])  # rows: D, H, W
    hu = _sample(ct, centre, axes, spec, order=spec.ct_order, fill=_AIR_HU)
    low, high = spec.window_hu
    ct_channel = np.clip((hu - low) / (high - low), 0.0, 1.0)
    labels = _sample(label_map.volume, centre, axes, spec, order=0, fill=0.0).astype(np.int64)
    own = labels == result.label
    others = np.isin(labels, vertebra_labels) & ~own
    patch.array = np.stack([ct_channel, own, others]).astype(np.float32)
    patch.center_mm = centre
    patch.axes = axes
    return patch


def _sample(
    volume: Volume,
    centre: Float64Array,
    axes: Float64Array,
    spec: PatchSpec,
    *,
    order: int,
    fill: float,
) -> Float64Array:
    """Values of ``volume`` on the patch grid, shape ``(D, H, W)``; ``fill`` outside the scan.

    The grid is regular, so its voxel indices are the index of the centre plus whole steps
    along each patch axis; both come from :meth:`Volume.world_to_index` (the affine), which
    saves mapping every point separately.
    """
    from scipy import ndimage

    shape_dhw = np.array(spec.shape)
    ends = np.vstack([centre, centre + spec.spacing_mm * axes])
    mapped = volume.world_to_index(ends)
    steps = mapped[1:] - mapped[0]  # index change per sample along D, H, W, shape (3, 3)
    offsets = [(np.arange(n) - (n - 1) / 2.0) for n in shape_dhw]
    index = (
        mapped[0]
        + offsets[0][:, None, None, None] * steps[0]
        + offsets[1][None, :, None, None] * steps[1]
        + offsets[2][None, None, :, None] * steps[2]
    ).reshape(-1, 3)
    corners = np.array(np.meshgrid([0, 1], [0, 1], [0, 1], indexing="ij")).reshape(3, -1).T
    corner_index = mapped[0] + ((corners * (shape_dhw - 1)) - (shape_dhw - 1) / 2.0) @ steps
    grid = np.array(volume.shape)
    reach = order + 1
    low = np.clip(np.floor(corner_index.min(axis=0)).astype(np.int64) - reach, 0, grid)
    high = np.clip(np.ceil(corner_index.max(axis=0)).astype(np.int64) + reach + 1, 0, grid)
    out = np.full(index.shape[0], fill, dtype=float)
    if np.all(high - low >= 1):
        region = tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))
        dtype = np.float32 if order else volume.array.dtype
        crop = np.asarray(volume.array[region], dtype=dtype)
        inside = np.all((index > -0.5) & (index < grid - 0.5), axis=1)
        coordinates = (index[inside] - low).T
        out[inside] = ndimage.map_coordinates(crop, coordinates, order=order, mode="nearest")
    return out.reshape(tuple(shape_dhw))


def _unit(vector: Float64Array) -> Float64Array:
    return np.asarray(vector / np.linalg.norm(vector), dtype=float)


def _check_real(name: str, value: object, allowed: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
    ):
        raise InputError(f"PatchSpec {name}={value!r} is not valid; give {allowed}")
    return float(value)


def _check_size(value: Sequence[float]) -> tuple[float, float, float]:
    allowed = f"three sizes (right, anterior, superior) in (0, {_MAX_SIZE_MM:g}] mm"
    try:
        sizes = [_check_real("size_mm", v, allowed) for v in value]
    except TypeError:
        raise InputError(f"PatchSpec size_mm={value!r} is not valid; give {allowed}") from None
    if len(sizes) != 3 or not all(0 < s <= _MAX_SIZE_MM for s in sizes):
        raise InputError(f"PatchSpec size_mm={value!r} is not valid; give {allowed}")
    return sizes[0], sizes[1], sizes[2]


def _check_window(value: Sequence[float]) -> tuple[float, float]:
    allowed = "two HU values (low, high) with low < high, e.g. (-200, 1200)"
    try:
        window = [_check_real("window_hu", v, allowed) for v in value]
    except TypeError:
        raise InputError(f"PatchSpec window_hu={value!r} is not valid; give {allowed}") from None
    if len(window) != 2 or not window[0] < window[1]:
        raise InputError(f"PatchSpec window_hu={value!r} is not valid; give {allowed}")
    return window[0], window[1]
