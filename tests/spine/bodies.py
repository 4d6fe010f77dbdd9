"""Analytic vertebral bodies (elliptic cylinders between known endplate surfaces) and their CT.

Independent of the measuring code and of ``synth spine``: each body's endplates are functions
``top(r, a)`` and ``bottom(r, a)`` in its local frame (r right, a anterior, s superior, mm), so
the true heights at the walls are known exactly: ``Ha = top - bottom`` at ``a = +D``, ``Hp`` at
``a = -D``, ``Hm`` at ``a = 0`` (mid-sagittal plane ``r = 0``).
"""

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from fracturelab.imaging import Volume

SEMI_WIDTH = 20.0  # mm, left-right
SEMI_DEPTH = 15.0  # mm, front-back
HEIGHT = 25.0  # mm, a normal body
PITCH = 34.0  # mm, centre to centre along the spine
LEVELS = ("T12", "L1", "L2", "L3", "L4")
VERSE = {"T12": 19, "L1": 20, "L2": 21, "L3": 22, "L4": 23}
CANCELLOUS_HU, CORTICAL_HU, DISC_HU, SOFT_HU = 220.0, 800.0, 90.0, 40.0
SHELL_MM = 1.5


@dataclass
class Body:
    """One body: plane heights at the walls, an optional dish on both endplates, a spur."""

    hp: float = HEIGHT
    ha: float = HEIGHT
    dish_depth: float = 0.0  # total, both endplates, at the centre (mm)
    dish_radius: float = 0.7  # normalised; above 1 the dish reaches the walls
    spur: bool = False  # an osteophyte at the anterior-superior corner

    def surfaces(self, r, a):
        plane = self.hp + (self.ha - self.hp) * (a + SEMI_DEPTH) / (2 * SEMI_DEPTH)
        rho2 = (r / SEMI_WIDTH) ** 2 + (a / SEMI_DEPTH) ** 2
        dish = 0.5 * self.dish_depth * np.maximum(0.0, 1.0 - rho2 / self.dish_radius**2)
        return plane / 2 - dish, -plane / 2 + dish

    def truth(self):
        heights = {}
        for name, a in (("anterior", SEMI_DEPTH), ("middle", 0.0), ("posterior", -SEMI_DEPTH)):
            top, bottom = self.surfaces(np.array(0.0), np.array(a))
            heights[name] = float(top - bottom)
        return heights


@dataclass
class Spine:
    """Five bodies stacked along LPS z (anterior is -y), their CT and label map."""

    bodies: dict = field(default_factory=dict)
    spacing: tuple = (1.0, 1.0, 1.0)
    x_range: tuple = (-30.0, 30.0)

    def body(self, level):
        return self.bodies.get(level, Body())

    def centre_z(self, level):
        return (len(LEVELS) - 1 - LEVELS.index(level)) * PITCH + 20.0

    def build(self, seed=0):
        """CT (HU, partial volume from 3 x 3 x 3 sub-samples, blurred) and label map."""
        sx, sy, sz = self.spacing
        xs = np.arange(self.x_range[0], self.x_range[1] + 1e-9, sx)
        ys = np.arange(-28.0, 28.0 + 1e-9, sy)
        zs = np.arange(0.0, (len(LEVELS) - 1) * PITCH + 40.0 + 1e-9, sz)
        x, y, z = np.meshgrid(xs, ys, zs, indexing="ij")
        labels, _ = self._paint(x, y, z)
        ct = np.zeros(x.shape, np.float32)
        offsets = (-1.0 / 3.0, 0.0, 1.0 / 3.0)
        for dx in offsets:
            for dy in offsets:
                for dz in offsets:
                    ct += self._paint(x + dx * sx, y + dy * sy, z + dz * sz)[1] / 27.0
        ct = ndimage.gaussian_filter(ct, [0.5 / s for s in self.spacing])  # a sharp CT PSF
        ct += np.random.default_rng(seed).normal(0.0, 10.0, ct.shape).astype(np.float32)
        affine = np.diag([sx, sy, sz, 1.0])
        affine[:3, 3] = xs[0], ys[0], zs[0]
        return Volume(ct.astype(np.float32), affine), Volume(labels, affine.copy())

    def _paint(self, x, y, z):
        r, a = -x, -y
        rho = np.sqrt((r / SEMI_WIDTH) ** 2 + (a / SEMI_DEPTH) ** 2)
        labels = np.zeros(x.shape, np.uint8)
        ct = np.full(x.shape, SOFT_HU, np.float32)
        ct[rho <= 1.0] = DISC_HU
        for level in LEVELS:
            body = self.body(level)
            s = z - self.centre_z(level)
            top, bottom = body.surfaces(r, a)
            inside = (rho <= 1.0) & (s <= top) & (s >= bottom)
            if body.spur:
                top_wall, _ = body.surfaces(np.zeros(1), np.array([SEMI_DEPTH]))
                spur = (
                    (np.abs(r) <= 8.0)
                    & (a >= SEMI_DEPTH - 3.0)
                    & (a <= SEMI_DEPTH + 4.0)
                    & (s >= top_wall[0] - 2.0)
                    & (s <= top_wall[0] + 4.0 - (a - SEMI_DEPTH + 3.0) * 0.5)
                )
                inside = inside | spur
            wall = (1.0 - rho) * min(SEMI_WIDTH, SEMI_DEPTH)
            shell = np.minimum(np.minimum(top - s, s - bottom), wall) < SHELL_MM
            labels[inside] = VERSE[level]
            ct[inside] = np.where(shell[inside], CORTICAL_HU, CANCELLOUS_HU)
        return labels, ct


def dilate(labels: Volume, iterations: int = 1) -> Volume:
    """Grow every label by one voxel (6-connected) into the background."""
    array = np.asarray(labels.array)
    grown = ndimage.grey_dilation(array, footprint=ndimage.generate_binary_structure(3, 1))
    out = np.where(array == 0, grown, array).astype(array.dtype)
    return labels.with_array(out)


def erode(labels: Volume) -> Volume:
    """Shrink every label by one voxel (6-connected)."""
    array = np.asarray(labels.array)
    out = np.zeros_like(array)
    structure = ndimage.generate_binary_structure(3, 1)
    for value in np.unique(array)[1:]:
        out[ndimage.binary_erosion(array == value, structure)] = value
    return labels.with_array(out)
