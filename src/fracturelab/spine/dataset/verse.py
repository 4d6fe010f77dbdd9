"""Reader of a VerSe folder: BIDS ``rawdata/`` + ``derivatives/`` and the per-level grade table.

Layout (VerSe 2019/2020 "subject based structure", see ``docs/spine-dataset.md``)::

    <folder>/[training/]rawdata/sub-verse004/sub-verse004_ct.nii.gz
    <folder>/[training/]derivatives/sub-verse004/sub-verse004_seg-vert_msk.nii.gz
    <folder>/<table>.csv   one row per subject: verse_ID (or subject), <level>_fx-g, <level>_fx-s

A scan is the file stem before ``_ct`` (``sub-verse500_split-verse290``); its patient is the
subject folder. Grades (``<level>_fx-g``, 0-3) apply to every scan of the subject; an empty
cell means "not assessed" (a vertebra outside the scan) and is skipped, never guessed.
``<level>_fx-s`` names the shape when written as a word (``wedge``, ``biconcave``,
``crush``); numeric shape codes are left as unknown morphology.
"""

from __future__ import annotations

import re
from pathlib import Path

from fracturelab.spine.dataset.assemble import Draft, DraftCase
from fracturelab.spine.dataset.model import MORPHOLOGIES, VertebraGrade
from fracturelab.spine.dataset.tables import Table, parse_grade, parse_level, read_table

__all__ = ["ID_COLUMNS", "is_verse_folder", "read_verse_folder"]

#: Columns that may name the subject of a row of the grade table, in order of preference.
ID_COLUMNS: tuple[str, ...] = ("verse_ID", "verse_id", "subject", "sub", "ID", "id", "case_id")
_CT_SUFFIX = "_ct.nii.gz"
_MASK_SUFFIX = "_seg-vert_msk.nii.gz"
_GRADE_COLUMN = re.compile(r"^(?P<level>[A-Za-z]+\d+)_fx-g$")


def is_verse_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a BIDS ``rawdata`` folder (directly or one level down)."""
    return folder.is_dir() and ((folder / "rawdata").is_dir() or any(folder.glob("*/rawdata")))


def read_verse_folder(folder: Path, grades: Path | None) -> Draft:
    """Read the scans of a VerSe folder and the grade table.

    Args:
        folder: The VerSe folder (holding ``rawdata/`` or ``<split>/rawdata/``).
        grades: The grade table; ``None`` looks for the one CSV in ``folder`` with
            ``<level>_fx-g`` columns (none found: the scans are delineated only).

    Returns:
        The draft; problems are collected in it, not raised.

    """
    draft = Draft()
    cts = sorted(path for path in folder.rglob(f"*{_CT_SUFFIX}") if "rawdata" in path.parts)
    if not cts:
        draft.problems.append(
            f"VerSe folder {folder}: no rawdata/sub-*/*{_CT_SUFFIX} found; give the folder "
            "that holds rawdata/ and derivatives/"
        )
        return draft
    by_subject: dict[str, list[str]] = {}
    for ct in cts:
        case = _case(ct)
        draft.cases.append(case)
        by_subject.setdefault(_subject_key(case.patient_id), []).append(case.case_id)
    table_path = grades if grades is not None else _find_table(folder, draft)
    if table_path is None:
        return draft
    table = read_table(table_path, (), draft.problems, "VerSe grade table")
    if table is not None:
        _read_grades(table, by_subject, draft)
    return draft


def _case(ct: Path) -> DraftCase:
    case_id = ct.name[: -len(_CT_SUFFIX)]
    subject = ct.parent.name
    parts = list(ct.parts)
    index = len(parts) - 1 - parts[::-1].index("rawdata")
    parts[index] = "derivatives"
    mask = Path(*parts).with_name(case_id + _MASK_SUFFIX)
    return DraftCase(case_id, subject, ct, mask if mask.exists() else None, str(ct))


def _subject_key(text: str) -> str:
    """``sub-verse005``, ``verse005``, ``5`` and ``005`` -> ``verse005``."""
    value = text.strip()
    value = value[4:] if value.lower().startswith("sub-") else value
    try:
        number = float(value)
    except ValueError:
        return value.lower()
    return f"verse{int(number):03d}" if number == int(number) else value


def _find_table(folder: Path, draft: Draft) -> Path | None:
    found = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline()
        if "_fx-g" in header:
            found.append(path)
    if len(found) > 1:
        names = ", ".join(path.name for path in found)
        draft.problems.append(
            f"VerSe folder {folder}: several grade tables ({names}); pass the one to use "
            "with --grades"
        )
        return None
    if not found:
        draft.notes.append(f"VerSe folder {folder}: no grade table (<level>_fx-g): no grades")
        return None
    return found[0]


def _read_grades(table: Table, by_subject: dict[str, list[str]], draft: Draft) -> None:
    id_column = next((name for name in ID_COLUMNS if name in table.columns), None)
    if id_column is None:
        draft.problems.append(
            f"VerSe grade table {table.path} line 1: no subject column; name it one of "
            f"{', '.join(ID_COLUMNS)}"
        )
        return
    levels: dict[str, str] = {}
    for column in table.columns:
        match = _GRADE_COLUMN.match(column)
        if match:
            level = parse_level(
                match["level"], f"VerSe grade table {table.path} line 1", draft.problems
            )
            if level is not None:
                levels[column] = level
    if not levels:
        draft.problems.append(
            f"VerSe grade table {table.path} line 1: no <level>_fx-g column; give the VerSe "
            "per-level grade table (e.g. L1_fx-g)"
        )
        return
    unmatched = 0
    numeric_shapes = 0
    for row in table.rows:
        cases = by_subject.get(_subject_key(row.get(id_column)), [])
        if not cases:
            unmatched += 1
            continue
        where = f"VerSe grade table {table.path} line {row.line}"
        for column, level in levels.items():
            text = row.get(column)
            grade = parse_grade(text, where, column, draft.problems)
            if grade is None:
                continue
            shape = row.get(column[: -len("_fx-g")] + "_fx-s").lower()
            morphology = shape if shape in MORPHOLOGIES else None
            numeric_shapes += bool(shape) and morphology is None
            for case_id in cases:
                draft.grades.append((VertebraGrade(case_id, level, grade, morphology), where))
    if unmatched:
        draft.notes.append(f"{unmatched} grade table row(s) name a subject without a scan: skipped")
    if numeric_shapes:
        draft.notes.append(
            f"{numeric_shapes} <level>_fx-s shape code(s) are not a shape name: morphology unknown"
        )
