"""A CT-like spine phantom with a vertebra label map and known morphometric ground truth."""

from __future__ import annotations

import itertools
import json
import logging
import math
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.imaging.io import write_volume
from fracturelab.imaging.volume import Volume
from fracturelab.outputs import atomic_write_text
from fracturelab.spine.levels import LEVELS, VERSE_LABELS, level_index, parse_level_range
from fracturelab.synth import _render
from fracturelab.synth._body import draw_body_shape
from fracturelab.synth._bone_density import check_bone_hu, draw_bone_hu
from fracturelab.synth._fracture_signs import FractureSigns, draw_fracture_signs
from fracturelab.synth._mask_errors import MASK_ERRORS, apply_mask_error, check_mask_error
from fracturelab.synth.anatomy import nominal_size, spine_stack
from fracturelab.synth.curve import SpineCurve
from fracturelab.synth.fractures import FractureSpec, parse_fractures
from fracturelab.synth.vertebra import PROCESSES, TRUTH_DEFINITION, SyntheticVertebra

__all__ = ["MASK_ERRORS", "SpinePhantom", "make_spine_phantom"]

logger = logging.getLogger(__name__)

#: Version of the ``truth.json`` layout.
TRUTH_SCHEMA_VERSION = "1.0"

#: Levels drawn by default.
DEFAULT_LEVELS: tuple[str, ...] = parse_level_range("T8-L5")

#: Label conventions of the label map.
LABEL_CONVENTIONS: tuple[str, ...] = ("verse", "totalseg_v2")

_AXIS_LETTERS = {"L": 0, "R": 0, "P": 1, "A": 1, "S": 2, "I": 2}


