"""Checking what a reader found across files, giving each scan its tier, and building the dataset.

Every reader (the two-CSV form, the workstation export, the VerSe folder) fills a
:class:`Draft`; :func:`assemble` checks it as a whole (duplicate cases, a case in two
patients, missing files, grades of unknown cases or of scans without a label map) and raises
one :class:`~fracturelab.spine.dataset.model.DatasetError` listing every problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fracturelab.spine.dataset.model import (
    TIERS,
    DatasetError,
    SpineCase,
    SpineDataset,
    VertebraGrade,
)

__all__ = ["Draft", "DraftCase", "assemble"]


@dataclass
class DraftCase:
    """A scan as a reader found it, before the checks.

    Attributes:
        case_id: Name of the scan.
        patient_id: The patient.
        ct: Absolute CT path.
        vertebrae: Absolute label map path, or ``None``.
        origin: Where it was read (``"scans.csv line 3"``).

    """

    case_id: str
    patient_id: str
    ct: Path
    vertebrae: Path | None
    origin: str


@dataclass
class Draft:
    """What a reader found: scans, grades with their origins, problems and notes."""

    cases: list[DraftCase] = field(default_factory=list)
    grades: list[tuple[VertebraGrade, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def assemble(draft: Draft, root: Path, source: str) -> SpineDataset:
    """Check a draft as a whole and build the dataset.

    Args:
        draft: What the reader found, with the problems it already met.
        root: Folder that relative paths were read from.
        source: The dataset file or folder, for messages.

    Returns:
        The dataset; a scan with grades is ``graded``, one with a label map and no grades
        ``delineated``, one with neither ``unlabelled``.

    Raises:
        DatasetError: Listing every problem, the reader's and these checks', one per line.

    """
    problems = list(draft.problems)
    cases: dict[str, DraftCase] = {}
    for case in draft.cases:
        first = cases.get(case.case_id)
        if first is None:
            cases[case.case_id] = case
        elif first.patient_id != case.patient_id:
            problems.append(
                f"{case.origin}: case {case.case_id!r} is in two patients "
                f"({first.patient_id!r} at {first.origin}, {case.patient_id!r} here); "
                "a scan belongs to one patient: correct its patient_id"
            )
        else:
            problems.append(
                f"{case.origin}: case_id {case.case_id!r} is repeated (first at {first.origin}); "
                "give each scan its own case_id"
            )
    for case in cases.values():
        if not case.ct.exists():
            problems.append(f"{case.origin}: ct {case.ct} does not exist; check the path")
        if case.vertebrae is not None and not case.vertebrae.exists():
            problems.append(
                f"{case.origin}: vertebrae {case.vertebrae} does not exist; check the path "
                "or leave the cell empty for an unlabelled scan"
            )
    grades: list[VertebraGrade] = []
    origins: dict[tuple[str, str], str] = {}  # grades kept
    seen: dict[tuple[str, str], str] = {}  # every grade row, for duplicates
    for grade, origin in draft.grades:
        key = (grade.case_id, grade.level)
        owner = cases.get(grade.case_id)
        if owner is None:
            problems.append(
                f"{origin}: case {grade.case_id!r} is not in the scans; add a row for it to "
                "the scans CSV or correct the case_id"
            )
        elif key in seen:
            problems.append(
                f"{origin}: {grade.case_id} {grade.level} is graded twice (first at "
                f"{seen[key]}); keep one row per vertebra"
            )
        elif owner.vertebrae is None:
            problems.append(
                f"{origin}: case {grade.case_id!r} is graded but has no vertebrae label map "
                f"({owner.origin}); add the label map (the grades name its vertebrae)"
            )
        else:
            grades.append(grade)
            origins[key] = origin
        seen.setdefault(key, origin)
    graded = {grade.case_id for grade in grades}
    built: list[SpineCase] = []
    for case in cases.values():
        tier = _tier(case, graded)
        built.append(SpineCase(case.case_id, case.patient_id, case.ct, case.vertebrae, tier))
    if not built and not problems:
        problems.append(f"dataset {source}: holds no scan; add one row per scan")
    if problems:
        raise DatasetError(source, problems)
    return SpineDataset(built, grades, root, source=source, origins=origins, notes=draft.notes)


def _tier(case: DraftCase, graded: set[str]) -> str:
    if case.case_id in graded:
        return TIERS[0]
    return TIERS[1] if case.vertebrae is not None else TIERS[2]
