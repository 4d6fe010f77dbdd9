"""Patient-grouped, stratified splits: a held-out test set and k cross-validation folds."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fracturelab.errors import InputError
from fracturelab.femur.contract import AFF, NFF
from fracturelab.femur.manifest import Manifest
from fracturelab.outputs import atomic_write_text, csv_text

__all__ = ["SPLIT_COLUMNS", "TEST", "Splits", "make_splits"]

#: Split name of the held-out test set; cross-validation folds are ``"fold0"``, ``"fold1"``...
TEST = "test"
#: Columns of ``splits.csv``.
SPLIT_COLUMNS: tuple[str, ...] = ("image", "patient_id", "label", "split")


@dataclass(frozen=True)
class Splits:
    """Which split each image belongs to.

    Attributes:
        images: Image paths as written in the manifest, in manifest order.
        patients: Patient of each image.
        labels: Label of each image (``"AFF"`` or ``"NFF"``).
        assignment: ``"test"`` or ``"fold<k>"`` for each image.
        n_folds: Number of cross-validation folds.

    """

    images: tuple[str, ...]
    patients: tuple[str, ...]
    labels: tuple[str, ...]
    assignment: tuple[str, ...]
    n_folds: int

    def indices(self, split: str) -> np.ndarray:
        """Indices (into the manifest's labelled rows) of the images in ``split``."""
        return np.flatnonzero(np.asarray(self.assignment) == split)

    def fold(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(train, validation)`` indices of fold ``k``: validation is fold k, train the rest."""
        assignment = np.asarray(self.assignment)
        validation = assignment == f"fold{k}"
        train = (assignment != TEST) & ~validation
        return np.flatnonzero(train), np.flatnonzero(validation)

    def development(self) -> np.ndarray:
        """Indices of every image outside the test set."""
        return np.flatnonzero(np.asarray(self.assignment) != TEST)

    def refold(self, seed: int) -> Splits:
        """The same test set with the development patients dealt into folds with ``seed``.

        Used by repeated cross-validation (``--repeats``): each repetition's folds are
        patient-grouped and stratified like the first's.
        """
        from sklearn.model_selection import StratifiedGroupKFold

        development = self.development()
        patients = np.asarray(self.patients)
        aff = {p for p, label in zip(self.patients, self.labels, strict=True) if label == AFF}
        y = np.array([1 if p in aff else 0 for p in patients])
        assignment = np.asarray(self.assignment, dtype=object).copy()
        inner = StratifiedGroupKFold(n_splits=self.n_folds, shuffle=True, random_state=seed + 1)
        for k, (_, fold_index) in enumerate(
            inner.split(np.zeros(len(development)), y[development], patients[development])
        ):
            assignment[development[fold_index]] = f"fold{k}"
        splits = Splits(
            self.images, self.patients, self.labels, tuple(str(a) for a in assignment), self.n_folds
        )
        splits.check_patients_disjoint()
        return splits

    def check_patients_disjoint(self) -> None:
        """Raise if any patient appears in two splits (a guard, also used by the tests)."""
        where: dict[str, set[str]] = defaultdict(set)
        for patient, split in zip(self.patients, self.assignment, strict=True):
            where[patient].add(split)
        crossing = sorted(p for p, splits in where.items() if len(splits) > 1)
        if crossing:
            raise AssertionError(f"patients on two sides of a split: {crossing[:5]}")

    def summary(self) -> list[dict[str, object]]:
        """Per split: images, patients and AFF images."""
        rows = []
        for split in [*(f"fold{k}" for k in range(self.n_folds)), TEST]:
            chosen = self.indices(split)
            rows.append(
                {
                    "split": split,
                    "images": len(chosen),
                    "patients": len({self.patients[i] for i in chosen}),
                    "aff_images": sum(self.labels[i] == AFF for i in chosen),
                }
            )
        return rows

    def to_csv(self) -> str:
        """The assignment as CSV: ``image,patient_id,label,split``."""
        rows = zip(self.images, self.patients, self.labels, self.assignment, strict=True)
        return csv_text(SPLIT_COLUMNS, rows)

    def write(self, path: str | Path) -> Path:
        """Write :meth:`to_csv` atomically."""
        return atomic_write_text(path, self.to_csv())

    @classmethod
    def read(cls, path: str | Path, manifest: Manifest) -> Splits:
        """Read a split written by :meth:`write` and check it matches ``manifest``.

        Raises:
            InputError: If the file lists other images, patients or labels than the manifest.

        """
        file = Path(path)
        with file.open(encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))
        rows = manifest.labelled().rows
        expected = [(r.image_text, r.patient_id, r.label) for r in rows]
        found = [(r["image"], r["patient_id"], r["label"]) for r in records]
        if expected != found:
            raise InputError(
                f"{file} was made from another manifest (its images, patients or labels "
                "differ); use a new --out folder, or delete the file to split again"
            )
        assignment = tuple(r["split"] for r in records)
        folds = {s for s in assignment if s != TEST}
        splits = cls(
            tuple(r[0] for r in found),
            tuple(r[1] for r in found),
            tuple(str(r[2]) for r in found),
            assignment,
            len(folds),
        )
        splits.check_patients_disjoint()
        return splits


def make_splits(
    manifest: Manifest, n_folds: int = 5, test_fraction: float = 0.2, seed: int = 0
) -> Splits:
    """Split the labelled images of ``manifest`` by patient, stratified by label.

    scikit-learn's ``StratifiedGroupKFold`` first sets aside about ``test_fraction`` of the
    patients as the test set, then divides the rest into ``n_folds`` folds. A patient's images
    always stay together. A patient with both labels is stratified by their AFF images.

    Args:
        manifest: The manifest; rows without label or centre are left out.
        n_folds: Cross-validation folds, at least 2.
        test_fraction: Share of patients held out for testing, in (0, 0.5].
        seed: Seed of the shuffling.

    Raises:
        InputError: For bad arguments, or too few patients of a class to fill every split.

    """
    if not isinstance(n_folds, int) or n_folds < 2:
        raise InputError(f"n_folds={n_folds!r} is not valid; use an integer of 2 or more")
    if not 0 < test_fraction <= 0.5:
        raise InputError(f"test_fraction={test_fraction!r} is not valid; use a number in (0, 0.5]")
    from sklearn.model_selection import StratifiedGroupKFold

    rows = manifest.labelled().rows
    patients = [r.patient_id for r in rows]
    labels = [str(r.label) for r in rows]
    patient_aff = {p for p, lab in zip(patients, labels, strict=True) if lab == AFF}
    per_class = Counter(AFF if p in patient_aff else NFF for p in set(patients))
    needed = n_folds + 1
    if len(per_class) < 2:
        only = next(iter(per_class), "none")
        raise InputError(
            f"{manifest.path}: every patient is {only}; a classifier needs both AFF and NFF "
            "patients"
        )
    scarce = min(per_class.values())
    if scarce < needed:
        raise InputError(
            f"{manifest.path}: only {scarce} patient(s) have the rarer label "
            f"({dict(per_class)}); {n_folds} folds plus a test set need at least {needed}; "
            "use fewer --folds or add data"
        )
    y = np.array([1 if p in patient_aff else 0 for p in patients])
    groups = np.array(patients)
    n_test_splits = max(2, round(1 / test_fraction))
    outer = StratifiedGroupKFold(n_splits=n_test_splits, shuffle=True, random_state=seed)
    _, test_index = next(outer.split(np.zeros(len(y)), y, groups))
    assignment = np.full(len(y), TEST, dtype=object)
    development = np.setdiff1d(np.arange(len(y)), test_index)
    inner = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed + 1)
    for k, (_, fold_index) in enumerate(
        inner.split(np.zeros(len(development)), y[development], groups[development])
    ):
        assignment[development[fold_index]] = f"fold{k}"
    splits = Splits(
        tuple(r.image_text for r in rows),
        tuple(patients),
        tuple(labels),
        tuple(str(a) for a in assignment),
        n_folds,
    )
    splits.check_patients_disjoint()
    for row in splits.summary():
        if row["aff_images"] == 0 or row["aff_images"] == row["images"]:
            raise InputError(
                f"{manifest.path}: split {row['split']} got only one class; add patients of "
                "the rarer class or use fewer --folds"
            )
    return splits
