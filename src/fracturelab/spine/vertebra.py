"""One vertebra cut out of a label map: its voxels in world space and a sampler for its mask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fracturelab.imaging import Volume

__all__ = ["VertebraSample"]

_PAD_VOXELS = 2
_CT_MARGIN_MM = 8.0


@dataclass
class VertebraSample:
    """The voxels of one vertebra label, in world coordinates, plus its interpolated mask.

    Args:
        label: Label value in the label map.
        level: Level name, e.g. ``"L1"``.
        points_mm: LPS centres of the vertebra's voxels, shape ``(N, 3)``.
        on_edge: Whether each voxel lies on the outer face of the scan, shape ``(N,)``.
        mask: The vertebra's binary mask cropped to its bounding box and padded with zeros,
            float32, shape ``(I', J', K')`` in the label map's index order.
        crop_start: Index of ``mask[0, 0, 0]`` in the full label map, shape ``(3,)``.
        grid: The full label map's geometry (its array is not used here).
        voxel_volume_mm3: Volume of one voxel in mm^3.
        touches_edge: Whether any voxel lies on the outer face of the scan (cut by the field
            of view somewhere, posterior elements included).
        ct: The CT (HU) around the vertebra's box (a few millimetres wider than ``mask``, so
            that the disc beyond each endplate is in it), float32, or ``None`` when no CT on
            the label map's grid was given.
        ct_start: Index of ``ct[0, 0, 0]`` in the full CT, shape ``(3,)``.

    """

    label: int
    level: str
    points_mm: npt.NDArray[np.float64]
    on_edge: npt.NDArray[np.bool_]
    mask: npt.NDArray[np.float32]
    crop_start: npt.NDArray[np.int64]
    grid: Volume
    voxel_volume_mm3: float
    touches_edge: bool = False
    ct: npt.NDArray[np.float32] | None = None
    ct_start: npt.NDArray[np.int64] | None = None

    @classmethod
    def from_label_map(
        cls,
        volume: Volume,
        label: int,
        level: str,
        box: tuple[slice, slice, slice],
        ct: Volume | None = None,
    ) -> VertebraSample:
        """Cut one label out of a label map using its bounding box.

        Args:
            volume: The label map.
            label: Label value of the vertebra.
            level: Its level name.
            box: Its bounding box in ``volume``.
            ct: The CT on the label map's grid (same shape), cropped alongside the mask so
                that endplates can be refined from the bone edge; ``None`` for mask only.

        """
        inside = np.asarray(volume.array[box]) == label
        start = np.array([s.start for s in box], dtype=np.int64)
        indices = np.argwhere(inside) + start
        points = volume.index_to_world(indices)
        on_edge = np.any((indices == 0) | (indices == np.array(volume.shape) - 1), axis=1)
        padded = np.pad(inside.astype(np.float32), _PAD_VOXELS)
        ct_crop, ct_start = None, None
        if ct is not None and tuple(ct.shape) == tuple(volume.shape):
            ct_crop, ct_start = _ct_crop(ct, box)
        return cls(
            label=label,
            level=level,
            points_mm=points,
            on_edge=on_edge,
            mask=padded,
            crop_start=start - _PAD_VOXELS,
            grid=volume,
            voxel_volume_mm3=volume.voxel_volume_mm3,
            touches_edge=bool(on_edge.any()),
            ct=ct_crop,
            ct_start=ct_start,
        )

    @property
    def n_voxels(self) -> int:
        """Number of voxels of the vertebra."""
        return int(self.points_mm.shape[0])

    @property
    def volume_mm3(self) -> float:
        """Volume of the whole vertebra (posterior elements included) in mm^3."""
        return self.n_voxels * self.voxel_volume_mm3

    @property
    def centroid_mm(self) -> npt.NDArray[np.float64]:
        """Centroid of the vertebra's voxels in LPS mm, shape ``(3,)``."""
        return np.asarray(self.points_mm.mean(axis=0), dtype=float)

    def sample(self, points_mm: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Trilinearly interpolated mask (0 outside, 1 inside) at world points.

        Args:
            points_mm: LPS points, shape ``(..., 3)``.

        Returns:
            Values in [0, 1], shape ``(...)``.

        """
        from scipy import ndimage

        flat = points_mm.reshape(-1, 3)
        index = self.grid.world_to_index(flat) - self.crop_start
        values = ndimage.map_coordinates(self.mask, index.T, order=1, mode="nearest")
        return np.asarray(values, dtype=float).reshape(points_mm.shape[:-1])

    def sample_ct(self, points_mm: npt.NDArray[np.float64]) -> npt.NDArray[np.float64] | None:
        """CT (HU) at world points by cubic B-spline interpolation, or ``None`` without a CT.

        Args:
            points_mm: LPS points, shape ``(..., 3)``.

        Returns:
            HU values, shape ``(...)``; points beyond the padded box read the nearest voxel.
            A cubic spline follows a blurred edge between voxel centres more closely than
            linear interpolation, whose error depends on where the edge lies in its voxel
            (on tilted endplates that left a staircase of about 0.3 mm in the edge).

        """
        if self.ct is None or self.ct_start is None:
            return None
        from scipy import ndimage

        flat = points_mm.reshape(-1, 3)
        index = self.grid.world_to_index(flat) - self.ct_start
        values = ndimage.map_coordinates(self.ct, index.T, order=3, mode="nearest")
        return np.asarray(values, dtype=float).reshape(points_mm.shape[:-1])

    def voxel_length_mm(self, direction: npt.NDArray[np.float64]) -> float:
        """Length (mm) of one voxel step along a unit world direction, shape ``(3,)``."""
        origin = self.grid.world_to_index(np.zeros((1, 3)))
        step = self.grid.world_to_index(np.asarray(direction, dtype=float)[None, :]) - origin
        return float(1.0 / max(float(np.linalg.norm(step)), 1e-9))

    def outside_field_of_view(self, points_mm: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Whether world points lie beyond the outermost voxel centres of the scan.

        Args:
            points_mm: LPS points, shape ``(..., 3)``.

        Returns:
            Boolean array, shape ``(...)``.

        """
        index = self.grid.world_to_index(points_mm.reshape(-1, 3))
        upper = np.array(self.grid.shape) - 1
        outside = np.any((index < 0) | (index > upper), axis=1)
        return np.asarray(outside).reshape(points_mm.shape[:-1])


def _ct_crop(
    ct: Volume, box: tuple[slice, slice, slice]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """The CT over ``box`` widened by about 8 mm (within the scan) and its start index."""
    margin = np.ceil(_CT_MARGIN_MM / np.asarray(ct.spacing_mm, dtype=float)).astype(np.int64)
    shape = np.array(ct.shape, dtype=np.int64)
    start = np.maximum(np.array([s.start for s in box], dtype=np.int64) - margin - 1, 0)
    stop = np.minimum(np.array([s.stop for s in box], dtype=np.int64) + margin + 1, shape)
    region = tuple(slice(int(a), int(b)) for a, b in zip(start, stop, strict=True))
    return np.asarray(ct.array[region], dtype=np.float32), start
