"""The spine dataset: scans, their tiers and the radiologist's grade of each vertebra.

The formats are described in ``docs/spine-dataset.md`` and ``docs/design.md`` ("Layout",
"Conventions"); this module holds only the data, not the readers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fracturelab.errors import InputError

__all__ = [
    "MORPHOLOGIES",
    "TIERS",
    "DatasetError",
    "SpineCase",
    "SpineDataset",
    "VertebraGrade",
]

#: Tiers of a scan: graded (a label map and grades), delineated (a label map, no grades),
#: unlabelled (neither).
TIERS: tuple[str, ...] = ("graded", "delineated", "unlabelled")

#: Morphologies a grade may name (Genant's shapes); ``None`` stands for unknown.
MORPHOLOGIES: tuple[str, ...] = ("normal", "wedge", "biconcave", "crush")

#: Genant grades, 0 (normal) to 3 (severe).
GRADES: tuple[int, ...] = (0, 1, 2, 3)


class DatasetError(InputError):
    """A dataset with problems; the message lists every problem, one per line.

    The first line is a summary that names the first problem, so that a command printing only
    the first line still says what is wrong.

    Args:
        source: The dataset file or folder, for the summary.
        problems: One line per problem (file, row, problem and fix).

    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        count = len(self.problems)
        plural = "" if count == 1 else "s"
        first = self.problems[0] if self.problems else "no detail"
        summary = f"dataset {source}: {count} problem{plural}; first: {first}"
        if count > 1:
            summary += " (run 'fracturelab spine dataset check' to list all)"
        super().__init__("\n".join([summary, *self.problems]))

    def __reduce__(self) -> tuple[type[DatasetError], tuple[str, list[str]]]:
        """Pickle with the constructor's arguments (errors cross process pools)."""
        return type(self), (self.source, self.problems)


@dataclass(frozen=True)
class SpineCase:
    """One CT scan of a dataset.

    Args:
        case_id: Unique name of the scan.
        patient_id: The patient; splits never put one patient on both sides.
        ct: Absolute path of the CT (a file or a DICOM folder).
        vertebrae: Absolute path of the vertebra label map, or ``None`` (unlabelled scan).
        tier: One of :data:`TIERS`.

    """

    case_id: str
    patient_id: str
    ct: Path
    vertebrae: Path | None
    tier: str


@dataclass(frozen=True)
class VertebraGrade:
    """The reader's grade of one vertebra.

    Args:
        case_id: The scan.
        level: The vertebra level, e.g. ``"L1"``.
        genant_grade: Genant grade 0-3 (0 normal, 1 mild, 2 moderate, 3 severe).
        morphology: ``normal``, ``wedge``, ``biconcave``, ``crush`` or ``None`` when unknown.

    """

    case_id: str
    level: str
    genant_grade: int
    morphology: str | None


@dataclass
class SpineDataset:
    """Scans and vertebra grades read from a dataset (see :func:`read_dataset`).

    Attributes:
        cases: The scans, in the order of the source.
        grades: Graded vertebrae, in the order of the source.
        root: Folder that relative paths of the source are read from.
        source: The file or folder read, for messages.
        origins: ``(case_id, level)`` -> where the grade was read (``"grades.csv row 4"``).
        notes: What the reader skipped on purpose (vertebrae coded "not assessed", ...).

    """

    cases: list[SpineCase]
    grades: list[VertebraGrade]
    root: Path
    source: str = ""
    origins: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._by_case = {case.case_id: case for case in self.cases}
        self._grades: dict[str, dict[str, VertebraGrade]] = {}
        for grade in self.grades:
            self._grades.setdefault(grade.case_id, {})[grade.level] = grade

    def case(self, case_id: str) -> SpineCase:
        """Return the scan named ``case_id``.

        Raises:
            InputError: If no scan has that name.

        """
        try:
            return self._by_case[case_id]
        except KeyError:
            raise InputError(
                f"dataset {self.source}: no case {case_id!r}; see its scans CSV for the names"
            ) from None

    def grades_of(self, case_id: str) -> dict[str, VertebraGrade]:
        """Level -> grade of the graded vertebrae of one scan (empty when it has none)."""
        return dict(self._grades.get(case_id, {}))

    def cases_in(self, tier: str) -> list[SpineCase]:
        """The scans of one tier, in the order of the source."""
        return [case for case in self.cases if case.tier == tier]

    def summary(self) -> dict[str, Any]:
        """Counts for a report.

        Returns:
            ``{"scans": {tier: n}, "patients": {tier: n}, "scans_total", "patients_total",
            "graded_vertebrae", "fractured_vertebrae" (grade >= 1), "grades": {0: n, ..., 3: n},
            "morphology": {"normal": n, ..., "crush": n, "unknown": n}}``. A patient with
            scans in two tiers counts in both.

        """
        scans = {tier: 0 for tier in TIERS}
        patients: dict[str, set[str]] = {tier: set() for tier in TIERS}
        for case in self.cases:
            scans[case.tier] += 1
            patients[case.tier].add(case.patient_id)
        grades = Counter(grade.genant_grade for grade in self.grades)
        shapes = Counter(grade.morphology or "unknown" for grade in self.grades)
        return {
            "scans": scans,
            "patients": {tier: len(patients[tier]) for tier in TIERS},
            "scans_total": len(self.cases),
            "patients_total": len({case.patient_id for case in self.cases}),
            "graded_vertebrae": len(self.grades),
            "fractured_vertebrae": sum(1 for grade in self.grades if grade.genant_grade >= 1),
            "grades": {grade: grades.get(grade, 0) for grade in GRADES},
            "morphology": {name: shapes.get(name, 0) for name in (*MORPHOLOGIES, "unknown")},
        }

    def __repr__(self) -> str:
        counts = self.summary()["scans"]
        tiers = ", ".join(f"{tier}={n}" for tier, n in counts.items())
        return f"SpineDataset({self.source!r}, {tiers}, graded_vertebrae={len(self.grades)})"
