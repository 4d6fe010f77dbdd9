"""How the background reader's calls compare with the radiologists' review (``batch compare``).

Inputs: the results database of ``fracturelab batch run`` and the workstation's spine export
of the review (``workstation export --task spine``), whose ``case`` column holds the case
names given by ``workstation import findings`` (:func:`~fracturelab.workstation.findings.
case_name`). A reviewed vertebra is a fracture when its grade is at least ``truth_grade``.

- **Vertebrae** (within the reviewed scans): the reader's flag on each vertebra against the
  review: true/false positives and negatives, sensitivity and PPV.
- **Scans**: a scan is flagged when any vertebra is, and fractured when the review grades any
  vertebra at ``truth_grade`` or more. PPV comes from the reviewed flagged scans. Sensitivity
  needs reviewed unflagged scans too (``import findings --audit-sample N``): each reviewed
  scan stands for the scans of its stratum (flagged or unflagged) that were read but not
  reviewed, so the estimate is weighted by the stratum's sampling fraction. Without any
  reviewed unflagged scan the sensitivity is not estimable and is left empty, with the reason.

Confidence intervals (95 %) are Wilson intervals for unweighted proportions and a stratified
bootstrap (scans resampled within each stratum, seeded) for the weighted sensitivity.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.evaluation.proportion import wilson_interval
from fracturelab.workstation.findings import case_name, latest_done

if TYPE_CHECKING:
    from fracturelab.batch import ScanRecord

__all__ = ["ReviewComparison", "compare_review", "read_review"]

_REQUIRED = ("case", "level", "genant_grade")


@dataclass
class ReviewComparison:
    """The reader against the review (see the module).

    Attributes:
        vertebra_counts: ``tp``, ``fp``, ``fn``, ``tn`` over reviewed vertebrae.
        vertebra_sensitivity: Share of reviewed fractures the reader flagged, with CI.
        vertebra_ppv: Share of flagged reviewed vertebrae that are fractures, with CI.
        scan_counts: ``tp``, ``fp``, ``fn``, ``tn`` over reviewed scans, and the scans read
            (``n_flagged_read``, ``n_unflagged_read``).
        scan_ppv: Share of reviewed flagged scans with a fracture, with CI.
        scan_sensitivity: Estimated share of fractured scans that are flagged (weighted by the
            sampling of each stratum), with CI; ``None`` values when not estimable.
        notes: Reviewed cases not in the results database, rows left out, and why a figure
            is not estimable.

    """

    vertebra_counts: dict[str, int]
    vertebra_sensitivity: dict[str, float | None]
    vertebra_ppv: dict[str, float | None]
    scan_counts: dict[str, int]
    scan_ppv: dict[str, float | None]
    scan_sensitivity: dict[str, float | None]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON-ready data."""
        return asdict(self)


def read_review(path: Path) -> dict[str, dict[str, int]]:
    """Grades of a workstation spine export: ``{case: {level: grade}}``.

    Rows without a grade or marked not assessable are left out.

    Raises:
        InputError: If the file is missing or lacks the export's columns.

    """
    if not path.is_file():
        raise InputError(
            f"--review {path}: no such file; give the CSV of `fracturelab workstation export "
            "--task spine`"
        )
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(
                f"--review {path}: no column {', '.join(missing)}; give the CSV of "
                "`fracturelab workstation export --task spine`"
            )
        grades: dict[str, dict[str, int]] = {}
        for row in reader:
            grade = (row.get("genant_grade") or "").strip()
            if not grade or (row.get("not_assessable") or "").strip().lower() == "true":
                continue
            try:
                value = int(grade)
                if not 0 <= value <= 3:
                    raise ValueError(grade)
            except ValueError:
                raise InputError(
                    f"--review {path}: genant_grade {grade!r} of case {row['case']} level "
                    f"{row['level']} is not 0-3; export the review again"
                ) from None
            grades.setdefault(row["case"], {})[row["level"]] = value
    return grades


