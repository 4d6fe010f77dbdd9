"""The local anatomical frame of a vertebra and the footprint of its body.

Directions come from anatomy, never from array axes: the superior axis starts from the spine
curve through neighbouring centroids and is refined by the body's endplates; the anterior axis
starts from the patient's anterior direction (LPS -y) and is refined by the body's footprint,
whose minor axis is the front-back axis (bodies are wider than deep).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fracturelab.typing import Float64Array

__all__ = ["BodyFootprint", "VertebraFrame", "endplate_surfaces", "fit_frame"]

_PATIENT_ANTERIOR = np.array([0.0, -1.0, 0.0])
_MAX_ENDPLATE_TILT_DEG = 25.0
_MAX_AXIAL_ROTATION_DEG = 35.0
_MAX_OFFSET_ROTATION_DEG = 20.0
_MIN_ELONGATION = 1.3**2  # ratio of footprint variances: width/depth of at least 1.3


@dataclass(frozen=True)
class VertebraFrame:
    """An orthonormal right-handed frame in LPS mm.

    Args:
        origin_mm: Frame origin, shape ``(3,)``.
        right: Unit vector towards the patient's right, shape ``(3,)``.
        anterior: Unit vector towards the front, shape ``(3,)``.
        superior: Unit vector towards the head, shape ``(3,)``.

    """

    origin_mm: Float64Array
    right: Float64Array
    anterior: Float64Array
    superior: Float64Array

    @classmethod
    def from_axes(
        cls, origin_mm: Float64Array, superior: Float64Array, anterior_hint: Float64Array
    ) -> VertebraFrame:
        """Build a frame from a superior axis and an approximate anterior direction."""
        s = _unit(superior)
        a = _unit(anterior_hint - np.dot(anterior_hint, s) * s)
        r = np.cross(a, s)
        return cls(np.asarray(origin_mm, dtype=float), r, a, s)

    @property
    def matrix(self) -> npt.NDArray[np.float64]:
        """Columns right, anterior, superior; shape ``(3, 3)``."""
        return np.stack([self.right, self.anterior, self.superior], axis=1)

    def to_local(self, points_mm: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """LPS points ``(N, 3)`` to local ``(r, a, s)`` mm, shape ``(N, 3)``."""
        return np.asarray((points_mm - self.origin_mm) @ self.matrix, dtype=float)

    def to_world(self, local_mm: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Local ``(r, a, s)`` mm, shape ``(..., 3)``, to LPS points of the same shape."""
        return np.asarray(local_mm @ self.matrix.T + self.origin_mm, dtype=float)


