"""Patient-grouped, stratified splits of graded vertebrae: a test set and k folds.

:mod:`fracturelab.femur.splits` is bound to the femur manifest (its rows, AFF/NFF labels and
summary), so the spine has this thin counterpart built the same way: scikit-learn's
``StratifiedGroupKFold`` sets aside about ``test_fraction`` of the patients, then divides
the rest into ``n_folds`` folds, stratified by the vertebrae's Genant grades and grouped by
patient, so no patient is on two sides. The assignment is written per scan to
``splits.csv`` (``case_id, patient_id, split``) and reused on a rerun.
"""

from __future__ import annotations

import csv
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fracturelab.errors import InputError
from fracturelab.outputs import write_csv
from fracturelab.spine.learned.data import VertebraRecord
from fracturelab.typing import IntArray

__all__ = ["SPLIT_COLUMNS", "TEST", "SpineSplits", "make_spine_splits"]

#: Split name of the held-out test set; folds are ``"fold0"``, ``"fold1"``, ...
TEST = "test"
#: Columns of ``splits.csv``.
SPLIT_COLUMNS: tuple[str, ...] = ("case_id", "patient_id", "split")


@dataclass(frozen=True)
class SpineSplits:
    """Which split each scan (and so each of its vertebrae) belongs to.

    Attributes:
        case_split: Scan -> ``"test"`` or ``"fold<k>"``.
        case_patient: Scan -> patient.
        n_folds: Number of folds.

    """

    case_split: dict[str, str]
    case_patient: dict[str, str]
    n_folds: int

    def assignment(self, records: list[VertebraRecord]) -> list[str]:
        """The split of each record, in order."""
        return [self.case_split[r.case_id] for r in records]

    def indices(self, records: list[VertebraRecord], split: str) -> IntArray:
        """Indices of the records in ``split``."""
        return np.flatnonzero(np.asarray(self.assignment(records)) == split).astype(np.int64)

    def fold(self, records: list[VertebraRecord], k: int) -> tuple[IntArray, IntArray]:
        """``(train, validation)`` indices of fold ``k``."""
        assignment = np.asarray(self.assignment(records))
        validation = assignment == f"fold{k}"
        train = (assignment != TEST) & ~validation
        return np.flatnonzero(train).astype(np.int64), np.flatnonzero(validation).astype(np.int64)

    def check_patients_disjoint(self) -> None:
        """Raise if a patient's scans lie in two splits (a guard, also used by the tests)."""
        where: dict[str, set[str]] = defaultdict(set)
        for case, split in self.case_split.items():
            where[self.case_patient[case]].add(split)
        crossing = sorted(p for p, splits in where.items() if len(splits) > 1)
        if crossing:
            raise AssertionError(f"patients on two sides of a split: {crossing[:5]}")

    def write(self, path: str | Path) -> Path:
        """Write ``splits.csv`` (sorted by scan)."""
        rows = [(c, self.case_patient[c], self.case_split[c]) for c in sorted(self.case_split)]
        return write_csv(path, SPLIT_COLUMNS, rows)

    @classmethod
    def read(cls, path: str | Path, records: list[VertebraRecord]) -> SpineSplits:
        """Read ``splits.csv`` and check it covers the same scans and patients as ``records``.

        Raises:
            InputError: If the file was made from other data.

        """
        file = Path(path)
        with file.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        found = {r["case_id"]: r["patient_id"] for r in rows}
        expected = {r.case_id: r.patient_id for r in records}
        if found != expected:
            raise InputError(
                f"{file} was made from another dataset (its scans or patients differ); use a "
                "new --out folder, or delete the file to split again"
            )
        splits = {r["case_id"]: r["split"] for r in rows}
        n_folds = len({s for s in splits.values() if s != TEST})
        result = cls(splits, found, n_folds)
        result.check_patients_disjoint()
        return result


def make_spine_splits(
    records: list[VertebraRecord], n_folds: int = 5, test_fraction: float = 0.2, seed: int = 0
) -> SpineSplits:
    """Split graded vertebrae by patient, stratified by grade.

    Args:
        records: The graded vertebrae.
        n_folds: Cross-validation folds, at least 2.
        test_fraction: Share of patients held out, in (0, 0.5].
        seed: Seed of the shuffling.

    Raises:
        InputError: For bad arguments, a scan listed under two patients, no fracture at all,
            or too few fractured patients to put one in every split.

    """
    if not isinstance(n_folds, int) or n_folds < 2:
        raise InputError(f"n_folds={n_folds!r} is not valid; use an integer of 2 or more")
    if not 0 < test_fraction <= 0.5:
        raise InputError(f"test_fraction={test_fraction!r} is not valid; use a number in (0, 0.5]")
    from sklearn.model_selection import StratifiedGroupKFold

    case_patient: dict[str, str] = {}
    for record in records:
        known = case_patient.setdefault(record.case_id, record.patient_id)
        if known != record.patient_id:
            raise InputError(
                f"case {record.case_id} belongs to two patients ({known}, {record.patient_id}); "
                "give each case one patient_id in the dataset CSV"
            )
    fractured = {r.patient_id for r in records if r.genant_grade >= 1}
    patients = {r.patient_id for r in records}
    if not fractured:
        raise InputError(
            f"the dataset has no fractured vertebra (grade >= 1) among {len(records)} graded "
            "vertebrae; a classifier needs fractures: add graded fractured scans"
        )
    needed = n_folds + 1
    for name, group in (("fractured", fractured), ("fracture-free", patients - fractured)):
        if len(group) < needed:
            raise InputError(
                f"only {len(group)} {name} patient(s); {n_folds} folds plus a test set need at "
                f"least {needed}; use fewer --folds or add data"
            )
    grades = np.array([r.genant_grade for r in records])
    groups = np.array([r.patient_id for r in records])
    outer = StratifiedGroupKFold(
        n_splits=max(2, round(1 / test_fraction)), shuffle=True, random_state=seed
    )
    assignment = np.full(len(grades), TEST, dtype=object)
    with warnings.catch_warnings():
        # A rare grade (few grade-3 vertebrae) cannot reach every fold; that is expected.
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        _, test_index = next(outer.split(np.zeros(len(grades)), grades, groups))
        development = np.setdiff1d(np.arange(len(grades)), test_index)
        inner = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed + 1)
        for k, (_, fold_index) in enumerate(
            inner.split(np.zeros(len(development)), grades[development], groups[development])
        ):
            assignment[development[fold_index]] = f"fold{k}"
    case_split = {r.case_id: str(a) for r, a in zip(records, assignment, strict=True)}
    splits = SpineSplits(case_split, case_patient, n_folds)
    splits.check_patients_disjoint()
    for split in [*(f"fold{k}" for k in range(n_folds)), TEST]:
        chosen = splits.indices(records, split)
        positives = int((grades[chosen] >= 1).sum())
        if positives in (0, chosen.size):
            raise InputError(
                f"split {split} got only {'normal' if positives == 0 else 'fractured'} "
                "vertebrae; add patients of the rarer kind or use fewer --folds"
            )
    return splits