def compare_review(
    records: list[ScanRecord],
    review: dict[str, dict[str, int]],
    *,
    min_grade: int = 2,
    min_probability: float | None = None,
    truth_grade: int | None = None,
    bootstrap: int = 2000,
    seed: int = 0,
) -> ReviewComparison:
    """Compare the reader's flags with the review.

    Args:
        records: The results database's records (``ResultsStore.records()``).
        review: ``{case: {level: grade}}`` from :func:`read_review`.
        min_grade: Reader's flag limit on the Genant grade (as at import).
        min_probability: Reader's flag limit on the model's probability (as at import).
        truth_grade: Review grade counted as a fracture (default ``min_grade``).
        bootstrap: Resamples for the weighted sensitivity's interval.
        seed: Seed of the bootstrap.

    """
    from fracturelab.batch.flags import flagged_vertebrae

    truth_at = min_grade if truth_grade is None else truth_grade
    done = latest_done(records)
    by_name = {case_name(r): r for r in done}
    notes = [f"case {c} is not in the results database" for c in review if c not in by_name]
    vertebrae = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    strata: dict[bool, list[bool]] = {True: [], False: []}  # flagged -> fractured per scan
    for name, grades in review.items():
        record = by_name.get(name)
        if record is None or not record.result:
            continue
        flags = set(
            flagged_vertebrae(record.result, min_grade=min_grade, min_probability=min_probability)
        )
        for level, grade in grades.items():
            vertebrae[_cell(level in flags, grade >= truth_at)] += 1
        fractured = any(grade >= truth_at for grade in grades.values())
        strata[bool(flags)].append(fractured)
    n_flagged_read = sum(
        1
        for r in done
        if flagged_vertebrae(r.result or {}, min_grade=min_grade, min_probability=min_probability)
    )
    n_unflagged_read = len(done) - n_flagged_read
    scans = {
        "tp": sum(strata[True]),
        "fp": len(strata[True]) - sum(strata[True]),
        "fn": sum(strata[False]),
        "tn": len(strata[False]) - sum(strata[False]),
        "n_flagged_read": n_flagged_read,
        "n_unflagged_read": n_unflagged_read,
    }
    sensitivity: dict[str, float | None] = {"value": None, "ci_low": None, "ci_high": None}
    if not strata[False]:
        notes.append(
            "scan sensitivity not estimable: no unflagged scan was reviewed (import an audit "
            "sample with `workstation import findings --audit-sample N`)"
        )
    elif strata[True] or any(strata[False]):
        sensitivity = _weighted_sensitivity(
            strata, n_flagged_read, n_unflagged_read, bootstrap, seed
        )
    return ReviewComparison(
        vertebra_counts=vertebrae,
        vertebra_sensitivity=_wilson(vertebrae["tp"], vertebrae["tp"] + vertebrae["fn"]),
        vertebra_ppv=_wilson(vertebrae["tp"], vertebrae["tp"] + vertebrae["fp"]),
        scan_counts=scans,
        scan_ppv=_wilson(scans["tp"], scans["tp"] + scans["fp"]),
        scan_sensitivity=sensitivity,
        notes=notes,
    )


def _cell(flagged: bool, fractured: bool) -> str:
    if flagged:
        return "tp" if fractured else "fp"
    return "fn" if fractured else "tn"


def _wilson(successes: int, total: int) -> dict[str, float | None]:
    """Proportion with its 95 % Wilson interval; ``None`` values when ``total`` is 0."""
    if total == 0:
        return {"value": None, "ci_low": None, "ci_high": None}
    low, high = wilson_interval(successes, total)
    return {"value": successes / total, "ci_low": low, "ci_high": high}


def _weighted_sensitivity(
    strata: dict[bool, list[bool]],
    n_flagged_read: int,
    n_unflagged_read: int,
    bootstrap: int,
    seed: int,
) -> dict[str, float | None]:
    """Sensitivity with each reviewed scan weighted by its stratum's inverse sampling share."""
    flagged = np.asarray(strata[True], dtype=float)
    unflagged = np.asarray(strata[False], dtype=float)

    def estimate(f: np.ndarray, u: np.ndarray) -> float | None:
        found = f.mean() * n_flagged_read if f.size else 0.0
        missed = u.mean() * n_unflagged_read if u.size else 0.0
        total = found + missed
        return None if total == 0 else float(found / total)

    value = estimate(flagged, unflagged)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(bootstrap):
        f = rng.choice(flagged, flagged.size) if flagged.size else flagged
        u = rng.choice(unflagged, unflagged.size)
        drawn = estimate(f, u)
        if drawn is not None:
            draws.append(drawn)
    if value is None or not draws:
        return {"value": value, "ci_low": None, "ci_high": None}
    low, high = np.percentile(draws, [2.5, 97.5])
    return {"value": value, "ci_low": float(low), "ci_high": float(high)}
