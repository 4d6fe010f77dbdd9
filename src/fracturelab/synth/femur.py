"""Synthetic femur radiographs with a known fracture centre: atypical (AFF) or normal (NFF).

The phantom feeds the two-stage femur experiment (``docs/design.md``): a localizer regresses
the fracture centre from a downsampled image (~256 px longest side), a classifier labels AFF vs
NFF from a 224 x 224 patch cut at native resolution around the centre, compared with a
baseline that downsamples the whole radiograph (padded to square) to 224 x 224. For that
comparison to mean something, the phantom is built so that

* **the fracture is visible at low resolution in both classes**: a cleft of 0.5-1 mm opened
  by a distraction of 1-3.5 mm (1.5-4.5 mm in all), the distal fragment slid 0-7 mm along
  the line and angulated 0-8 degrees about a hinge on one cortex, and 6-20 mm of soft-tissue
  swelling (haematoma);
* **the coarse appearance barely separates the classes**: AFFs are transverse (-12 to +12
  degrees, the lateral cortex crossed transversely) and 40 % of NFFs are simple transverse
  shaft fractures (-15 to +15 degrees), with the same displacement, swelling and position
  (25 mm below the lesser trochanter to 120 mm above the distal end); the other NFFs are
  oblique (25-55 degrees), spiral (50-68 degrees, the S-shaped projection of a helix) or
  comminuted (in 60 % a butterfly wedge, and 2-4 corner chips of 1.5-4 mm);
* **the decisive AFF cue is fine detail**: focal periosteal thickening of the lateral cortex
  at the fracture ("beaking": a bump of 0.7-1.6 mm, Gaussian width 3.5-7 mm along the
  shaft), endosteal thickening of 0.5-1.2 mm there, and in 75 % a medial spike (the line
  turns 1.0-2.5 mm along the shaft across the medial cortex). A weaker fine cue: AFF lines
  are a little less jagged (0.05-0.2 mm against 0.1-0.35 mm). NFFs have no focal
  thickening; both classes share a gentle periosteal waviness of up to 0.3 mm.

What downsampling does to those sizes: a 2500 px image at 0.15 mm (375 mm; the patient is
magnified 1-1.12 times) brought to 224 px is shrunk 11.2 times, so one output pixel is
1.67 mm. The beak becomes 0.4-1.1 px high and 3.5-8 px wide (full width at half height);
the endosteal thickening 0.3-0.8 px; the medial spike 0.6-1.7 px; line jaggedness well
below a pixel. The cleft (0.9-3 px), the slide (up to 4.7 px), the angulation and the
swelling (4-13 px) remain. At native resolution the beak is 3.5-18 px high (0.1-0.2 mm
pixels) and 30-130 px wide.

Caveat for the patch classifier: a 224 px native patch covers 22-45 mm, while the shaft is
25-36 mm wide on the detector. With pixels below 0.11-0.16 mm (by shaft size) the lateral
cortex, where the beak is, lies at or beyond the edge of a patch centred on the shaft axis;
the endosteal thickening, the lateral end of the line and its smoothness stay inside. A
patch of fixed size in mm (or a larger native patch) keeps the beak in view.

Images vary: width and height each drawn independently (default 1000-3500 px), pixel spacing
(default 0.1-0.2 mm), projection magnification 1-1.12, left or right femur (the lateral cortex
is on the image's left for a right femur, AP view), tilt of -10 to +10 degrees, placement of
the fracture (35-65 % of the width, 30-70 % of the height), shaft radius 12.5-16 mm with a
cortex of 30-42 % of it, bowing, thigh size, exposure window, gamma, heel effect, and noise
that grows with attenuation like quantum noise (standard deviation 0.02-0.06 attenuation
units against ~1 for a cortex seen edge-on; the sum of two uniform variates, close to
Gaussian and twice as fast to draw). The femoral head, neck, trochanters and pelvis appear
when the field of view reaches them, the knee, tibia and fibula likewise. Several images per
patient (default 1-5, like follow-up views) share the anatomy, the fracture, the side and the
label; each has its own size, spacing, magnification, tilt, placement, exposure and noise.

Coordinates follow ``docs/design.md`` ("Conventions"): points are ``[x, y]`` = ``[column,
row]`` of the original image, pixel centres at integers. The fracture centre is the middle of
the fracture cleft on the shaft axis: half-way between the centre of the proximal fragment's
fracture line and the same point of the distal fragment after its displacement. Drawing a
3000 x 2500 image takes about 0.2 s on one core; writing it as a 16-bit PNG (zlib level 1,
run-length strategy) about as long again.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fracturelab.errors import InputError
from fracturelab.femur.contract import AFF, MANIFEST_COLUMNS, NFF
from fracturelab.imaging.radiograph import Radiograph
from fracturelab.outputs import atomic_path, atomic_write_text, write_csv
from fracturelab.progress import progress_bar
from fracturelab.synth._femur_checks import (
    MAX_SIZE_PX,
    MAX_SPACING_MM,
    MIN_SIZE_PX,
    check_int,
    check_int_range,
    check_label,
    check_real,
    check_real_range,
    check_seed,
    check_size,
    check_spacing,
)
from fracturelab.synth._femur_render import build_scene, render, scene_truth
from fracturelab.synth._femur_spec import (
    FRACTURE_KINDS,
    SIDES,
    FemurAnatomy,
    FemurFracture,
    FemurSpec,
    FemurView,
    sample_anatomy,
    sample_fracture,
    sample_view,
)

__all__ = [
    "FRACTURE_KINDS",
    "MANIFEST_COLUMNS",
    "FemurAnatomy",
    "FemurFracture",
    "FemurPhantom",
    "FemurSpec",
    "FemurView",
    "make_femur_dataset",
    "make_femur_radiograph",
    "render_femur_radiograph",
    "sample_femur_spec",
    "write_png16",
]

#: Version of the ``truth.json`` layout.
TRUTH_SCHEMA_VERSION = "1.0"


@dataclass
class FemurPhantom:
    """A synthetic femur radiograph and its ground truth.

    Attributes:
        pixels: Shape ``(rows, columns)`` uint16, bone bright (what the PNG holds).
        spec: The parameters it was drawn from.
        truth: JSON-serialisable ground truth (see :func:`render_femur_radiograph`).

    """

    pixels: npt.NDArray[np.uint16]
    spec: FemurSpec
    truth: dict[str, Any] = field(repr=False)

    @cached_property
    def radiograph(self) -> Radiograph:
        """The image as a :class:`Radiograph`: float32 in [0, 1], square pixels."""
        array = self.pixels.astype(np.float32)
        array *= np.float32(1.0 / 65535.0)
        spacing = self.spec.view.spacing_mm
        return Radiograph(array, (spacing, spacing), spacing_source="file")

    @property
    def label(self) -> str:
        """``"AFF"`` or ``"NFF"``."""
        return self.spec.fracture.label

    @property
    def center_xy_px(self) -> tuple[float, float]:
        """Fracture centre ``[x, y]`` in pixels of this image (sub-pixel)."""
        return self.spec.view.center_xy_px

    def save_png(self, path: str | Path) -> Path:
        """Write the image as a 16-bit grey PNG with its pixel spacing (atomically)."""
        return write_png16(path, self.pixels, self.spec.view.spacing_mm)

    def __repr__(self) -> str:
        width, height = self.spec.view.size_px
        x, y = self.center_xy_px
        return (
            f"FemurPhantom({self.label} {self.spec.fracture.kind}, {self.spec.anatomy.side}, "
            f"{width} x {height} px at {self.spec.view.spacing_mm:.3g} mm, "
            f"centre [{x:.1f}, {y:.1f}])"
        )


def write_png16(path: str | Path, pixels: npt.NDArray[np.uint16], spacing_mm: float) -> Path:
    """Write a 16-bit grey PNG atomically, with the spacing in the pHYs chunk (pixels per m).

    The exact spacing is also stored as the text chunk ``pixel_spacing_mm`` (pHYs holds
    whole pixels per metre).

    Args:
        path: Target file.
        pixels: Shape ``(rows, columns)`` uint16.
        spacing_mm: Square pixel spacing in mm.

    Returns:
        The path written.

    """
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("pixel_spacing_mm", f"{spacing_mm:.6g}")
    dpi = 25.4 / spacing_mm  # Pillow writes pHYs as round(dpi / 0.0254) pixels per metre
    with atomic_path(path) as temporary:
        Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint16)).save(
            temporary,
            format="PNG",
            compress_level=1,
            compress_type=zlib.Z_RLE,  # faster than the default and smaller on noisy images
            pnginfo=info,
            dpi=(dpi, dpi),
        )
    return Path(path)


def sample_femur_spec(
    label: str = AFF,
    *,
    seed: int | np.random.Generator = 0,
    size_px: Sequence[int] = (2500, 3000),
    spacing_mm: float = 0.15,
    side: str | None = None,
    kind: str | None = None,
    rotation_deg: float | None = None,
    angle_deg: float | None = None,
    noise: float | None = None,
    anatomy: FemurAnatomy | None = None,
) -> FemurSpec:
    """Draw the parameters of one femur radiograph; see :func:`make_femur_radiograph`."""
    name = check_label(label)
    size = check_size(size_px)
    spacing = check_spacing(spacing_mm)
    if side is not None and side not in SIDES:
        raise InputError(f"side {side!r} is not valid; use one of {', '.join(SIDES)} or None")
    if kind is not None and kind not in FRACTURE_KINDS:
        raise InputError(
            f"kind {kind!r} is not valid; use one of {', '.join(FRACTURE_KINDS)} or None"
        )
    if name == AFF and kind not in (None, "transverse"):
        raise InputError(f"kind {kind!r} is not valid for an AFF; AFFs are 'transverse'")
    for option, value, limit in (
        ("rotation_deg", rotation_deg, 45.0),
        ("angle_deg", angle_deg, 75.0),
    ):
        if value is not None:
            check_real(option, value, f"degrees in [-{limit:g}, {limit:g}] or None", -limit, limit)
    if noise is not None:
        check_real("noise", noise, "a noise level >= 0 (about 0.02-0.06) or None", 0.0, 1.0)
    if anatomy is not None and side is not None and anatomy.side != side:
        raise InputError(f"side {side!r} differs from anatomy.side {anatomy.side!r}; give one")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(check_seed(seed))
    body = sample_anatomy(rng, side) if anatomy is None else anatomy
    fracture = sample_fracture(rng, name, body, kind=kind, angle_deg=angle_deg)
    view = sample_view(rng, size, spacing, rotation_deg=rotation_deg, noise=noise)
    return FemurSpec(body, fracture, view)


def make_femur_radiograph(
    label: str = AFF,
    *,
    seed: int | np.random.Generator = 0,
    size_px: Sequence[int] = (2500, 3000),
    spacing_mm: float = 0.15,
    side: str | None = None,
    kind: str | None = None,
    rotation_deg: float | None = None,
    angle_deg: float | None = None,
    noise: float | None = None,
    anatomy: FemurAnatomy | None = None,
) -> FemurPhantom:
    """Draw one synthetic femur radiograph with a fracture of known centre and class.

    Args:
        label: ``"AFF"`` or ``"NFF"`` (any case).
        seed: Integer seed >= 0 or a NumPy generator; everything random follows from it.
        size_px: ``(width, height)`` in pixels, each in [32, 20000].
        spacing_mm: Square pixel spacing in mm, in (0, 5].
        side: ``"left"`` or ``"right"`` femur; random when ``None``.
        kind: Fracture pattern, one of ``transverse``, ``oblique``, ``spiral``,
            ``comminuted`` (AFF: only ``transverse``); random by class when ``None``.
        rotation_deg: Tilt of the shaft from vertical, degrees; random in [-10, 10] if ``None``.
        angle_deg: Mean angle of the fracture line to the transverse, degrees; random by
            pattern when ``None``.
        noise: Noise standard deviation in attenuation units (0: none); random in
            [0.02, 0.06] when ``None``.
        anatomy: A patient's anatomy to reuse (follow-up views), else drawn.

    Returns:
        The phantom; ``phantom.radiograph`` is the float image, ``phantom.truth`` the truth.

    Raises:
        InputError: If an argument is invalid; the message names it and the allowed values.

    """
    spec = sample_femur_spec(
        label,
        seed=seed,
        size_px=size_px,
        spacing_mm=spacing_mm,
        side=side,
        kind=kind,
        rotation_deg=rotation_deg,
        angle_deg=angle_deg,
        noise=noise,
        anatomy=anatomy,
    )
    return render_femur_radiograph(spec)


def render_femur_radiograph(spec: FemurSpec) -> FemurPhantom:
    """Draw the radiograph described by ``spec`` and collect its ground truth.

    The truth (pixels are ``[x, y]`` of this image; mm of the detector unless named
    ``patient``) is::

        {"schema_version", "label", "kind", "side", "center_xy_px", "center_mm",
         "pixel_spacing_mm", "size_px", "magnification", "rotation_deg",
         "lateral_xy", "distal_xy" (unit vectors in the image),
         "fracture": {"angle_deg", "level_below_lesser_trochanter_mm", "gap_mm",
                      "distraction_mm", "slide_mm", "angulation_deg", "hinge",
                      "swelling_mm", "line_xy_px", "distal_line_xy_px",
                      "lateral_break_xy_px", "fragments", "butterfly", "chips"},
         "aff_cues": {"beak_mm", "beak_length_mm", "endosteal_mm", "spike_mm"} (patient mm;
                      zeros for NFF),
         "anatomy": {"shaft_diameter_mm", "cortex_mm" (patient mm), "head_in_view",
                     "knee_in_view"},
         "view": {"window", "gamma", "heel", "noise"}}

    ``line_xy_px`` runs along the proximal fragment's fracture line from the medial to the
    lateral outer cortex; ``distal_line_xy_px`` is the same line on the displaced distal
    fragment; ``lateral_break_xy_px`` is where the proximal line meets the lateral surface.
    """
    scene = build_scene(spec)
    pixels = render(scene)
    return FemurPhantom(pixels=pixels, spec=spec, truth=scene_truth(scene, TRUTH_SCHEMA_VERSION))


@dataclass(frozen=True)
class _Patient:
    patient_id: str
    label: str
    n_images: int
    seed: int


def _plan_patients(
    n_images: int, seed: int, aff_fraction: float, per_patient: tuple[int, int]
) -> list[_Patient]:
    """Patients with their image counts; round(aff_fraction * patients) of them are AFF."""
    rng = np.random.default_rng([seed, 0])
    counts: list[int] = []
    left = n_images
    while left > 0:
        counts.append(min(int(rng.integers(per_patient[0], per_patient[1] + 1)), left))
        left -= counts[-1]
    n_aff = round(aff_fraction * len(counts))
    aff = set(rng.permutation(len(counts))[:n_aff].tolist())
    digits = max(4, len(str(len(counts))))
    return [
        _Patient(f"P{k + 1:0{digits}d}", AFF if k in aff else NFF, count, k + 1)
        for k, count in enumerate(counts)
    ]


def make_femur_dataset(
    out_dir: str | Path,
    n_images: int,
    *,
    seed: int = 0,
    aff_fraction: float = 0.2,
    size_range_px: Sequence[int] = (1000, 3500),
    spacing_range_mm: Sequence[float] = (0.1, 0.2),
    images_per_patient: Sequence[int] = (1, 5),
    progress: bool = True,
) -> Path:
    """Write a folder of synthetic femur radiographs, a femur manifest and the ground truth.

    Writes ``out_dir/images/<patient>_<k>.png`` (16-bit grey, bone bright, spacing in pHYs),
    ``out_dir/truth.json`` (``{"schema_version", "parameters", "images": [truth of each image
    plus "image" and "patient_id"]}``) and, last, ``out_dir/manifest.csv`` with the columns
    ``image,patient_id,label,center_x,center_y,pixel_spacing_mm`` (paths relative to the CSV).
    Every file is written atomically, so an interrupted run leaves no manifest that points at
    missing images. Patients get 1-5 images (follow-up views: same anatomy, fracture, side and
    label; their own size, spacing, tilt, exposure and noise); ``round(aff_fraction *
    patients)`` patients are AFF.

    Args:
        out_dir: Destination folder; created if missing.
        n_images: Number of images, >= 1.
        seed: Integer seed >= 0; the same seed gives the same files.
        aff_fraction: Share of AFF patients, in [0, 1].
        size_range_px: ``(min, max)`` of the image width and height (drawn independently),
            pixels, 32 <= min <= max <= 20000.
        spacing_range_mm: ``(min, max)`` pixel spacing in mm, 0 < min <= max <= 5.
        images_per_patient: ``(min, max)`` images per patient, 1 <= min <= max.
        progress: Show a progress bar (rich) on the terminal.

    Returns:
        Path of ``manifest.csv``.

    Raises:
        InputError: If an argument is invalid; the message names it and the allowed values.

    """
    count = check_int("n_images", n_images, "an integer >= 1", 1)
    start = check_seed(seed)
    fraction = check_real("aff_fraction", aff_fraction, "a share in [0, 1]", 0.0, 1.0)
    sizes = check_int_range("size_range_px", size_range_px, MIN_SIZE_PX, MAX_SIZE_PX, "pixels")
    spacings = check_real_range("spacing_range_mm", spacing_range_mm, MAX_SPACING_MM, "mm")
    per_patient = check_int_range("images_per_patient", images_per_patient, 1, 1000, "images")
    folder = Path(out_dir)
    for path in (folder, folder / "images"):
        if path.exists() and not path.is_dir():
            raise InputError(f"out_dir: {path} is a file, not a folder; give a folder")
    (folder / "images").mkdir(parents=True, exist_ok=True)
    patients = _plan_patients(count, start, fraction, per_patient)
    rows: list[dict[str, str]] = []
    records: list[dict[str, Any]] = []
    with progress_bar("femur radiographs", count, show=progress) as advance:
        for patient in patients:
            rng = np.random.default_rng([start, patient.seed])
            anatomy = sample_anatomy(rng)
            fracture = sample_fracture(rng, patient.label, anatomy)
            for k in range(1, patient.n_images + 1):
                size = (
                    int(rng.integers(sizes[0], sizes[1] + 1)),
                    int(rng.integers(sizes[0], sizes[1] + 1)),
                )
                spacing = round(float(rng.uniform(spacings[0], spacings[1])), 5)
                phantom = render_femur_radiograph(
                    FemurSpec(anatomy, fracture, sample_view(rng, size, spacing))
                )
                name = f"images/{patient.patient_id}_{k}.png"
                phantom.save_png(folder / name)
                x, y = phantom.center_xy_px
                rows.append(
                    {
                        "image": name,
                        "patient_id": patient.patient_id,
                        "label": patient.label,
                        "center_x": f"{x:.3f}",
                        "center_y": f"{y:.3f}",
                        "pixel_spacing_mm": f"{spacing:g}",
                    }
                )
                records.append({"image": name, "patient_id": patient.patient_id, **phantom.truth})
                advance()
    parameters = {
        "n_images": count,
        "seed": start,
        "aff_fraction": fraction,
        "size_range_px": list(sizes),
        "spacing_range_mm": list(spacings),
        "images_per_patient": list(per_patient),
    }
    truth = {"schema_version": TRUTH_SCHEMA_VERSION, "parameters": parameters, "images": records}
    atomic_write_text(folder / "truth.json", json.dumps(truth, indent=1) + "\n")
    return write_csv(folder / "manifest.csv", MANIFEST_COLUMNS, rows)
