"""Voxelising the synthetic spine: the LPS grid, vertebrae, discs and CT intensities.

Every shape is evaluated only inside its own bounding box in index space, so the cost grows
with the number of vertebrae, not with the grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fracturelab.errors import InputError
from fracturelab.synth._body import CORTEX_MM
from fracturelab.synth._fracture_signs import FractureSigns, sign_weights
from fracturelab.synth.vertebra import SyntheticVertebra
from fracturelab.typing import Float64Array

#: CT numbers in HU.
AIR_HU = -1000.0
SOFT_TISSUE_HU = 40.0
DISC_HU = 90.0
CANCELLOUS_HU = 220.0
CORTICAL_HU = 800.0
POSTERIOR_HU = 600.0

#: Elliptical torso: semi-axes (left-right, anterior-posterior) in mm and how far its centre
#: lies anterior of the mean body centre.
TORSO_SEMI_AXES_MM = (165.0, 125.0)
TORSO_ANTERIOR_SHIFT_MM = 35.0

#: Default field of view: at least this much either side of the spine laterally and AP, and
#: this much beyond the vertebrae at the top and bottom.
SIDE_MARGIN_MM = 120.0
END_MARGIN_MM = 20.0

#: Scanner point-spread function: Gaussian sigma in voxels.
BLUR_SIGMA_VOXELS = 0.5

#: Largest grid built, in voxels (about 11 bytes per voxel are needed while building).
MAX_VOXELS = 400_000_000


@dataclass(frozen=True)
class Grid:
    """An axis-aligned LPS grid; voxel ``[i, j, k]`` is centred at ``origin + [i, j, k] * spacing``.

    Attributes:
        origin_mm: LPS centre of voxel ``[0, 0, 0]``.
        spacing_mm: Voxel size along x (left), y (posterior), z (superior), mm.
        shape: Number of voxels along x, y, z.

    """

    origin_mm: tuple[float, float, float]
    spacing_mm: tuple[float, float, float]
    shape: tuple[int, int, int]

    @property
    def affine(self) -> Float64Array:
        """The 4 x 4 index-to-LPS affine."""
        matrix = np.diag([*self.spacing_mm, 1.0])
        matrix[:3, 3] = self.origin_mm
        return matrix

    def coordinates_mm(self, axis: int, start: int, stop: int) -> Float64Array:
        """LPS coordinate along ``axis`` of voxel centres ``start..stop-1`` (may lie outside)."""
        return self.origin_mm[axis] + np.arange(start, stop, dtype=float) * self.spacing_mm[axis]

    def index_box(self, low_mm: Float64Array, high_mm: Float64Array) -> tuple[tuple[int, int], ...]:
        """Index ranges ``(start, stop)`` per axis covering an LPS box, one voxel of padding."""
        origin = np.asarray(self.origin_mm)
        spacing = np.asarray(self.spacing_mm)
        start = np.floor((low_mm - origin) / spacing).astype(int) - 1
        stop = np.ceil((high_mm - origin) / spacing).astype(int) + 2
        return tuple((int(a), int(b)) for a, b in zip(start, stop, strict=True))


def torso_center_mm(vertebrae: Sequence[SyntheticVertebra]) -> tuple[float, float]:
    """LPS ``(x, y)`` of the torso's centre: at the spine laterally, anterior of it."""
    centers = np.array([v.center_mm for v in vertebrae])
    return float(centers[:, 0].mean()), float(centers[:, 1].mean()) - TORSO_ANTERIOR_SHIFT_MM