@dataclass
class SpinePhantom:
    """A synthetic spine CT, its vertebra label map and the ground truth of every vertebra.

    Attributes:
        ct: CT in HU (int16), shape ``(I, J, K)``, stored in the requested orientation.
        vertebrae: Label map (uint8) on the same grid: one label per vertebra, 0 elsewhere.
        truth: JSON-serialisable ground truth, see :func:`make_spine_phantom`.

    """

    ct: Volume
    vertebrae: Volume
    truth: dict[str, Any]

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``ct.nii.gz``, ``vertebrae.nii.gz`` and ``truth.json`` into a folder.

        Every file is written atomically (a temporary file renamed into place).

        Args:
            out_dir: Destination folder; created if missing.

        Returns:
            The written paths under the keys ``"ct"``, ``"vertebrae"`` and ``"truth"``.

        """
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "ct": write_volume(self.ct, folder / "ct.nii.gz"),
            "vertebrae": write_volume(self.vertebrae, folder / "vertebrae.nii.gz"),
        }
        text = json.dumps(self.truth, indent=2) + "\n"
        paths["truth"] = atomic_write_text(folder / "truth.json", text)
        return paths

    @property
    def fractured(self) -> list[dict[str, Any]]:
        """Truth entries of the vertebrae with a Genant grade above 0."""
        return [entry for entry in self.truth["vertebrae"] if entry["genant_grade"] > 0]

    def __repr__(self) -> str:
        levels = [entry["level"] for entry in self.truth["vertebrae"]]
        span = f"{levels[0]}-{levels[-1]}" if levels else "none"
        return f"SpinePhantom(levels={span}, fractured={len(self.fractured)}, ct={self.ct!r})"


def make_spine_phantom(
    *,
    levels: str | Sequence[str] = DEFAULT_LEVELS,
    fractures: str | Sequence[FractureSpec] = (),
    spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
    orientation: str = "LPS",
    seed: int = 0,
    label_convention: str = "verse",
    curvature: float = 1.0,
    noise_hu: float = 15.0,
    fov_mm: Sequence[float] | None = None,
    mask_error: str = "none",
    fracture_signs: bool = True,
    bone_hu: float | None = None,
) -> SpinePhantom:
    """Build a CT-like spine phantom whose vertebral heights and fractures are known exactly.

    Vertebral bodies (elliptic cylinders with a cortical shell) and their posterior elements
    (pedicles, neural arch around the spinal canal, spinous and transverse processes) are
    stacked along a smooth 3D spinal curve with thoracic kyphosis, lumbar lordosis and a mild
    scoliosis, separated by discs, inside an elliptical soft-tissue torso. The geometry is
    built in LPS mm, voxelised on an LPS grid and stored in ``orientation``. The label map marks
    voxels whose centre lies inside a vertebra (as a segmentation does); the CT has partial
    volume, as a scanner's: a voxel cut by a body's surface holds its share of bone and of the
    disc or soft tissue beyond, so the CT shows an endplate's position within the voxel.

    Bodies look like real ones: rounded endplate corners (radius 1.5-3 mm), gently concave
    normal endplates (0.5-1.5 mm central depression that does not reach the walls), mild
    physiological wedging of normal T11-L1 bodies (Ha/Hp 0.85-0.95), an osteophyte at an
    anterior endplate corner of about a quarter of the vertebrae, and biconcave dishes that
    sometimes reach the walls. ``seed`` draws these (per level, so a level looks the same
    whichever levels are drawn) and the noise; the same seed gives the same phantom.

    The CT shows what a fracture looks like beyond the shape (``fracture_signs``, default on;
    see :mod:`fracturelab.synth._fracture_signs`): every fractured vertebra (grade >= 1) gets a
    sclerotic band (150-350 HU denser, 2-6 mm deep) in the cancellous bone under its collapsed
    endplate(s) (a wedge: the anterior part of the superior endplate; biconcave: the central
    parts of both; crush: the whole of both) and a 2-4 mm gap in the cortex of one collapsed
    endplate. Bone density varies: the cancellous CT number is drawn per phantom in 100-300 HU
    and per vertebra around it (``bone_hu`` fixes it for every vertebra). The signs and the
    density change the CT only: the label map and every true height stay as drawn.

    The truth is defined at the walls, independently of any measuring code (see
    :mod:`fracturelab.synth.vertebra`; ``truth["truth_definition"]`` says it in words)::

        {"schema_version": "1.0", "label_convention", "spacing_mm": [LR, AP, SI],
         "orientation", "shape", "truth_definition", "parameters": {..., "mask_error"},
         "vertebrae": [{"level", "label", "kind", "height_loss_pct", "genant_grade",
                        "morphology", "heights_mm": {"anterior", "middle", "posterior"},
                        "height_points_mm": {"anterior" | "middle" | "posterior":
                                             {"superior": LPS, "inferior": LPS}} (or None
                                             without a body),
                        "shape": {"corner_radius_mm", "physiological_wedge_ratio",
                                  "endplate_depression_mm": {"superior", "inferior"},
                                  "osteophyte": None | {"endplate", "r_mm", "length_mm",
                                  "radius_mm", "angle_deg"}, biconcave: "dish_radius",
                                  "dish_reaches_walls"} (or None without a body),
                        "missing_process" (with mask_error "missing-process"),
                        "nominal_height_mm", "body_center_mm" (LPS), "frame": {"superior",
                        "anterior", "right"}, "semi_width_mm", "semi_depth_mm",
                        "in_field_of_view", "has_body", "canal_center_mm",
                        "canal_radius_mm", "cancellous_hu" (None without a body),
                        "fracture_signs": None | {"sclerotic_band": {"endplates",
                                  "extra_hu", "thickness_mm", "depth_below_endplate_mm",
                                  "region": "anterior" (+ "a_min_mm") | "central"
                                  (+ "rho_max") | "whole"}, "cortex_gap": {"endplate",
                                  "a_mm", "width_mm", "center_mm" (LPS)}}}]}

    ``parameters`` also holds ``fracture_signs`` and ``bone_hu``. Local coordinates ``a``
    (anterior) and ``r`` (right) are in the vertebra's ``frame``, from its ``body_center_mm``.

    ``mask_error`` spoils the label map only (the CT and the truth stay true): ``"dilate"`` /
    ``"erode"`` grow or shrink every label by one voxel layer (6-connected), ``"ragged"`` moves
    the walls out or in by one voxel in seeded patches, ``"missing-process"`` leaves one
    seeded process (spinous, right or left transverse) of each vertebra out of the label.

    Args:
        levels: Levels to draw, e.g. ``"T8-L5"`` or a tuple from
            :func:`~fracturelab.spine.levels.parse_level_range`. Default T8-L5.
        fractures: Fractures to draw: :class:`FractureSpec` items or their text form, e.g.
            ``"T12:2:wedge,L1:32%:crush"``. Each level must be among ``levels``.
        spacing_mm: Voxel size ``(left-right, anterior-posterior, superior-inferior)`` in mm,
            whatever the storage order; each in (0, 10].
        orientation: Storage orientation code, one letter from each of L/R, P/A, S/I, e.g.
            ``"LPS"``, ``"RAS"`` or ``"PIR"``.
        seed: Seed of the anatomy, fracture signs, bone density and noise (an integer >= 0).
        label_convention: ``"verse"`` (VerSe numbering, L1 = 20) or ``"totalseg_v2"``
            (TotalSegmentator v2, L1 = 31, S1 = 26; no T13 or L6).
        curvature: Scale of kyphosis, lordosis and scoliosis in [0, 1.5]; 0 is straight.
        noise_hu: Standard deviation of the Gaussian noise in HU (>= 0).
        fov_mm: Exact ``(left-right, anterior-posterior, superior-inferior)`` extent in mm
            centred on the spine; vertebrae may then be cut. Default: all vertebrae plus
            20 mm above and below, the torso and at least 120 mm either side of the spine.
        mask_error: ``"none"`` (default), ``"dilate"``, ``"erode"``, ``"ragged"`` or
            ``"missing-process"``.
        fracture_signs: Draw the sclerotic band and the cortex gap of fractured vertebrae
            (default); ``False`` gives a shape-only phantom.
        bone_hu: Cancellous CT number of every vertebra in HU, in [0, 700]; default ``None``
            draws it per phantom (100-300 HU) and per vertebra.

    Returns:
        The phantom.

    Raises:
        InputError: If any argument is invalid; the message names it and the allowed values.

    """
    started = time.perf_counter()
    names = _check_levels(levels)
    specs = _check_fractures(fractures, names)
    spacing = _check_triple("spacing_mm", spacing_mm, upper=10.0)
    fov = None if fov_mm is None else _check_triple("fov_mm", fov_mm, upper=5000.0)
    code = _check_orientation(orientation)
    _check_number("noise_hu", noise_hu, "a standard deviation in HU >= 0", low=0.0)
    _check_number("curvature", curvature, "a number in [0, 1.5]", low=0.0, high=1.5)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(f"seed {seed!r} is not valid; give an integer >= 0")
    labels = _labels(names, label_convention)
    error = check_mask_error(mask_error)
    fixed_hu = check_bone_hu(bone_hu)
    if not isinstance(fracture_signs, bool):
        raise InputError(
            f"fracture_signs {fracture_signs!r} is not valid; give True (draw the sclerotic "
            "band and cortex gap of fractured vertebrae) or False (shape only)"
        )

    curve = SpineCurve(spine_stack(names), curvature=float(curvature))
    by_level = {spec.level: spec for spec in specs}
    models = [_vertebra(name, curve, by_level.get(name), int(seed)) for name in names]
    density = draw_bone_hu(names, int(seed), fixed_hu)
    signs = _signs(models, int(seed)) if fracture_signs else {}
    missing = {
        name: str(np.random.default_rng([int(seed), level_index(name), 0x9C5]).choice(PROCESSES))
        for name in names
        if error == "missing-process" and name != "C1"
    }
    grid = _render.make_grid(models, spacing, fov)
    label_map = np.zeros(grid.shape, dtype=np.uint8)
    ct = _render.background(grid, models)
    for upper, lower in itertools.pairwise(models):
        adjacent = curve.stack.index(lower.level) == curve.stack.index(upper.level) + 1
        if adjacent and upper.has_body and lower.has_body:
            _render.paint_disc(upper, lower, grid, label_map, ct)
    in_view: dict[str, bool] = {}
    for model in models:
        in_view[model.level], overlap = _render.paint_vertebra(
            model,
            labels[model.level],
            grid,
            label_map,
            ct,
            unlabelled_process=missing.get(model.level),
            cancellous_hu=density[model.level],
            signs=signs.get(model.level),
        )
        if overlap:
            logger.warning("%s overlaps a neighbour in %d voxels", model.level, overlap)
    ct_lps = Volume(_render.finish_ct(ct, noise_hu=float(noise_hu), seed=int(seed)), grid.affine)
    del ct
    labels_lps = Volume(apply_mask_error(label_map, error, seed=int(seed)), grid.affine)
    if code != "LPS":
        ct_lps, labels_lps = ct_lps.reoriented(code), labels_lps.reoriented(code)

    truth: dict[str, Any] = {
        "schema_version": TRUTH_SCHEMA_VERSION,
        "label_convention": label_convention,
        "spacing_mm": list(spacing),
        "orientation": code,
        "shape": list(ct_lps.shape),
        "truth_definition": TRUTH_DEFINITION,
        "parameters": {
            "levels": list(names),
            "fractures": [str(spec) for spec in specs],
            "seed": int(seed),
            "curvature": float(curvature),
            "noise_hu": float(noise_hu),
            "fov_mm": None if fov is None else list(fov),
            "mask_error": error,
            "fracture_signs": fracture_signs,
            "bone_hu": fixed_hu,
        },
        "vertebrae": [
            model.truth_record(labels[model.level], in_field_of_view=in_view[model.level])
            for model in models
        ],
    }
    for entry, model in zip(truth["vertebrae"], models, strict=True):
        if entry["level"] in missing:
            entry["missing_process"] = missing[entry["level"]]
        entry["cancellous_hu"] = density[model.level] if model.has_body else None
        found = signs.get(model.level)
        entry["fracture_signs"] = None if found is None else found.as_dict(model)
    logger.debug(
        "spine phantom %s built in %.1f s",
        "x".join(map(str, grid.shape)),
        time.perf_counter() - started,
    )
    return SpinePhantom(ct=ct_lps, vertebrae=labels_lps, truth=truth)


def _vertebra(
    name: str, curve: SpineCurve, fracture: FractureSpec | None, seed: int
) -> SyntheticVertebra:
    """One vertebra on the curve, its body's shape drawn from ``(seed, level)``."""
    size = nominal_size(name)
    plain = SyntheticVertebra(
        name,
        center_mm=curve.center_mm(name),
        frame=curve.frame(name),
        size=size,
        fracture=fracture,
    )
    rng = np.random.default_rng([seed, level_index(name), 0xB0D])
    shape = draw_body_shape(name, plain.kind, size.height_mm, rng)
    return SyntheticVertebra(
        name,
        center_mm=plain.center_mm,
        frame=(plain.right, plain.anterior, plain.superior),
        size=size,
        fracture=fracture,
        shape=shape,
    )