@dataclass(frozen=True)
class BodyFootprint:
    """The vertebral body seen along the superior axis, on a raster in the frame's r-a plane.

    Args:
        body: Boolean raster of the body, shape ``(n_r, n_a)``.
        whole: Boolean raster of the whole vertebra, same shape.
        pixel_mm: Raster pixel size in mm.
        r0_mm: Local r of pixel column 0's centre.
        a0_mm: Local a of pixel row 0's centre.
        centre_ra_mm: Centroid of the body raster in local (r, a) mm, shape ``(2,)``.

    """

    body: npt.NDArray[np.bool_]
    whole: npt.NDArray[np.bool_]
    pixel_mm: float
    r0_mm: float
    a0_mm: float
    centre_ra_mm: Float64Array

    def body_extent_a(self, r_mm: float) -> tuple[float, float] | None:
        """Smallest and largest local a (mm) of body pixels in the column at ``r_mm``."""
        column = round((r_mm - self.r0_mm) / self.pixel_mm)
        if not 0 <= column < self.body.shape[0]:
            return None
        rows = np.flatnonzero(self.body[column])
        if rows.size == 0:
            return None
        return self.a0_mm + rows[0] * self.pixel_mm, self.a0_mm + rows[-1] * self.pixel_mm

    def pixel_of(self, local_ra: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Raster indices of local (r, a) points ``(N, 2)``; may fall outside the raster."""
        origin = np.array([self.r0_mm, self.a0_mm])
        return np.asarray(np.round((local_ra - origin) / self.pixel_mm), dtype=np.int64)


def fit_frame(
    points_mm: npt.NDArray[np.float64],
    superior_hint: Float64Array,
    pixel_mm: float,
) -> tuple[VertebraFrame, BodyFootprint, npt.NDArray[np.float64]]:
    """Find a vertebra's anatomical frame and its body footprint.

    Args:
        points_mm: LPS centres of the vertebra's voxels, shape ``(N, 3)``.
        superior_hint: Approximate superior direction (from the spine curve), shape ``(3,)``.
        pixel_mm: Raster pixel size for the footprint, about the in-plane voxel size.

    Returns:
        The frame (origin at the vertebra's centroid), the body footprint in that frame, and
        the local coordinates of the points, shape ``(N, 3)``.

    """
    centroid = points_mm.mean(axis=0)
    frame = VertebraFrame.from_axes(centroid, superior_hint, _PATIENT_ANTERIOR)
    for _ in range(2):
        local = frame.to_local(points_mm)
        footprint = _footprint(local, pixel_mm)
        frame = _turn_to_body(frame, footprint)
        local = frame.to_local(points_mm)
        footprint = _footprint(local, pixel_mm)
        frame = _tilt_to_endplates(frame, footprint, local)
    local = frame.to_local(points_mm)
    return frame, _footprint(local, pixel_mm), local


def endplate_surfaces(
    footprint: BodyFootprint, local: npt.NDArray[np.float64], core_fraction: float = 0.3
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Top and bottom of the body over the core of its footprint.

    Args:
        footprint: The body footprint.
        local: Local coordinates of the vertebra's voxels, shape ``(N, 3)``.
        core_fraction: Keep pixels at least this fraction of the largest inner distance away
            from the body's edge (avoids corners, osteophytes and the pedicle roots).

    Returns:
        Local (r, a) of the core pixels ``(M, 2)``, and the highest and lowest s of the body
        voxels over each, both ``(M,)``.

    """
    from scipy import ndimage

    inner = ndimage.distance_transform_edt(footprint.body)
    core = inner >= max(1.0, core_fraction * float(inner.max()))
    pixels = footprint.pixel_of(local[:, :2])
    n_r, n_a = core.shape
    valid = (pixels[:, 0] >= 0) & (pixels[:, 0] < n_r) & (pixels[:, 1] >= 0) & (pixels[:, 1] < n_a)
    keep = np.zeros(len(local), dtype=bool)
    keep[valid] = core[pixels[valid, 0], pixels[valid, 1]]
    flat = pixels[keep, 0] * n_a + pixels[keep, 1]
    top = np.full(n_r * n_a, -np.inf)
    bottom = np.full(n_r * n_a, np.inf)
    np.maximum.at(top, flat, local[keep, 2])
    np.minimum.at(bottom, flat, local[keep, 2])
    used = np.unique(flat)
    ra = np.stack([used // n_a, used % n_a], axis=1) * footprint.pixel_mm
    ra = ra + np.array([footprint.r0_mm, footprint.a0_mm])
    return ra, top[used], bottom[used]


def _footprint(local: npt.NDArray[np.float64], pixel_mm: float) -> BodyFootprint:
    from scipy import ndimage

    r0 = float(local[:, 0].min()) - 2 * pixel_mm
    a0 = float(local[:, 1].min()) - 2 * pixel_mm
    shape = (
        int(np.ceil((local[:, 0].max() - r0) / pixel_mm)) + 3,
        int(np.ceil((local[:, 1].max() - a0) / pixel_mm)) + 3,
    )
    whole = np.zeros(shape, dtype=bool)
    pix = np.round((local[:, :2] - np.array([r0, a0])) / pixel_mm).astype(np.int64)
    whole[pix[:, 0], pix[:, 1]] = True
    whole = ndimage.binary_closing(whole, iterations=1) | whole
    inner = ndimage.distance_transform_edt(whole)
    peak = np.unravel_index(int(np.argmax(inner)), inner.shape)
    radius = max(1.0, 0.5 * float(inner.max()))
    disk = _disk(radius)
    opened = ndimage.binary_opening(whole, structure=disk)
    components, _ = ndimage.label(opened)
    body = components == components[peak] if components[peak] else whole.copy()
    ii, jj = np.nonzero(body)
    centre = np.array([r0 + ii.mean() * pixel_mm, a0 + jj.mean() * pixel_mm])
    return BodyFootprint(body, whole, pixel_mm, r0, a0, centre)


def _turn_to_body(frame: VertebraFrame, footprint: BodyFootprint) -> VertebraFrame:
    """Rotate about the superior axis so that anterior is the body's own front-back axis.

    Vertebral bodies are wider than deep, so the minor axis of the body footprint is the
    front-back axis. For round bodies, fall back to the offset of the body from the whole
    vertebra's centroid (the posterior elements lie behind the body), trusted less because
    segmented posterior elements are often asymmetric.
    """
    ii, jj = np.nonzero(footprint.body)
    coords = np.stack([ii, jj], axis=1).astype(float) * footprint.pixel_mm
    if len(coords) >= 10:
        eigenvalues, eigenvectors = np.linalg.eigh(np.cov(coords.T))
        if eigenvalues[1] > _MIN_ELONGATION * eigenvalues[0]:
            minor = eigenvectors[:, 0] * (1.0 if eigenvectors[1, 0] >= 0 else -1.0)
            direction = minor[0] * frame.right + minor[1] * frame.anterior
            if _angle_deg(direction, frame.anterior) <= _MAX_AXIAL_ROTATION_DEG:
                return VertebraFrame.from_axes(frame.origin_mm, frame.superior, direction)
            return frame
    offset = footprint.centre_ra_mm  # the centroid is the frame origin, (0, 0) in r-a
    if np.linalg.norm(offset) < 3.0:
        return frame  # body-only masks: no posterior elements to tell front from back
    direction = offset[0] * frame.right + offset[1] * frame.anterior
    if _angle_deg(direction, frame.anterior) > _MAX_OFFSET_ROTATION_DEG:
        return frame
    return VertebraFrame.from_axes(frame.origin_mm, frame.superior, direction)


def _tilt_to_endplates(
    frame: VertebraFrame, footprint: BodyFootprint, local: npt.NDArray[np.float64]
) -> VertebraFrame:
    """Align the superior axis with the bisector of the two endplates' normals."""
    ra, top, bottom = endplate_surfaces(footprint, local)
    if len(ra) < 6:
        return frame
    design = np.column_stack([ra, np.ones(len(ra))])
    normals = []
    for surface in (top, bottom):
        (slope_r, slope_a, _), *_ = np.linalg.lstsq(design, surface, rcond=None)
        normals.append(_unit(np.array([-slope_r, -slope_a, 1.0])))
    bisector = _unit(normals[0] + normals[1])
    superior = frame.matrix @ bisector
    if _angle_deg(superior, frame.superior) > _MAX_ENDPLATE_TILT_DEG:
        return frame
    return VertebraFrame.from_axes(frame.origin_mm, superior, frame.anterior)


def _disk(radius: float) -> npt.NDArray[np.bool_]:
    n = int(np.ceil(radius))
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1]
    return np.asarray(xx**2 + yy**2 <= radius**2)


def _unit(vector: npt.ArrayLike) -> Float64Array:
    v = np.asarray(vector, dtype=float)
    return np.asarray(v / np.linalg.norm(v), dtype=float)


def _angle_deg(u: Float64Array, v: Float64Array) -> float:
    cosine = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))
