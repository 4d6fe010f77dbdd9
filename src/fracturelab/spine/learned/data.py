"""The patch cache read for training: graded vertebrae, their patches, and a torch dataset.

The cache (written by :func:`fracturelab.spine.patch_cache.prepare_cache`) is a folder with
``index.csv`` (one row per vertebra: ``case_id, patient_id, tier, level, label,
genant_grade, morphology, fracture, patch, height_loss_pct, morph_grade, status, reason``)
and ``spec.json``. ``patch`` is the path, relative to the folder, of a float16 ``.npy`` of
shape ``(C, D, H, W)``: channel 0 the bone-windowed CT in [0, 1], channel 1 the vertebra's
mask, channel 2 its neighbours' masks; ``D`` runs along the spine (superior), ``H``
towards the body (anterior), ``W`` left-right.

Augmentation respects anatomy: small rotations about the superior axis and small shifts
(MONAI ``RandAffine``), left-right flips, and CT intensity jitter; never a
superior-inferior or anterior-posterior flip (that would turn a wedge upside down).
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from fracturelab.errors import InputError
from fracturelab.spine.learned.config import GRADES, MORPHOLOGIES
from fracturelab.typing import FloatArray, PathLike

__all__ = [
    "INDEX_COLUMNS",
    "CacheIndex",
    "VertebraDataset",
    "VertebraRecord",
    "load_patches",
    "morphometry_features",
    "summarise",
]

#: Columns ``index.csv`` must have.
INDEX_COLUMNS: tuple[str, ...] = (
    "case_id", "patient_id", "tier", "level", "label", "genant_grade", "morphology",
    "fracture", "patch", "height_loss_pct", "morph_grade", "status", "reason",
)  # fmt: skip


@dataclass(frozen=True)
class VertebraRecord:
    """One graded vertebra with a patch.

    Attributes:
        case_id: Scan.
        patient_id: Patient (splits keep a patient's scans together).
        level: Level name (``L1``).
        genant_grade: Radiologist's grade, 0-3.
        morphology: ``normal``, ``wedge``, ``biconcave``, ``crush``, or ``None`` when unknown.
        patch: Absolute path of the ``.npy`` patch.
        height_loss_pct: Morphometry's height loss in %, NaN when not measured.
        morph_grade: Morphometry's Genant grade, ``None`` when not graded.

    """

    case_id: str
    patient_id: str
    level: str
    genant_grade: int
    morphology: str | None
    patch: Path
    height_loss_pct: float
    morph_grade: int | None


def _number(text: str, where: str, column: str) -> float:
    try:
        return float(text) if text.strip() else math.nan
    except ValueError:
        raise InputError(f"{where}: {column} {text!r} is not a number; fix the cache") from None


@dataclass(frozen=True)
class CacheIndex:
    """A patch cache folder: its ``index.csv`` rows and ``spec.json``.

    Attributes:
        folder: The cache folder.
        rows: ``index.csv`` rows as dicts of text.
        spec: ``spec.json`` (how the patches were cut), ``{}`` when absent.

    """

    folder: Path
    rows: tuple[dict[str, str], ...]
    spec: dict[str, Any]

    @classmethod
    def read(cls, folder: PathLike) -> CacheIndex:
        """Read a cache folder.

        Raises:
            InputError: If ``index.csv`` is missing or lacks a column.

        """
        source = Path(folder)
        index = source / "index.csv"
        if not index.is_file():
            raise InputError(
                f"{index} does not exist; build the cache first (fracturelab spine train builds "
                "it in RUN/cache) or give the folder that holds index.csv"
            )
        with index.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in INDEX_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(
                    f"{index} lacks the column(s) {', '.join(missing)}; rebuild the cache"
                )
            rows = tuple({k: (v or "") for k, v in row.items()} for row in reader)
        spec_file = source / "spec.json"
        spec = json.loads(spec_file.read_text(encoding="utf-8")) if spec_file.is_file() else {}
        return cls(source, rows, spec)

    def records(self) -> list[VertebraRecord]:
        """The graded vertebrae that have a patch, in index order.

        Raises:
            InputError: For a grade outside 0-3, an unknown morphology, or a missing patch file.

        """
        chosen = []
        for number, row in enumerate(self.rows, start=2):
            where = f"{self.folder / 'index.csv'} line {number}"
            if row["status"] == "missing":
                raise InputError(
                    f"{where}: case {row['case_id']} is graded at {row['level']}, which its label "
                    "map lacks; fix the level in the labels CSV or the label map"
                )
            if not row["patch"].strip() or not row["genant_grade"].strip():
                continue
            grade_value = _number(row["genant_grade"], where, "genant_grade")
            if grade_value not in GRADES:
                raise InputError(
                    f"{where}: genant_grade {row['genant_grade']!r} is outside 0-3; fix the "
                    "grade in the labels CSV"
                )
            morphology = row["morphology"].strip().lower() or None
            if morphology is not None and morphology not in MORPHOLOGIES:
                raise InputError(
                    f"{where}: morphology {row['morphology']!r} is not one of "
                    f"{', '.join(MORPHOLOGIES)}; fix the labels CSV (or leave it empty)"
                )
            patch = self.folder / row["patch"]
            if not patch.is_file():
                raise InputError(f"{where}: patch {patch} is missing; rebuild the cache")
            morph_grade = _number(row["morph_grade"], where, "morph_grade")
            chosen.append(
                VertebraRecord(
                    case_id=row["case_id"],
                    patient_id=row["patient_id"],
                    level=row["level"],
                    genant_grade=int(grade_value),
                    morphology=morphology,
                    patch=patch,
                    height_loss_pct=_number(row["height_loss_pct"], where, "height_loss_pct"),
                    morph_grade=None if math.isnan(morph_grade) else int(morph_grade),
                )
            )
        return chosen

    def skipped(self) -> list[dict[str, str]]:
        """Rows the cache could not make a patch for (``status`` other than ``ok``)."""
        return [r for r in self.rows if r["status"] and r["status"] != "ok"]


def summarise(records: list[VertebraRecord]) -> dict[str, Any]:
    """Training data summary: cases, patients and vertebrae per grade and morphology."""
    return {
        "cases": len({r.case_id for r in records}),
        "patients": len({r.patient_id for r in records}),
        "vertebrae": len(records),
        "vertebrae_per_grade": {str(g): sum(r.genant_grade == g for r in records) for g in GRADES},
        "vertebrae_per_morphology": dict(
            sorted(Counter(r.morphology or "unknown" for r in records).items())
        ),
    }


def morphometry_features(height_loss_pct: float, morph_grade: int | None) -> FloatArray:
    """The fused morphometry features ``(2,)``: height loss as a fraction, and grade / 3.

    A vertebra that morphometry could not measure gets zeros (no evidence of collapse).
    """
    loss = 0.0 if not math.isfinite(height_loss_pct) else max(0.0, height_loss_pct) / 100.0
    grade = 0.0 if morph_grade is None else morph_grade / 3.0
    return np.array([loss, grade], dtype=np.float32)


def load_patches(records: list[VertebraRecord]) -> list[FloatArray]:
    """Read every record's patch as float32 ``(C, D, H, W)``; all must share one shape.

    Raises:
        InputError: If a patch file is missing, truncated or damaged, is not 4D, or differs in
            shape from the first.

    """
    patches: list[FloatArray] = []
    for record in records:
        try:
            array = np.load(record.patch, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError, EOFError) as error:
            raise InputError(
                f"{record.patch}: the patch cannot be read ({type(error).__name__}: the file is "
                "missing, truncated or damaged); delete it and rerun, which cuts it again"
            ) from None
        if array.ndim != 4:
            raise InputError(
                f"{record.patch}: patch of shape {array.shape} is not (C, D, H, W); rebuild the "
                "cache"
            )
        if patches and array.shape != patches[0].shape:
            raise InputError(
                f"{record.patch}: shape {array.shape} differs from {patches[0].shape} of the "
                "other patches; rebuild the cache with one patch spec"
            )
        patches.append(array)
    return patches


class VertebraDataset(Dataset[dict[str, torch.Tensor]]):
    """Graded vertebrae as network inputs and targets.

    Items: ``patch`` ``(C, D, H, W)`` float32, ``morphometry`` ``(2,)`` float32, ``grade``
    int64, ``fracture`` float32 (grade >= 1), ``morphology`` int64 (index into
    :data:`~fracturelab.spine.learned.config.MORPHOLOGIES`, -1 when unknown).

    Args:
        records: The vertebrae.
        patches: Their patches (from :func:`load_patches`), same order.
        augment: Apply the anatomy-respecting augmentation.
        max_rotation_deg: Largest rotation about the superior axis.
        max_shift_vox: Largest shift per axis in voxels.
        seed: Seed of the augmentation.
        weights: Loss weight of each vertebra (e.g. below 1 for pseudo-labels), same order;
            ``None``: 1 for all. Items carry it as ``weight`` (float32 scalar).

    """

    def __init__(
        self,
        records: list[VertebraRecord],
        patches: list[FloatArray],
        augment: bool = False,
        max_rotation_deg: float = 10.0,
        max_shift_vox: float = 2.0,
        seed: int = 0,
        weights: Sequence[float] | None = None,
    ) -> None:
        if len(records) != len(patches):
            raise ValueError("records and patches differ in length")
        if weights is not None and len(weights) != len(records):
            raise ValueError("records and weights differ in length")
        self.weights = [1.0] * len(records) if weights is None else [float(w) for w in weights]
        self.records = records
        self.patches = patches
        self.augment = augment
        self.rng = np.random.default_rng(seed)
        self.affine: Any = None
        if augment:
            from monai.transforms import RandAffine

            self.affine = RandAffine(
                prob=1.0,
                rotate_range=(math.radians(max_rotation_deg), 0.0, 0.0),  # about D (superior)
                translate_range=(max_shift_vox,) * 3,
                padding_mode="zeros",
                mode="bilinear",
            )
            self.affine.set_random_state(seed=seed)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        record = self.records[index]
        patch = torch.from_numpy(self.patches[index])
        if self.augment:
            patch = self._augment(patch)
        morphology = -1 if record.morphology is None else MORPHOLOGIES.index(record.morphology)
        return {
            "patch": patch,
            "morphometry": torch.from_numpy(
                morphometry_features(record.height_loss_pct, record.morph_grade)
            ),
            "grade": torch.tensor(record.genant_grade, dtype=torch.int64),
            "fracture": torch.tensor(float(record.genant_grade >= 1)),
            "morphology": torch.tensor(morphology, dtype=torch.int64),
            "weight": torch.tensor(self.weights[index], dtype=torch.float32),
        }

    def _augment(self, patch: torch.Tensor) -> torch.Tensor:
        transformed = self.affine(patch)
        if hasattr(transformed, "as_tensor"):  # a MONAI MetaTensor: plain tensors train faster
            transformed = transformed.as_tensor()
        moved: torch.Tensor = transformed.float()
        if self.rng.random() < 0.5:
            moved = torch.flip(moved, dims=(3,))  # left-right only
        scale = 1.0 + self.rng.uniform(-0.1, 0.1)
        shift = self.rng.uniform(-0.05, 0.05)
        moved[0] = (moved[0] * scale + shift).clamp(0.0, 1.0)
        return moved.contiguous()