def make_grid(
    vertebrae: Sequence[SyntheticVertebra],
    spacing_mm: tuple[float, float, float],
    fov_mm: tuple[float, float, float] | None,
) -> Grid:
    """Lay out the LPS grid: around the torso and all vertebrae, or exactly ``fov_mm`` on the spine.

    Raises:
        InputError: If the grid would exceed :data:`MAX_VOXELS`.

    """
    spacing = np.asarray(spacing_mm, dtype=float)
    centers = np.array([v.center_mm for v in vertebrae])
    if fov_mm is not None:
        middle = 0.5 * (centers.min(axis=0) + centers.max(axis=0))
        shape = np.maximum(2, np.rint(np.asarray(fov_mm) / spacing)).astype(int)
        origin = middle - 0.5 * (shape - 1) * spacing
    else:
        bounds = [v.world_bounds_mm() for v in vertebrae]
        bone_low = np.min([low for low, _ in bounds], axis=0)
        bone_high = np.max([high for _, high in bounds], axis=0)
        torso_x, torso_y = torso_center_mm(vertebrae)
        semi_x, semi_y = TORSO_SEMI_AXES_MM
        low = np.minimum(centers.min(axis=0) - SIDE_MARGIN_MM, bone_low - END_MARGIN_MM)
        high = np.maximum(centers.max(axis=0) + SIDE_MARGIN_MM, bone_high + END_MARGIN_MM)
        low[:2] = np.minimum(low[:2], [torso_x - semi_x - 5, torso_y - semi_y - 5])
        high[:2] = np.maximum(high[:2], [torso_x + semi_x + 5, torso_y + semi_y + 5])
        low[2], high[2] = bone_low[2] - END_MARGIN_MM, bone_high[2] + END_MARGIN_MM
        shape = np.ceil((high - low) / spacing - 1e-9).astype(int) + 1
        origin = low
    voxels = math.prod(int(n) for n in shape)
    if voxels > MAX_VOXELS:
        size = " x ".join(str(int(n)) for n in shape)
        raise InputError(
            f"the phantom grid would have {size} = {voxels:,} voxels, more than "
            f"{MAX_VOXELS:,}; use a coarser spacing_mm, fewer levels or a smaller fov_mm"
        )
    return Grid(
        origin_mm=(float(origin[0]), float(origin[1]), float(origin[2])),
        spacing_mm=(float(spacing[0]), float(spacing[1]), float(spacing[2])),
        shape=(int(shape[0]), int(shape[1]), int(shape[2])),
    )


def background(grid: Grid, vertebrae: Sequence[SyntheticVertebra]) -> npt.NDArray[np.float32]:
    """Air outside and soft tissue inside the elliptical torso, float32 HU, the grid's shape."""
    torso_x, torso_y = torso_center_mm(vertebrae)
    semi_x, semi_y = TORSO_SEMI_AXES_MM
    x = (grid.coordinates_mm(0, 0, grid.shape[0]) - torso_x) / semi_x
    y = (grid.coordinates_mm(1, 0, grid.shape[1]) - torso_y) / semi_y
    inside = x[:, None] ** 2 + y[None, :] ** 2 <= 1.0
    plane = np.where(inside, SOFT_TISSUE_HU, AIR_HU).astype(np.float32)
    ct = np.empty(grid.shape, dtype=np.float32)
    ct[...] = plane[:, :, None]
    return ct


