"""The `Volume`: voxels plus the geometry that places them in the patient."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from fracturelab.errors import InputError

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = ["Volume"]

_GRID_TOLERANCE_MM = 1e-3


class Volume:
    """A 3D image: a voxel array and an affine that maps voxel indices to LPS millimetres.

    The array is stored in ITK index order, so ``array[i, j, k]`` is the voxel whose centre lies
    at ``affine @ [i, j, k, 1]``. Nothing in fracturelab assumes which anatomical direction an
    array axis points to: spacing, orientation and world positions are always derived from the
    affine, which follows the DICOM/ITK convention (x towards the patient's left, y posterior,
    z superior).

    Args:
        array: Voxel values, shape ``(I, J, K)``.
        affine: Shape ``(4, 4)``; maps homogeneous voxel indices ``[i, j, k, 1]`` to LPS mm. Its
            upper-left 3 x 3 block must be an orthogonal direction matrix times positive spacings.
        path: Where the volume was read from, used in messages.

    Raises:
        InputError: If the array is not 3D or the affine is not a valid 4 x 4 geometry.

    """

    def __init__(
        self,
        array: npt.ArrayLike,
        affine: npt.ArrayLike,
        *,
        path: str | Path | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        data = np.asarray(array)
        if data.ndim != 3:
            raise InputError(f"{self._name()}: array must be 3D, got shape {data.shape}")
        matrix = np.asarray(affine, dtype=float)
        if matrix.shape != (4, 4):
            raise InputError(f"{self._name()}: affine must have shape (4, 4), got {matrix.shape}")
        spacing = np.linalg.norm(matrix[:3, :3], axis=0)
        if np.any(spacing <= 0) or not np.all(np.isfinite(matrix)):
            raise InputError(f"{self._name()}: affine {matrix.tolist()} has a zero or bad spacing")
        direction = matrix[:3, :3] / spacing
        if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
            raise InputError(
                f"{self._name()}: affine has non-orthogonal axes (sheared geometry); "
                "resample it to an orthogonal grid first"
            )
        self.array = data
        self.affine = matrix

    # ------------------------------------------------------------------ geometry
    @property
    def shape(self) -> tuple[int, int, int]:
        """Number of voxels along each array axis, ``(I, J, K)``."""
        i, j, k = self.array.shape
        return int(i), int(j), int(k)

    @property
    def spacing_mm(self) -> npt.NDArray[np.float64]:
        """Voxel size along each array axis in mm, shape ``(3,)``."""
        return np.asarray(np.linalg.norm(self.affine[:3, :3], axis=0), dtype=float)

    @property
    def origin_mm(self) -> npt.NDArray[np.float64]:
        """LPS position of the centre of voxel ``[0, 0, 0]`` in mm, shape ``(3,)``."""
        return np.asarray(self.affine[:3, 3], dtype=float)

    @property
    def direction(self) -> npt.NDArray[np.float64]:
        """Unit vectors of the array axes in LPS, as columns, shape ``(3, 3)``."""
        return np.asarray(self.affine[:3, :3] / self.spacing_mm, dtype=float)

    @property
    def orientation(self) -> str:
        """Three-letter ITK/DICOM orientation code, e.g. ``"LPS"`` or ``"PIR"``.

        Each letter names the patient direction the corresponding array axis points towards.
        """
        letters = (("L", "R"), ("P", "A"), ("S", "I"))
        code = ""
        for column in self.direction.T:
            axis = int(np.argmax(np.abs(column)))
            code += letters[axis][0 if column[axis] > 0 else 1]
        return code

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel in cubic millimetres."""
        return float(np.prod(self.spacing_mm))

    def index_to_world(self, indices: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Map voxel indices to LPS mm.

        Args:
            indices: Continuous voxel indices, shape ``(N, 3)`` or ``(3,)``.

        Returns:
            LPS positions in mm, same shape as ``indices``.

        """
        ijk = np.asarray(indices, dtype=float)
        return np.asarray(ijk @ self.affine[:3, :3].T + self.affine[:3, 3], dtype=float)

    def world_to_index(self, points_mm: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Map LPS mm to continuous voxel indices.

        Args:
            points_mm: LPS positions in mm, shape ``(N, 3)`` or ``(3,)``.

        Returns:
            Continuous voxel indices, same shape as ``points_mm``.

        """
        xyz = np.asarray(points_mm, dtype=float) - self.affine[:3, 3]
        return np.asarray(xyz @ np.linalg.inv(self.affine[:3, :3]).T, dtype=float)

    def same_grid(self, other: Volume, tolerance_mm: float = _GRID_TOLERANCE_MM) -> bool:
        """Whether both volumes sample the same voxel centres with the same array layout."""
        if self.shape != other.shape:
            return False
        corners = np.array(np.meshgrid([0, 1], [0, 1], [0, 1])).reshape(3, -1).T
        corners = corners * (np.array(self.shape) - 1)
        here = self.index_to_world(corners)
        there = other.index_to_world(corners)
        return bool(np.max(np.abs(here - there)) <= tolerance_mm)

    # ------------------------------------------------------------------ conversions
    @classmethod
    def from_sitk(cls, image: sitk.Image, *, path: str | Path | None = None) -> Volume:
        """Build a volume from a 3D SimpleITK image (voxels are copied only if needed)."""
        import SimpleITK as sitk

        array = sitk.GetArrayFromImage(image).transpose(2, 1, 0)
        spacing = np.array(image.GetSpacing(), dtype=float)
        direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
        affine = np.eye(4)
        affine[:3, :3] = direction * spacing
        affine[:3, 3] = image.GetOrigin()
        return cls(array, affine, path=path)

    def to_sitk(self) -> sitk.Image:
        """Return the volume as a SimpleITK image with the same geometry."""
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(np.ascontiguousarray(self.array.transpose(2, 1, 0)))
        image.SetSpacing([float(s) for s in self.spacing_mm])
        image.SetOrigin([float(o) for o in self.origin_mm])
        image.SetDirection([float(d) for d in self.direction.ravel()])
        return image

    def with_array(self, array: npt.ArrayLike) -> Volume:
        """Return a volume on the same grid holding other voxels, shape ``(I, J, K)``."""
        data = np.asarray(array)
        if data.shape != self.shape:
            raise InputError(f"array shape {data.shape} differs from the grid {self.shape}")
        return Volume(data, self.affine.copy(), path=self.path)

    def reoriented(self, orientation: str) -> Volume:
        """Return the same voxels stored with another axis order and direction (lossless).

        Args:
            orientation: Three-letter code such as ``"RAS"``, ``"LPS"`` or ``"PIR"``.

        """
        import SimpleITK as sitk

        code = orientation.upper()
        axis_of = {"L": 0, "R": 0, "P": 1, "A": 1, "S": 2, "I": 2}
        if len(code) != 3 or sorted(axis_of.get(ch, -1) for ch in code) != [0, 1, 2]:
            raise InputError(
                f"orientation {orientation!r} is not valid; use one letter from each of "
                "L/R, P/A and S/I, e.g. 'RAS', 'LPS' or 'PIR'"
            )
        image = sitk.DICOMOrient(self.to_sitk(), code)
        return Volume.from_sitk(image, path=self.path)

    def resampled_to(self, reference: Volume, *, nearest: bool = True) -> Volume:
        """Resample onto the grid of ``reference``.

        Args:
            reference: Volume whose grid (shape, spacing, origin, direction) is used.
            nearest: Nearest-neighbour interpolation (for label maps); linear otherwise.

        """
        import SimpleITK as sitk

        interpolator = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
        image = sitk.Resample(
            self.to_sitk(), reference.to_sitk(), sitk.Transform(), interpolator, 0
        )
        return Volume.from_sitk(image, path=self.path)

    def on_grid_of(self, reference: Volume) -> Volume | None:
        """Return this volume laid out like ``reference`` if both sample the same voxel centres.

        A label map stored in another orientation than its CT (say LAS against LPS) samples the
        same points; reorienting it is lossless. Returns ``None`` when the grids really differ.
        """
        if self.same_grid(reference):
            return self
        if self.orientation != reference.orientation:
            moved = self.reoriented(reference.orientation)
            if moved.same_grid(reference):
                return moved
        return None

    def _name(self) -> str:
        return str(self.path) if self.path is not None else "volume"

    def __repr__(self) -> str:
        spacing = "x".join(f"{s:g}" for s in self.spacing_mm)
        return (
            f"Volume(shape={self.shape}, spacing_mm={spacing}, orientation={self.orientation}, "
            f"dtype={self.array.dtype}, path={self._name()})"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {"array": self.array, "affine": self.affine, "path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.array = state["array"]
        self.affine = state["affine"]
        self.path = state["path"]