def _signs(models: Sequence[SyntheticVertebra], seed: int) -> dict[str, FractureSigns]:
    """The fracture signs of each fractured vertebra, drawn from ``(seed, level)``."""
    found: dict[str, FractureSigns] = {}
    for model in models:
        rng = np.random.default_rng([seed, level_index(model.level), 0x5C1])
        drawn = draw_fracture_signs(model, rng)
        if drawn is not None:
            found[model.level] = drawn
    return found


def _check_levels(levels: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(levels, str):
        return parse_level_range(levels)
    if not isinstance(levels, Sequence) or not all(isinstance(n, str) for n in levels):
        raise InputError(
            f"levels {levels!r} is not valid; give names like ('T12', 'L1') or 'T8-L5'"
        )
    if not levels:
        raise InputError("levels is empty; give at least one level, e.g. 'T8-L5'")
    return tuple(sorted({LEVELS[level_index(name)] for name in levels}, key=level_index))


def _check_fractures(
    fractures: str | Sequence[FractureSpec], names: tuple[str, ...]
) -> tuple[FractureSpec, ...]:
    if isinstance(fractures, str):
        specs = parse_fractures(fractures)
    else:
        specs = tuple(fractures)
        for spec in specs:
            if not isinstance(spec, FractureSpec):
                raise InputError(
                    f"fractures item {spec!r} is not a FractureSpec; give FractureSpec items "
                    "or text like 'T12:2:wedge'"
                )
    seen: set[str] = set()
    span = f"{names[0]}-{names[-1]}" if len(names) > 1 else names[0]
    for spec in specs:
        if spec.level in seen:
            raise InputError(f"fractures: level {spec.level} is given twice; give each level once")
        seen.add(spec.level)
        if spec.level not in names:
            raise InputError(
                f"fracture {spec}: level {spec.level} is not among the levels drawn ({span}); "
                "add it to levels or choose a drawn level"
            )
    return specs


def _check_triple(name: str, value: Sequence[float], *, upper: float) -> tuple[float, float, float]:
    hint = (
        f"give three numbers in (0, {upper:g}] mm "
        "(left-right, anterior-posterior, superior-inferior)"
    )
    try:
        numbers_ = [float(v) for v in value]
    except (TypeError, ValueError):
        raise InputError(f"{name} {value!r} is not valid; {hint}") from None
    if len(numbers_) != 3 or not all(math.isfinite(v) and 0 < v <= upper for v in numbers_):
        raise InputError(f"{name} {value!r} is not valid; {hint}")
    return numbers_[0], numbers_[1], numbers_[2]


def _check_number(
    name: str, value: float, allowed: str, *, low: float, high: float = math.inf
) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
        or not low <= float(value) <= high
    ):
        raise InputError(f"{name} {value!r} is not valid; give {allowed}")


def _check_orientation(orientation: str) -> str:
    code = orientation.upper() if isinstance(orientation, str) else ""
    if len(code) != 3 or sorted(_AXIS_LETTERS.get(ch, -1) for ch in code) != [0, 1, 2]:
        raise InputError(
            f"orientation {orientation!r} is not valid; use one letter from each of L/R, P/A "
            "and S/I, e.g. 'RAS', 'LPS' or 'PIR'"
        )
    return code


def _labels(names: tuple[str, ...], convention: str) -> dict[str, int]:
    if convention == "verse":
        return {name: VERSE_LABELS[name] for name in names}
    if convention == "totalseg_v2":
        missing = [name for name in names if name in ("T13", "L6")]
        if missing:
            raise InputError(
                f"label_convention 'totalseg_v2' has no label for {', '.join(missing)}; "
                "use label_convention 'verse' or leave out transitional levels"
            )
        return {name: 26 if name == "S1" else 51 - VERSE_LABELS[name] for name in names}
    raise InputError(
        f"label_convention {convention!r} is not valid; use one of {', '.join(LABEL_CONVENTIONS)}"
    )
