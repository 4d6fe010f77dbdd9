"""A whole spine dataset of phantoms: scans, patients, tiers and true grades, in the dataset form.

:func:`make_spine_set` writes what :func:`fracturelab.spine.dataset.read_dataset` reads (the
two-CSV form of ``docs/spine-dataset.md``), for tests, demos and benchmarks::

    <out>/scans/<case_id>/ct.nii.gz, vertebrae.nii.gz (not for unlabelled scans), truth.json
    <out>/scans.csv    case_id, patient_id, ct, vertebrae (empty: unlabelled)
    <out>/grades.csv   case_id, level, genant_grade, morphology (graded scans, every vertebra)
    <out>/set.json     the parameters and, per scan, its patient, tier and fractures
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.imaging.io import write_volume
from fracturelab.outputs import atomic_write_text, write_csv
from fracturelab.progress import progress_bar
from fracturelab.spine.dataset.model import TIERS
from fracturelab.spine.levels import parse_level_range
from fracturelab.synth.fractures import FRACTURE_KINDS, UNFRACTURABLE_LEVELS, FractureSpec
from fracturelab.synth.spine_phantom import make_spine_phantom

__all__ = ["SCANS_CSV_COLUMNS", "SpineSetScan", "make_spine_set", "plan_spine_set"]

#: Columns of the ``scans.csv`` written (the tier follows from the label map and the grades).
SCANS_CSV_COLUMNS: tuple[str, ...] = ("case_id", "patient_id", "ct", "vertebrae")
#: Columns of the ``grades.csv`` written.
GRADES_CSV_COLUMNS: tuple[str, ...] = ("case_id", "level", "genant_grade", "morphology")
#: Version of ``set.json``.
SET_SCHEMA_VERSION = "1.0"
#: Default levels: five thoracolumbar vertebrae, where most osteoporotic fractures are.
DEFAULT_LEVELS = "T11-L3"
#: Field of view across the spine (left-right, anterior-posterior), mm; room for the processes.
_FOV_ACROSS_MM = (150.0, 140.0)
#: Field of view along the spine per level drawn, mm.
_FOV_PER_LEVEL_MM = 48.0
#: Height loss drawn for each Genant grade (inside the grade's range), %.
_LOSS_RANGE_PCT = {1: (20.5, 24.5), 2: (26.0, 39.0), 3: (41.0, 60.0)}
#: Height loss of a mild deformity that is not a fracture (grade 0), %.
_MILD_RANGE_PCT = (8.0, 18.0)
_ORIENTATIONS = ("LPS", "RAS", "PIR", "LAS")


@dataclass(frozen=True)
class SpineSetScan:
    """The plan of one scan of a phantom set.

    Attributes:
        case_id: Name of the scan (``S0001``).
        patient_id: Its patient (``P0001``); follow-up scans of a patient share the fractures.
        tier: ``graded``, ``delineated`` or ``unlabelled``.
        fractures: The fractures drawn (and mild deformities, grade 0).
        seed: Seed of the phantom (shape details and noise).
        curvature: Spine curvature of the patient.
        noise_hu: Noise standard deviation, HU.
        orientation: Storage orientation of the files.

    """

    case_id: str
    patient_id: str
    tier: str
    fractures: tuple[FractureSpec, ...]
    seed: int
    curvature: float
    noise_hu: float
    orientation: str


def plan_spine_set(
    n: int,
    seed: int = 0,
    *,
    levels: str = DEFAULT_LEVELS,
    graded_share: float = 0.5,
    unlabelled_share: float = 0.2,
    fracture_share: float = 0.6,
    scans_per_patient: Sequence[int] = (1, 3),
) -> list[SpineSetScan]:
    """Draw the scans of a set: patients, tiers, fractures and acquisition, all seeded.

    Patients get ``scans_per_patient`` scans (more often one); a share ``fracture_share``
    of them has one or two fractures (random levels, grades 1-3, kinds wedge / biconcave /
    crush, height loss drawn inside the grade's range), and a fifth of all patients a mild
    deformity below 20 % (grade 0). Exactly ``round(graded_share * n)`` scans are graded and
    ``round(unlabelled_share * n)`` unlabelled, drawn at random; the rest are delineated.

    Args:
        n: Number of scans, >= 1.
        seed: Integer seed >= 0; the same seed gives the same plan.
        levels: Levels drawn, e.g. ``"T11-L3"``.
        graded_share: Share of graded scans, in [0, 1].
        unlabelled_share: Share of unlabelled scans, in [0, 1 - graded_share].
        fracture_share: Share of patients with fractures, in [0, 1].
        scans_per_patient: ``(min, max)`` scans per patient, 1 <= min <= max.

    Returns:
        One plan per scan, in order.

    Raises:
        InputError: If an argument is invalid; the message names it and the allowed values.

    """
    count = _check_int("n", n, 1)
    start = _check_int("seed", seed, 0)
    names = parse_level_range(levels)
    graded = _check_share("graded_share", graded_share)
    unlabelled = _check_share("unlabelled_share", unlabelled_share)
    fractured = _check_share("fracture_share", fracture_share)
    if graded + unlabelled > 1.0 + 1e-9:
        raise InputError(
            f"graded_share {graded:g} + unlabelled_share {unlabelled:g} is more than 1; "
            "lower one of them (the rest of the scans are delineated)"
        )
    low, high = _check_per_patient(scans_per_patient)
    fracturable = [name for name in names if name not in UNFRACTURABLE_LEVELS]
    if not fracturable:
        raise InputError(f"levels {levels!r} hold no level that can fracture; give e.g. T11-L3")
    rng = np.random.default_rng([start, 0x5E7])
    n_graded = round(graded * count)
    n_unlabelled = min(round(unlabelled * count), count - n_graded)
    tiers = [TIERS[0]] * n_graded + [TIERS[2]] * n_unlabelled
    tiers += [TIERS[1]] * (count - len(tiers))
    order = rng.permutation(count)
    digits = max(4, len(str(count)))
    plans: list[SpineSetScan] = []
    patient = 0
    while len(plans) < count:
        patient += 1
        weights = np.array([1.0 / (k - low + 1) ** 2 for k in range(low, high + 1)])
        scans = int(rng.choice(np.arange(low, high + 1), p=weights / weights.sum()))
        fractures = _draw_fractures(rng, fracturable, fractured)
        curvature = round(float(rng.uniform(0.5, 1.3)), 3)
        for _ in range(min(scans, count - len(plans))):
            index = len(plans)
            plans.append(
                SpineSetScan(
                    case_id=f"S{index + 1:0{digits}d}",
                    patient_id=f"P{patient:0{digits}d}",
                    tier=tiers[int(order[index])],
                    fractures=fractures,
                    seed=int(rng.integers(0, 2**31 - 1)),
                    curvature=curvature,
                    noise_hu=round(float(rng.uniform(8.0, 30.0)), 2),
                    orientation=str(rng.choice(_ORIENTATIONS)),
                )
            )
    return plans


def make_spine_set(
    out_dir: str | Path,
    n: int,
    seed: int = 0,
    *,
    spacing_mm: Sequence[float] = (2.0, 2.0, 2.0),
    levels: str = DEFAULT_LEVELS,
    graded_share: float = 0.5,
    unlabelled_share: float = 0.2,
    fracture_share: float = 0.6,
    scans_per_patient: Sequence[int] = (1, 3),
    fracture_signs: bool = True,
    progress: bool = True,
) -> Path:
    """Write a phantom spine dataset (see the module docstring for the layout).

    Each scan is a :func:`~fracturelab.synth.make_spine_phantom` of ``levels`` in a cropped
    field of view (150 x 140 mm across, 48 mm per level along the spine), planned by
    :func:`plan_spine_set`; bone density is drawn per scan from its seed, and fractured
    vertebrae show their signs in the CT unless ``fracture_signs`` is off. The grades are the
    phantom's truth: the true Genant grade and morphology of every vertebra of a graded scan.
    The CSVs are written last and atomically, so an interrupted run leaves no CSV naming
    missing files.

    Args:
        out_dir: Destination folder; created if missing.
        n: Number of scans, >= 1.
        seed: Integer seed >= 0; the same seed gives the same files.
        spacing_mm: Voxel size (left-right, anterior-posterior, superior-inferior), mm.
        levels: Levels drawn, e.g. ``"T11-L3"``.
        graded_share: Share of graded scans, in [0, 1].
        unlabelled_share: Share of unlabelled scans (no label map), in [0, 1 - graded_share].
        fracture_share: Share of patients with fractures, in [0, 1].
        scans_per_patient: ``(min, max)`` scans per patient.
        fracture_signs: Draw the fracture signs in the CT (sclerotic band, broken endplate
            cortex; see :func:`~fracturelab.synth.make_spine_phantom`); ``False`` leaves only
            the shape, for comparisons.
        progress: Show a progress bar (rich).

    Returns:
        Path of ``scans.csv`` (``grades.csv`` lies beside it).

    Raises:
        InputError: If an argument is invalid or ``out_dir`` is a file.

    """
    plans = plan_spine_set(
        n,
        seed,
        levels=levels,
        graded_share=graded_share,
        unlabelled_share=unlabelled_share,
        fracture_share=fracture_share,
        scans_per_patient=scans_per_patient,
    )
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"out_dir {folder}: is a file, not a folder; give a folder")
    names = parse_level_range(levels)
    fov = (*_FOV_ACROSS_MM, _FOV_PER_LEVEL_MM * len(names))
    scans: list[dict[str, str]] = []
    grades: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    with progress_bar("spine phantoms", len(plans), show=progress) as advance:
        for plan in plans:
            phantom = make_spine_phantom(
                levels=names,
                fractures=plan.fractures,
                spacing_mm=spacing_mm,
                orientation=plan.orientation,
                seed=plan.seed,
                curvature=plan.curvature,
                noise_hu=plan.noise_hu,
                fov_mm=fov,
                fracture_signs=fracture_signs,
            )
            where = folder / "scans" / plan.case_id
            where.mkdir(parents=True, exist_ok=True)
            write_volume(phantom.ct, where / "ct.nii.gz")
            labels = ""
            if plan.tier != TIERS[2]:
                write_volume(phantom.vertebrae, where / "vertebrae.nii.gz")
                labels = f"scans/{plan.case_id}/vertebrae.nii.gz"
            atomic_write_text(where / "truth.json", json.dumps(phantom.truth, indent=1) + "\n")
            scans.append(
                {
                    "case_id": plan.case_id,
                    "patient_id": plan.patient_id,
                    "ct": f"scans/{plan.case_id}/ct.nii.gz",
                    "vertebrae": labels,
                }
            )
            if plan.tier == TIERS[0]:
                grades.extend(_grade_rows(plan.case_id, phantom.truth))
            records.append(_record(plan))
            advance()
    parameters = {
        "n": len(plans),
        "seed": int(seed),
        "spacing_mm": [float(v) for v in spacing_mm],
        "levels": list(names),
        "fov_mm": list(fov),
        "graded_share": float(graded_share),
        "unlabelled_share": float(unlabelled_share),
        "fracture_share": float(fracture_share),
        "scans_per_patient": [int(v) for v in scans_per_patient],
        "fracture_signs": fracture_signs,
    }
    summary = {"schema_version": SET_SCHEMA_VERSION, "parameters": parameters, "scans": records}
    atomic_write_text(folder / "set.json", json.dumps(summary, indent=1) + "\n")
    write_csv(folder / "grades.csv", GRADES_CSV_COLUMNS, grades)
    return write_csv(folder / "scans.csv", SCANS_CSV_COLUMNS, scans)


def _grade_rows(case_id: str, truth: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "case_id": case_id,
            "level": entry["level"],
            "genant_grade": int(entry["genant_grade"]),
            "morphology": entry["morphology"],
        }
        for entry in truth["vertebrae"]
        if entry["has_body"] and entry["in_field_of_view"]
    ]


def _record(plan: SpineSetScan) -> dict[str, Any]:
    return {
        "case_id": plan.case_id,
        "patient_id": plan.patient_id,
        "tier": plan.tier,
        "fractures": [str(spec) for spec in plan.fractures],
        "seed": plan.seed,
        "curvature": plan.curvature,
        "noise_hu": plan.noise_hu,
        "orientation": plan.orientation,
        "truth": f"scans/{plan.case_id}/truth.json",
    }


def _draw_fractures(
    rng: np.random.Generator, fracturable: list[str], share: float
) -> tuple[FractureSpec, ...]:
    specs: list[FractureSpec] = []
    free = list(fracturable)
    if rng.random() < share:
        for _ in range(min(len(free), 1 + int(rng.random() < 0.3))):
            level = str(free.pop(int(rng.integers(len(free)))))
            grade = int(rng.integers(1, 4))
            loss = round(float(rng.uniform(*_LOSS_RANGE_PCT[grade])), 2)
            kind: Any = str(rng.choice(FRACTURE_KINDS))  # FractureSpec checks the kind
            specs.append(FractureSpec(level, kind, loss))
    if free and rng.random() < 0.2:
        level = str(free.pop(int(rng.integers(len(free)))))
        loss = round(float(rng.uniform(*_MILD_RANGE_PCT)), 2)
        mild: Any = str(rng.choice(FRACTURE_KINDS))
        specs.append(FractureSpec(level, mild, loss))
    return tuple(specs)


def _check_int(name: str, value: int, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise InputError(f"{name} {value!r} is not valid; give an integer >= {low}")
    return int(value)


def _check_share(name: str, value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
        or not 0.0 <= float(value) <= 1.0
    ):
        raise InputError(f"{name} {value!r} is not valid; give a share in [0, 1]")
    return float(value)


def _check_per_patient(value: Sequence[int]) -> tuple[int, int]:
    hint = "give (min, max) scans per patient with 1 <= min <= max <= 20"
    try:
        low, high = (int(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"scans_per_patient {value!r} is not valid; {hint}") from None
    if not 1 <= low <= high <= 20:
        raise InputError(f"scans_per_patient {value!r} is not valid; {hint}")
    return low, high
