"""Readers of the CSV forms: ``scans.csv`` + ``grades.csv``, and the workstation's spine export.

Both are described in ``docs/spine-dataset.md`` and ``docs/design.md`` ("Workstation
export"). Paths in a CSV are relative to the CSV's folder (or absolute).
"""

from __future__ import annotations

from pathlib import Path

from fracturelab.errors import InputError
from fracturelab.spine.dataset.assemble import Draft, DraftCase
from fracturelab.spine.dataset.model import VertebraGrade
from fracturelab.spine.dataset.tables import (
    NOT_ASSESSED,
    Row,
    Table,
    parse_grade,
    parse_level,
    parse_morphology,
    read_table,
    resolve_path,
)

__all__ = [
    "EXPORT_COLUMNS",
    "GRADES_COLUMNS",
    "SCANS_COLUMNS",
    "is_workstation_export",
    "read_two_csv",
    "read_workstation_export",
]

#: Columns of ``scans.csv`` (other columns are ignored).
SCANS_COLUMNS: tuple[str, ...] = ("case_id", "patient_id", "ct", "vertebrae")
#: Columns of ``grades.csv`` (``morphology`` may be left out: unknown).
GRADES_COLUMNS: tuple[str, ...] = ("case_id", "level", "genant_grade")
#: Columns of the workstation's spine export that the reader needs (``patient_id`` included).
EXPORT_COLUMNS: tuple[str, ...] = ("case", "patient_id", "ct", "vertebrae", "level", "genant_grade")
_EXPORT_MARKERS = ("case", "level", "genant_grade")
_TRUE = {"true", "1", "yes"}


def is_workstation_export(columns: list[str]) -> bool:
    """Whether a header is the workstation spine export (``case``, ``level``, no ``case_id``)."""
    return all(name in columns for name in _EXPORT_MARKERS) and "case_id" not in columns


def read_two_csv(scans: Path, grades: Path | None) -> Draft:
    """Read ``scans.csv`` and, when given, the grades CSV.

    Args:
        scans: The scans CSV (``case_id, patient_id, ct, vertebrae``).
        grades: The grades CSV (``case_id, level, genant_grade[, morphology]``), or ``None``
            for a dataset without grades.

    Returns:
        The draft; problems are collected in it, not raised.

    """
    draft = Draft()
    table = read_table(scans, SCANS_COLUMNS, draft.problems, "scans CSV")
    root = scans.parent.absolute()
    if table is not None:
        for row in table.rows:
            case = _scan(table, row, root, draft.problems)
            if case is not None:
                draft.cases.append(case)
    if grades is not None:
        graded = read_table(grades, GRADES_COLUMNS, draft.problems, "grades CSV")
        if graded is not None:
            for row in graded.rows:
                _grade(graded, row, row.get("case_id"), "case_id", draft)
    return draft


def read_workstation_export(path: Path) -> Draft:
    """Read the workstation's spine export (one row per case and level).

    Rows whose answer is "not assessable" or whose grade is empty are skipped (counted in the
    notes). A case whose label map was never graded is kept as a delineated scan.

    Raises:
        InputError: At once, if the export has no ``patient_id`` column: without it the
            splits cannot keep a patient's scans together.

    """
    draft = Draft()
    table = read_table(path, (), draft.problems, "workstation export")
    if table is None:
        return draft
    if "patient_id" not in table.columns:
        raise InputError(
            f"workstation export {path}: column 'patient_id' is missing; add a patient_id "
            "column (the patient of each case) so that no patient lands on both sides of a split"
        )
    missing = [name for name in EXPORT_COLUMNS if name not in table.columns]
    if missing:
        draft.problems.append(
            f"workstation export {path} line 1: column(s) {', '.join(missing)} missing; "
            f"the export must hold {', '.join(EXPORT_COLUMNS)}"
        )
        return draft
    root = path.parent.absolute()
    cases: dict[str, DraftCase] = {}
    skipped = 0
    for row in table.rows:
        name = row.get("case")
        where = table.where(row)
        if not name:
            draft.problems.append(f"{where}: case is empty; give the case name")
            continue
        case = _scan(table, row, root, draft.problems, case_column="case")
        first = cases.get(name)
        if case is None:
            continue
        if first is None:
            cases[name] = case
            draft.cases.append(case)
        elif (first.ct, first.vertebrae, first.patient_id) != (
            case.ct,
            case.vertebrae,
            case.patient_id,
        ):
            draft.cases.append(case)  # reported by assemble: two patients or a repeated case
        if row.get("not_assessable").lower() in _TRUE or not row.get("genant_grade"):
            skipped += 1
            continue
        _grade(table, row, name, "case", draft)
    if skipped:
        draft.notes.append(f"{skipped} vertebra(e) not assessable or without a grade: skipped")
    return draft


def _scan(
    table: Table, row: Row, root: Path, problems: list[str], case_column: str = "case_id"
) -> DraftCase | None:
    """Read one scan from a row, or record why it cannot be read.

    The row holds ``case_column`` (``case_id``; ``case`` in the workstation export),
    ``patient_id``, ``ct`` and ``vertebrae`` (paths relative to ``root``).
    """
    where = table.where(row)
    required = ("case_id", "patient_id", "ct") if case_column == "case_id" else ("patient_id", "ct")
    empty = [name for name in required if not row.get(name)]
    if empty:
        what = "scan" if case_column == "case_id" else "case"
        problems.append(f"{where}: {', '.join(empty)} empty; fill in every {what}'s {empty[0]}")
        return None
    labels = row.get("vertebrae")
    return DraftCase(
        row.get(case_column),
        row.get("patient_id"),
        resolve_path(row.get("ct"), root),
        resolve_path(labels, root) if labels else None,
        where,
    )


def _grade(table: Table, row: Row, case_id: str, column: str, draft: Draft) -> None:
    where = table.where(row)
    if not case_id:
        draft.problems.append(f"{where}: {column} is empty; name the scan the grade belongs to")
        return
    level = parse_level(row.get("level"), where, draft.problems)
    text = row.get("genant_grade")
    grade = parse_grade(text, where, "genant_grade", draft.problems)
    morphology = parse_morphology(row.get("morphology"), where, draft.problems)
    if level is None:
        return
    if grade is None:
        if text.strip().lower() in NOT_ASSESSED:
            draft.notes.append(f"{where}: {case_id} {level} not assessed: skipped")
        return
    draft.grades.append((VertebraGrade(case_id, level, grade, morphology), where))