def paint_vertebra(
    vertebra: SyntheticVertebra,
    label: int,
    grid: Grid,
    labels: npt.NDArray[np.uint8],
    ct: npt.NDArray[np.float32],
    *,
    unlabelled_process: str | None = None,
    cancellous_hu: float = CANCELLOUS_HU,
    signs: FractureSigns | None = None,
) -> tuple[bool, int]:
    """Draw one vertebra into the label map and the CT, in its bounding box only.

    Voxels already labelled keep their label. ``unlabelled_process`` (one of
    :data:`~fracturelab.synth.vertebra.PROCESSES`) is drawn into the CT but left out of the
    label map (a segmentation that misses it). ``cancellous_hu`` is the core's CT number;
    ``signs`` (a sclerotic band, a cortex gap; see :mod:`fracturelab.synth._fracture_signs`)
    change the CT only, never the label map. Returns whether the whole vertebra lies inside
    the grid, and how many of its voxels were already taken by another vertebra.
    """
    box = grid.index_box(*vertebra.world_bounds_mm())
    r, a, s = vertebra.to_local(*(grid.coordinates_mm(axis, *box[axis]) for axis in range(3)))
    cortical, cancellous, posterior = vertebra.masks(r, a, s)
    whole = cortical | cancellous | posterior
    labelled = whole
    if unlabelled_process is not None:
        labelled = whole & ~vertebra.process_mask(unlabelled_process, r, a, s)
    body_share, core_share = _partial_volume(vertebra.body_depth_mm(r, a, s), grid.spacing_mm)
    local = (r, a, s) if signs is not None else None
    del r, a, s
    clipped = [(max(lo, 0), min(hi, n)) for (lo, hi), n in zip(box, grid.shape, strict=True)]
    if any(lo >= hi for lo, hi in clipped):
        return False, 0
    inner = tuple(slice(lo - b[0], hi - b[0]) for (lo, hi), b in zip(clipped, box, strict=True))
    target = tuple(slice(lo, hi) for lo, hi in clipped)
    total = int(np.count_nonzero(whole))
    inside = whole[inner]
    in_view = total > 0 and int(np.count_nonzero(inside)) == total
    here = labels[target]
    free = here == 0
    overlap = int(np.count_nonzero(inside & ~free))
    here[labelled[inner] & free] = label
    values = ct[target]
    body = body_share[inner]
    core = core_share[inner]
    blend = free & (body > 0.0)
    if local is None or signs is None:
        values[blend] = (
            values[blend] * (1.0 - body[blend])
            + CORTICAL_HU * (body[blend] - core[blend])
            + cancellous_hu * core[blend]
        )
    else:
        r, a, s = (coordinate[inner][blend] for coordinate in local)
        band, gap = sign_weights(vertebra, signs, r, a, s, grid.spacing_mm)
        core_hu = cancellous_hu + signs.band.extra_hu * band
        cortex_hu = CORTICAL_HU * (1.0 - gap) + core_hu * gap
        values[blend] = (
            values[blend] * (1.0 - body[blend])
            + cortex_hu * (body[blend] - core[blend])
            + core_hu * core[blend]
        )
    spur = cortical[inner] & (body < 0.5) & free
    values[spur] = CORTICAL_HU
    values[posterior[inner] & free] = POSTERIOR_HU
    return in_view, overlap


def _partial_volume(
    depth_mm: Float64Array, spacing_mm: tuple[float, float, float]
) -> tuple[Float64Array, Float64Array]:
    """Share of each voxel inside the body and inside its cancellous core (partial volume).

    A voxel whose centre lies ``d`` mm inside a locally flat surface holds the share
    ``0.5 + d / w`` of the body (clipped to 0..1), where ``w = sum_i spacing_i |n_i|`` is the
    voxel's extent along the surface normal ``n``: exact for a surface parallel to a face, close
    to exact otherwise. ``d / w`` is computed as ``depth / sum_i spacing_i |d depth / d x_i|``,
    which needs no unit normal. So the CT holds the sub-voxel position of every surface, as a
    scanner's CT does, while the label map marks voxels whose centre is inside.

    Args:
        depth_mm: Signed depth inside the body on the grid, shape ``(I, J, K)``, mm.
        spacing_mm: Voxel size along the three grid axes, mm.

    Returns:
        ``(body, core)`` shares in 0..1, each shape ``(I, J, K)``; ``core`` is the share deeper
        than :data:`~fracturelab.synth._body.CORTEX_MM` (the cancellous bone).

    """
    finite = np.where(np.isfinite(depth_mm), depth_mm, -1e3)
    if min(finite.shape) < 2:
        return (finite >= 0).astype(float), (finite >= CORTEX_MM).astype(float)
    gradients = np.gradient(finite, *spacing_mm)
    extent = sum(step * np.abs(g) for step, g in zip(spacing_mm, gradients, strict=True))
    extent = np.maximum(extent, 1e-6)
    body = np.clip(0.5 + finite / extent, 0.0, 1.0)
    core = np.clip(0.5 + (finite - CORTEX_MM) / extent, 0.0, 1.0)
    return body, core


