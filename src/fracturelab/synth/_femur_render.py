"""Drawing a synthetic femur radiograph from a :class:`FemurSpec`, one band of rows at a time.

The image is built as a map of attenuation ``A`` (relative units: soft tissue of the thigh
is ~1.6, a cortex seen edge-on adds ~1), then exposure, noise and a display curve turn it into
16-bit grey values with bone bright. Each bone lives in a 2D frame ``(u, v)`` (mm; ``u``
lateral, ``v`` distal) that is an affine map of the pixel grid: the proximal fragment's frame,
the distal fragment's frame (turned and shifted by the displacement), a frame for each loose
fragment. A coarse pass over 32 x 32 pixel blocks finds, for each band of 32 rows, the columns
where each bone can be; only those are evaluated, so the cost is a few float32 operations per
pixel of soft tissue plus a few dozen per pixel of bone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fracturelab.synth import _femur_bones as bones
from fracturelab.synth._femur_parts import MU_SOFT, Table, combine
from fracturelab.synth._femur_spec import FemurSpec, Fragment
from fracturelab.typing import BoolArray, Float64Array, FloatArray

__all__ = ["BLOCK_PX", "Scene", "build_scene", "render", "scene_truth"]

UInt16Array = npt.NDArray[np.uint16]

SupportFn = Callable[[Float64Array, Float64Array, float], BoolArray]
PathsFn = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray, FloatArray | float]]
AttenuationFn = Callable[[FloatArray, FloatArray], FloatArray]
MaskFn = Callable[[FloatArray, FloatArray], FloatArray]

#: Side of the square blocks of the coarse pass and height of a band of rows, pixels.
BLOCK_PX = 32
#: Attenuation range of the display look-up table.
LUT_RANGE = (-0.5, 7.5)


@dataclass(frozen=True)
class Layer:
    """Bones drawn in one frame.

    Attributes:
        matrix: Shape ``(2, 3)``: pixel ``(x, y, 1)`` to frame ``(u, v)`` in mm.
        bone: Parts of one bone, ``(supports, paths)``; path lengths are combined by maximum.
        extra: Other bones, ``(supports, attenuation)``; added.
        mask: Share of the bone kept (fragment boundary), or ``None``.
        keep: Where the mask may be above 0 (coarse test), or ``None``.
        zone: ``(v_min, v_max)`` outside which the mask is 0 or 1.

    """

    matrix: Float64Array
    bone: tuple[tuple[SupportFn, PathsFn], ...] = ()
    extra: tuple[tuple[SupportFn, AttenuationFn], ...] = ()
    mask: MaskFn | None = None
    keep: SupportFn | None = None
    zone: tuple[float, float] = (math.inf, -math.inf)

    def frame(self, x: Float64Array, y: Float64Array) -> tuple[Float64Array, Float64Array]:
        """Frame coordinates of pixel points (float64, for the coarse pass and the truth)."""
        m = self.matrix
        return m[0, 0] * x + m[0, 1] * y + m[0, 2], m[1, 0] * x + m[1, 1] * y + m[1, 2]


@dataclass(frozen=True)
class Scene:
    """Everything :func:`render` needs, plus the geometry the truth is read from.

    Attributes:
        spec: The parameters drawn.
        pixel_mm: Patient millimetres per pixel (spacing over magnification).
        soft: Table of the thigh's radius squared and centre along the proximal ``v``.
        layers: Proximal frame first (soft tissue and truth use it), then the others.
        distal: Shape ``(2, 3)``: proximal frame to distal fragment frame, homogeneous.
        center_uv_mm: Fracture centre in the proximal frame.

    """

    spec: FemurSpec
    pixel_mm: float
    soft: Table
    layers: tuple[Layer, ...]
    distal: Float64Array
    center_uv_mm: tuple[float, float]

    def to_pixels(self, uv_mm: Float64Array) -> Float64Array:
        """Pixel ``[x, y]`` of points ``(n, 2)`` given in the proximal frame."""
        m = self.layers[0].matrix
        return (np.asarray(uv_mm, dtype=float) - m[:, 2]) @ np.linalg.inv(m[:, :2]).T

    def distal_to_proximal(self, uv_mm: Float64Array) -> Float64Array:
        """Where points ``(n, 2)`` of the unbroken distal fragment end up (proximal frame)."""
        inverse = np.linalg.inv(np.vstack([self.distal, [0.0, 0.0, 1.0]]))
        points = np.asarray(uv_mm, dtype=float)
        return points @ inverse[:2, :2].T + inverse[:2, 2]


def _rotation(angle: float) -> Float64Array:
    cos, sin = math.cos(angle), math.sin(angle)
    return np.array([[cos, -sin], [sin, cos]])


def build_scene(spec: FemurSpec) -> Scene:
    """Lay out the bones, fragments and frames of ``spec``."""
    anatomy, fracture, view = spec.anatomy, spec.fracture, spec.view
    pixel_mm = view.spacing_mm / view.magnification
    radius = anatomy.shaft_radius_mm

    # Displacement of the distal fragment: turn about the hinge, slide along the turned line,
    # push away from it.
    slope = (fracture.line_at(0.3 * radius) - fracture.line_at(-0.3 * radius)) / (0.6 * radius)
    norm = math.hypot(1.0, slope)
    tangent, normal = np.array([1.0, slope]) / norm, np.array([-slope, 1.0]) / norm
    hinge_u = radius if fracture.hinge == "lateral" else -radius
    hinge = np.array([hinge_u, fracture.line_at(hinge_u)])
    turn = _rotation(-math.copysign(math.radians(fracture.angulation_deg), hinge_u))
    shift = fracture.distraction_mm * (turn @ normal) + fracture.slide_mm * (turn @ tangent)
    center_distal = turn @ -hinge + hinge + shift
    center = 0.5 * center_distal

    # Proximal frame: u lateral, v distal, origin at the unbroken line's centre.
    tilt = math.radians(view.rotation_deg)
    v_hat = np.array([math.sin(tilt), math.cos(tilt)])
    lateral = 1.0 if anatomy.side == "left" else -1.0  # AP view: patient's left on the right
    u_hat = lateral * np.array([math.cos(tilt), -math.sin(tilt)])
    origin = np.asarray(view.center_xy_px) * pixel_mm - (center[0] * u_hat + center[1] * v_hat)
    proximal = np.array(
        [
            [pixel_mm * u_hat[0], pixel_mm * u_hat[1], -float(origin @ u_hat)],
            [pixel_mm * v_hat[0], pixel_mm * v_hat[1], -float(origin @ v_hat)],
        ]
    )
    back = turn.T
    distal = np.hstack([back, (back @ (-hinge - shift) + hinge)[:, None]])

    corners = np.array([[0, 0], [view.size_px[0], 0], [0, view.size_px[1]], list(view.size_px)])
    v_image = proximal[1, :2] @ corners.T.astype(float) + proximal[1, 2]
    v_lo, v_hi = float(v_image.min()) - 60.0, float(v_image.max()) + 60.0

    femur = bones.femur_tube(anatomy, fracture)
    tube_part = (femur.supports, femur.paths)
    masks = bones.Masks(fracture, pixel_mm)
    zone = masks.zone

    def above(u: Float64Array, v: Float64Array, margin: float) -> BoolArray:
        return v <= zone[1] + margin

    def below(u: Float64Array, v: Float64Array, margin: float) -> BoolArray:
        return v >= zone[0] - margin

    layers = [
        Layer(
            proximal,
            bone=(tube_part, bones.proximal_parts(anatomy, fracture)),
            extra=(bones.pelvis(anatomy, fracture),),
            mask=masks.proximal,
            keep=above,
            zone=zone,
        ),
        Layer(
            _compose(distal, proximal),
            bone=(tube_part, bones.condyles(anatomy, fracture)),
            extra=bones.leg(anatomy, fracture, v_hi),
            mask=masks.distal,
            keep=below,
            zone=zone,
        ),
    ]
    for index, piece in enumerate(fracture.loose):
        layers.append(_loose_layer(piece, masks.loose(index), shift, proximal, tube_part))
    return Scene(
        spec=spec,
        pixel_mm=pixel_mm,
        soft=bones.soft_table(anatomy, fracture, v_lo, v_hi),
        layers=tuple(layers),
        distal=distal,
        center_uv_mm=(float(center[0]), float(center[1])),
    )


def _loose_layer(
    piece: Fragment,
    mask: MaskFn,
    shift: Float64Array,
    proximal: Float64Array,
    tube_part: tuple[SupportFn, PathsFn],
) -> Layer:
    """A loose fragment: the shaft seen through its triangle, moved and turned."""
    corners = np.asarray(piece.corners_uv_mm)
    middle = corners.mean(axis=0)
    spin = _rotation(math.radians(piece.motion[2]))
    move = np.asarray(piece.motion[:2]) + (0.5 * shift if piece.cut_from == "both" else 0.0)
    frame = np.hstack([spin.T, (spin.T @ (-middle - move) + middle)[:, None]])
    box = (
        float(corners[:, 0].min()) - 1.0,
        float(corners[:, 0].max()) + 1.0,
        float(corners[:, 1].min()) - 1.0,
        float(corners[:, 1].max()) + 1.0,
    )

    def near(u: Float64Array, v: Float64Array, margin: float) -> BoolArray:
        return bones.in_box(u, v, box, margin)

    return Layer(
        _compose(frame, proximal), bone=(tube_part,), mask=mask, keep=near, zone=(box[2], box[3])
    )


def _compose(inner: Float64Array, outer: Float64Array) -> Float64Array:
    """Matrix of ``inner`` (frame to frame, 2 x 3) after ``outer`` (pixels to frame)."""
    return np.hstack(
        [inner[:, :2] @ outer[:, :2], (inner[:, :2] @ outer[:, 2] + inner[:, 2])[:, None]]
    )


def scene_truth(scene: Scene, schema_version: str) -> dict[str, Any]:
    """The JSON ground truth of a drawn scene (see ``render_femur_radiograph``)."""
    spec = scene.spec
    anatomy, fracture, view = spec.anatomy, spec.fracture, spec.view
    radius = anatomy.shaft_radius_mm
    u = np.linspace(-radius, radius, 21)
    line = np.column_stack([u, [fracture.line_at(x) for x in u]])
    proximal_px = scene.to_pixels(line)
    distal_px = scene.to_pixels(scene.distal_to_proximal(line))
    origin = scene.to_pixels(np.zeros((1, 2)))[0]
    lateral = scene.to_pixels(np.array([[1.0, 0.0]]))[0] - origin
    distal = scene.to_pixels(np.array([[0.0, 1.0]]))[0] - origin
    width, height = view.size_px
    level = fracture.level_mm
    head = scene.to_pixels(np.array([bones.head_center(anatomy, level)]))[0]
    knee = scene.to_pixels(np.array([[0.0, anatomy.distal_end_mm - level]]))[0]

    def inside(point: Float64Array) -> bool:
        return bool(0 <= point[0] <= width - 1 and 0 <= point[1] <= height - 1)

    def points(array: Float64Array) -> list[list[float]]:
        return [[round(float(x), 3), round(float(y), 3)] for x, y in array]

    x, y = view.center_xy_px
    return {
        "schema_version": schema_version,
        "label": fracture.label,
        "kind": fracture.kind,
        "side": anatomy.side,
        "center_xy_px": [x, y],
        "center_mm": [x * view.spacing_mm, y * view.spacing_mm],
        "pixel_spacing_mm": view.spacing_mm,
        "size_px": [width, height],
        "magnification": view.magnification,
        "rotation_deg": view.rotation_deg,
        "lateral_xy": [float(c) for c in lateral / np.linalg.norm(lateral)],
        "distal_xy": [float(c) for c in distal / np.linalg.norm(distal)],
        "fracture": {
            "angle_deg": fracture.angle_deg,
            "level_below_lesser_trochanter_mm": level,
            "gap_mm": fracture.gap_mm,
            "distraction_mm": fracture.distraction_mm,
            "slide_mm": fracture.slide_mm,
            "angulation_deg": fracture.angulation_deg,
            "hinge": fracture.hinge,
            "swelling_mm": fracture.swelling_mm,
            "line_xy_px": points(proximal_px),
            "distal_line_xy_px": points(distal_px),
            "lateral_break_xy_px": points(proximal_px[-1:])[0],
            "fragments": 2 + len(fracture.loose),
            "butterfly": fracture.butterfly is not None,
            "chips": len(fracture.chips),
        },
        "aff_cues": {
            "beak_mm": fracture.beak_mm,
            "beak_length_mm": fracture.beak_length_mm if fracture.beak_mm > 0 else 0.0,
            "endosteal_mm": fracture.endosteal_mm,
            "spike_mm": fracture.spike_mm,
        },
        "anatomy": {
            "shaft_diameter_mm": 2.0 * radius,
            "cortex_mm": anatomy.cortex_mm,
            "head_in_view": inside(head),
            "knee_in_view": inside(knee),
        },
        "view": {
            "window": list(view.window),
            "gamma": view.gamma,
            "heel": view.heel,
            "noise": view.noise,
        },
    }


def _plan(
    scene: Scene,
) -> list[list[tuple[Layer, int, int, bool, tuple[int, ...], tuple[int, ...]]]]:
    """For each band: the layers to draw, their columns, masking, and the parts active."""
    width, height = scene.spec.view.size_px
    rows, cols = -(-height // BLOCK_PX), -(-width // BLOCK_PX)
    y, x = np.mgrid[0:rows, 0:cols].astype(float) * BLOCK_PX + 0.5 * (BLOCK_PX - 1)
    margin = (BLOCK_PX * math.sqrt(0.5) + 1.5) * scene.pixel_mm
    plan: list[list[tuple[Layer, int, int, bool, tuple[int, ...], tuple[int, ...]]]] = [
        [] for _ in range(rows)
    ]
    for layer in scene.layers:
        u, v = layer.frame(x, y)
        keep = layer.keep(u, v, margin) if layer.keep is not None else np.ones(u.shape, bool)
        bone = [support(u, v, margin) & keep for support, _ in layer.bone]
        extra = [support(u, v, margin) for support, _ in layer.extra]
        near = (v >= layer.zone[0] - margin) & (v <= layer.zone[1] + margin)
        for row in range(rows):
            active_bone = tuple(k for k, a in enumerate(bone) if a[row].any())
            active_extra = tuple(k for k, a in enumerate(extra) if a[row].any())
            if not active_bone and not active_extra:
                continue
            used = np.zeros(cols, bool)
            for k in active_bone:
                used |= bone[k][row]
            for k in active_extra:
                used |= extra[k][row]
            columns = np.flatnonzero(used)
            first, last = int(columns[0]), int(columns[-1]) + 1
            # Mask wherever a block of the span is near the fracture or where the fragment
            # ends (the span may reach there because of another part).
            masked = layer.mask is not None and bool(
                (near[row, first:last] | ~keep[row, first:last]).any()
            )
            start, stop = first * BLOCK_PX, min(width, last * BLOCK_PX)
            plan[row].append((layer, start, stop, masked, active_bone, active_extra))
    return plan


def render(scene: Scene) -> UInt16Array:
    """Draw the radiograph: shape ``(height, width)``, 16-bit grey, bone bright."""
    view = scene.spec.view
    width, height = view.size_px
    out = np.empty((height, width), dtype=np.uint16)
    columns = np.arange(width, dtype=np.float64)
    lut = _display_lut(view.window, view.gamma)
    low, high = LUT_RANGE
    scale = 65535.0 / (high - low)
    rng = np.random.default_rng(view.noise_seed)
    noise = np.empty((BLOCK_PX, width), dtype=np.float32)
    spare = np.empty((BLOCK_PX, width), dtype=np.float32)
    soft = _SoftTissue(scene, width)
    for row, entries in enumerate(_plan(scene)):
        y0, y1 = row * BLOCK_PX, min(height, (row + 1) * BLOCK_PX)
        ys = np.arange(y0, y1, dtype=np.float64)
        total = soft.band(y0, y1)
        for layer, start, stop, masked, bone, extra in entries:
            lu, lv = _coordinates(layer.matrix, columns[start:stop], ys)
            att: FloatArray | None = None
            if bone:
                t, i, dmu = layer.bone[bone[0]][1](lu, lv)
                for k in bone[1:]:
                    t2, i2, _ = layer.bone[k][1](lu, lv)
                    np.maximum(t, t2, out=t)
                    np.maximum(i, i2, out=i)
                att = combine(t, i, dmu)
                if masked and layer.mask is not None:
                    att *= layer.mask(lu, lv)
            for k in extra:
                add = layer.extra[k][1](lu, lv)
                att = add if att is None else np.add(att, add, out=att)
            if att is not None:
                total[:, start:stop] += att
        if view.noise > 0:
            # Quantum noise grows with attenuation (fewer photons behind bone); the sum of two
            # uniform variates (triangular, standard deviation 1) stands in for a Gaussian.
            band, other = noise[: y1 - y0], spare[: y1 - y0]
            rng.random(band.shape, dtype=np.float32, out=band)
            rng.random(band.shape, dtype=np.float32, out=other)
            band += other
            band -= np.float32(1.0)
            band *= np.float32(math.sqrt(6.0) * view.noise)
            other = np.multiply(total, np.float32(0.25), out=other)
            other += np.float32(0.6)
            band *= other
            total += band
        # Exposure (heel effect) and the look-up scale in one multiplication per row.
        exposure = (1.0 + view.heel * ((ys + 0.5) / height - 0.5)) * scale
        total *= exposure.astype(np.float32)[:, None]
        total -= np.float32(low * scale)
        np.clip(total, 0.0, 65535.0, out=total)
        out[y0:y1] = lut[total.astype(np.uint16)]
    return out


def _coordinates(
    matrix: Float64Array, xs: Float64Array, ys: Float64Array
) -> tuple[FloatArray, FloatArray]:
    """Frame ``(u, v)`` of the pixels ``xs`` x ``ys`` (float32, shape ``(len(ys), len(xs))``)."""
    u = (matrix[0, 0] * xs).astype(np.float32)[None, :]
    v = (matrix[1, 0] * xs).astype(np.float32)[None, :]
    u = u + (matrix[0, 1] * ys + matrix[0, 2]).astype(np.float32)[:, None]
    v = v + (matrix[1, 1] * ys + matrix[1, 2]).astype(np.float32)[:, None]
    return u, v


class _SoftTissue:
    """Thigh attenuation: exact on a grid of every 4th row and column, bilinear in between."""

    STEP = 4

    def __init__(self, scene: Scene, width: int) -> None:
        self.table = scene.soft
        self.matrix = scene.layers[0].matrix
        step = self.STEP
        self.coarse_x = np.arange(0, width + step, step, dtype=np.float64)
        x = np.arange(width)
        self.left = x // step
        self.weight = ((x % step) / step).astype(np.float32)

    def _exact(self, xs: Float64Array, ys: Float64Array) -> FloatArray:
        u, v = _coordinates(self.matrix, xs, ys)
        values = self.table(v)
        radius2: FloatArray = values[0]
        center: FloatArray = values[1]
        d = np.subtract(u, center, out=center)
        np.square(d, out=d)
        np.subtract(radius2, d, out=radius2)
        np.maximum(radius2, 0.0, out=radius2)
        np.sqrt(radius2, out=radius2)
        radius2 *= np.float32(2.0 * MU_SOFT)
        return radius2

    def band(self, y0: int, y1: int) -> FloatArray:
        """Attenuation of rows ``y0 .. y1 - 1``, shape ``(y1 - y0, width)``."""
        step = self.STEP
        ys = np.arange(y0, y1 + step, step, dtype=np.float64)
        coarse = self._exact(self.coarse_x, ys)
        left = coarse[:, self.left]
        right = coarse[:, self.left + 1]
        right -= left
        right *= self.weight
        left += right  # (coarse rows, width)
        rows = y1 - y0
        out = np.empty((rows, left.shape[1]), dtype=np.float32)
        for k in range(step):
            lower, upper = (
                left[:-1][: len(range(k, rows, step))],
                left[1:][: len(range(k, rows, step))],
            )
            np.multiply(upper - lower, np.float32(k / step), out=out[k::step])
            out[k::step] += lower
        return out


def _display_lut(window: tuple[float, float], gamma: float) -> UInt16Array:
    """Attenuation (look-up index) to 16-bit grey: window, then gamma."""
    low, high = LUT_RANGE
    attenuation = np.linspace(low, high, 65536)
    grey = np.clip((attenuation - window[0]) / (window[1] - window[0]), 0.0, 1.0) ** gamma
    return np.rint(grey * 65535.0).astype(np.uint16)