def paint_disc(
    upper: SyntheticVertebra,
    lower: SyntheticVertebra,
    grid: Grid,
    labels: npt.NDArray[np.uint8],
    ct: npt.NDArray[np.float32],
) -> None:
    """Fill the space between two neighbouring bodies' endplates with disc tissue (label 0).

    The disc is the unlabelled part of the mean footprint ellipse lying below the upper body's
    inferior endplate surface and above the lower body's superior one, each moved into the
    body by its corner radius (so it also fills a collapsed endplate, a depression and the
    notches of rounded corners). Paint discs before the vertebrae: a vertebra's boundary
    voxels then blend its bone with the disc behind it (partial volume).
    """
    superior = upper.superior + lower.superior
    superior /= np.linalg.norm(superior)
    anterior = upper.anterior + lower.anterior
    anterior -= (anterior @ superior) * superior
    anterior /= np.linalg.norm(anterior)
    right = np.cross(anterior, superior)
    bottom = upper.center_mm - 0.5 * upper.height_mm * upper.superior
    top = lower.center_mm + 0.5 * lower.height_mm * lower.superior
    center = 0.5 * (bottom + top)
    width = 0.5 * (upper.semi_width_mm + lower.semi_width_mm)
    depth = 0.5 * (upper.semi_depth_mm + lower.semi_depth_mm)
    half = 0.5 * float(np.linalg.norm(upper.center_mm - lower.center_mm))
    corners = np.array(
        [[x, y, z] for x in (-width, width) for y in (-depth, depth) for z in (-half, half)]
    )
    world = center + corners @ np.stack([right, anterior, superior])
    box = grid.index_box(world.min(axis=0), world.max(axis=0))
    clipped = [(max(lo, 0), min(hi, n)) for (lo, hi), n in zip(box, grid.shape, strict=True)]
    if any(lo >= hi for lo, hi in clipped):
        return
    x, y, z = (grid.coordinates_mm(axis, *clipped[axis]) for axis in range(3))
    dx = (x - center[0])[:, None, None]
    dy = (y - center[1])[None, :, None]
    dz = (z - center[2])[None, None, :]
    r_mean = right[0] * dx + right[1] * dy + right[2] * dz
    a_mean = anterior[0] * dx + anterior[1] * dy + anterior[2] * dz
    disc = (r_mean / width) ** 2 + (a_mean / depth) ** 2 <= 1.0
    del r_mean, a_mean
    for vertebra, facing in ((upper, "inferior"), (lower, "superior")):
        r, a, s = vertebra.to_local(x, y, z)
        top, bottom = vertebra.endplates_mm(r, a)
        rim = vertebra.shape.corner_radius_mm
        disc &= (s < bottom + rim) if facing == "inferior" else (s > top - rim)
    target = tuple(slice(lo, hi) for lo, hi in clipped)
    values = ct[target]
    values[disc & (labels[target] == 0)] = DISC_HU


def finish_ct(ct: npt.NDArray[np.float32], *, noise_hu: float, seed: int) -> npt.NDArray[np.int16]:
    """Blur with the scanner's point-spread function, add Gaussian noise, round to int16 HU.

    The input array is consumed (its memory is reused or released).
    """
    from scipy.ndimage import gaussian_filter

    blurred = np.asarray(
        gaussian_filter(ct, sigma=BLUR_SIGMA_VOXELS, mode="nearest", output=np.float32),
        dtype=np.float32,
    )
    del ct
    if noise_hu > 0:
        rng = np.random.default_rng(seed)
        rows = max(1, (1 << 22) // max(1, blurred.shape[1] * blurred.shape[2]))
        for start in range(0, blurred.shape[0], rows):
            chunk = blurred[start : start + rows]
            noise = rng.standard_normal(chunk.shape, dtype=np.float32)
            noise *= np.float32(noise_hu)
            chunk += noise
    np.rint(blurred, out=blurred)
    np.clip(blurred, -32768, 32767, out=blurred)
    return blurred.astype(np.int16)
