"""Writing labels out in the formats the training commands read.

- Spine: a CSV keyed by case and level with the columns ``case, ct, vertebrae, level,
  genant_grade, morphology, not_assessable, reader, n_readers`` (``not_assessable`` is
  ``true``/``false``; an empty grade means no usable answer).
- Femur: exactly the femur manifest of ``docs/design.md`` ("Femur manifest"): ``image,
  patient_id, label, center_x, center_y, pixel_spacing_mm``; cases whose answer is "not
  assessable" or empty are left out.

File paths are written relative to the output CSV's folder, as the manifest contract wants.

Whose answers: one reader's finished (``done``) readings, or a consensus per case:
``reference`` (the reading an admin marked as reference standard, finished or not),
``majority`` (the most common grade / label among finished readings; "not assessable" is a
vote too; ties give an empty value and are reported) or ``median`` (the lower median grade;
femur: the majority label). Femur centres are the mean (``median``: the per-axis median) of the
centres of the readers who gave one.
"""

from __future__ import annotations

import os
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from fracturelab.checks import closest_match
from fracturelab.errors import InputError
from fracturelab.femur.contract import MANIFEST_COLUMNS
from fracturelab.outputs import write_csv
from fracturelab.workstation.answers import FEMUR_KEY
from fracturelab.workstation.models import Case, Reading
from fracturelab.workstation.users import get_user

__all__ = [
    "CONSENSUS_RULES",
    "FEMUR_COLUMNS",
    "SPINE_COLUMNS",
    "ExportSummary",
    "export_femur",
    "export_spine",
    "gather_readings",
]

#: Consensus rules of an export without ``reader``.
CONSENSUS_RULES = ("reference", "majority", "median")
#: Columns of the spine label CSV.
SPINE_COLUMNS = (
    "case", "patient_id", "ct", "vertebrae", "level", "genant_grade", "morphology",
    "not_assessable", "reader", "n_readers",
)  # fmt: skip
#: Columns of the femur manifest (``docs/design.md``, "Femur manifest"), declared once in
#: :mod:`fracturelab.femur.contract`.
FEMUR_COLUMNS = MANIFEST_COLUMNS
_NA = "not assessable"

Answers = dict[str, dict[str, Any]]


@dataclass
class ExportSummary:
    """What an export wrote.

    Attributes:
        path: The CSV written.
        rows: Data rows written.
        cases: Cases with at least one row.
        ties: Where readers disagreed evenly and the value was left empty.
        skipped: Cases left out, with the reason.

    """

    path: Path
    rows: int = 0
    cases: int = 0
    ties: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _check_rule(consensus: str) -> str:
    if consensus not in CONSENSUS_RULES:
        close = closest_match(consensus, CONSENSUS_RULES)
        hint = f"did you mean {close!r}? " if close else ""
        raise InputError(
            f"--consensus {consensus!r} is not known; {hint}use {', '.join(CONSENSUS_RULES)}"
        )
    return consensus


def gather_readings(
    session: Session, task: str, reader: str | None, consensus: str
) -> tuple[list[Case], dict[int, list[Reading]], str]:
    """Cases of ``task`` by name, the readings that count for each, and the reader column."""
    query = (
        select(Reading)
        .join(Case, Reading.case_id == Case.id)
        .where(Case.task == task)
        .options(selectinload(Reading.answers), selectinload(Reading.reader))
        .order_by(Reading.id)
    )
    if reader is not None:
        user = get_user(session, reader)
        query = query.where(Reading.reader_id == user.id, Reading.status == "done")
        label = reader
    elif _check_rule(consensus) == "reference":
        query = query.where(Reading.is_reference)
        label = ""
    else:
        query = query.where(Reading.status == "done")
        label = f"consensus:{consensus}"
    by_case: dict[int, list[Reading]] = {}
    for reading in session.scalars(query):
        by_case.setdefault(reading.case_id, []).append(reading)
    cases = list(session.scalars(select(Case).where(Case.task == task).order_by(Case.name)))
    return cases, by_case, label


def _relative(path: str | None, folder: Path) -> str:
    if not path:
        return ""
    return Path(os.path.relpath(path, folder)).as_posix()


def _vote(values: Sequence[Any]) -> tuple[Any, bool]:
    """The most common value and whether the top was tied (then ``None``)."""
    if not values:
        return None, False
    ranked = Counter(values).most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None, True
    return ranked[0][0], False


def _spine_consensus(
    answers: list[dict[str, Any]], rule: str, where: str, ties: list[str]
) -> dict[str, Any]:
    votes = [_NA if a["not_assessable"] else a["genant_grade"] for a in answers]
    votes = [v for v in votes if v is not None]
    if rule == "median":
        grades = [v for v in votes if v != _NA]
        n_na = len(votes) - len(grades)
        if n_na > len(grades):
            winner: Any = _NA
        elif n_na == len(grades) and grades:
            winner = None
            ties.append(f"{where}: {n_na} not assessable vs {len(grades)} graded")
        else:
            winner = statistics.median_low(grades) if grades else None
    else:
        winner, tied = _vote(votes)
        if tied:
            ties.append(f"{where}: grades {sorted(map(str, votes))}")
    if winner == _NA:
        return {"genant_grade": None, "morphology": None, "not_assessable": True}
    morphology = None
    if winner == 0:
        morphology = "normal"
    elif winner is not None:
        shapes = [
            a["morphology"]
            for a in answers
            if a["genant_grade"] == winner and a["morphology"] is not None
        ]
        morphology, tied = _vote(shapes)
        if tied:
            ties.append(f"{where}: morphologies {sorted(shapes)}")
    return {"genant_grade": winner, "morphology": morphology, "not_assessable": False}


def _level_order(level: str) -> tuple[int, str]:
    from fracturelab.spine.levels import LEVELS

    return (LEVELS.index(level) if level in LEVELS else len(LEVELS), level)


def export_spine(
    session: Session,
    out_csv: str | Path,
    reader: str | None = None,
    consensus: str = "majority",
) -> ExportSummary:
    """Write the spine label CSV (one row per case and level).

    Args:
        session: Open session.
        out_csv: Output file, written atomically.
        reader: Export this reader's finished readings; ``None`` for a consensus.
        consensus: ``reference``, ``majority`` or ``median`` (ignored with ``reader``).

    Raises:
        InputError: If the reader or the consensus rule is unknown.

    """
    out = Path(out_csv)
    cases, by_case, label = gather_readings(session, "spine", reader, consensus)
    summary = ExportSummary(out)
    rows: list[dict[str, Any]] = []
    for case in cases:
        readings = by_case.get(case.id, [])
        if not readings:
            summary.skipped.append(f"{case.name}: no {_what(reader, consensus)}")
            continue
        per_level: dict[str, list[dict[str, Any]]] = {}
        for reading in readings:
            for answer in reading.answers:
                per_level.setdefault(answer.key, []).append(answer.value)
        before = len(rows)
        for level in sorted(per_level, key=_level_order):
            answers = per_level[level]
            if reader is None and consensus != "reference":
                value = _spine_consensus(answers, consensus, f"{case.name} {level}", summary.ties)
                who = label
            else:
                value = answers[0]
                who = label or readings[0].reader.username
            rows.append(
                {
                    "case": case.name,
                    "patient_id": case.patient_id or case.name,
                    "ct": _relative(case.image_path, out.parent.absolute()),
                    "vertebrae": _relative(case.labels_path, out.parent.absolute()),
                    "level": level,
                    "genant_grade": "" if value["genant_grade"] is None else value["genant_grade"],
                    "morphology": value["morphology"] or "",
                    "not_assessable": "true" if value["not_assessable"] else "false",
                    "reader": who,
                    "n_readers": len(answers),
                }
            )
        summary.cases += len(rows) > before
    summary.rows = len(rows)
    write_csv(out, SPINE_COLUMNS, rows)
    return summary


def _what(reader: str | None, consensus: str) -> str:
    if reader is not None:
        return f"finished reading by {reader}"
    return "reference reading" if consensus == "reference" else "finished reading"


def _femur_consensus(
    answers: list[dict[str, Any]], rule: str, where: str, ties: list[str]
) -> dict[str, Any]:
    votes = [_NA if a["not_assessable"] else a["label"] for a in answers]
    winner, tied = _vote([v for v in votes if v is not None])
    if tied:
        ties.append(f"{where}: labels {sorted(v for v in votes if v is not None)}")
    if winner == _NA:
        return {"center_x": None, "center_y": None, "label": None, "not_assessable": True}
    centres = [
        (a["center_x"], a["center_y"])
        for a in answers
        if not a["not_assessable"] and a["center_x"] is not None
    ]
    x = y = None
    if centres:
        average = statistics.median if rule == "median" else statistics.fmean
        x = float(average([c[0] for c in centres]))
        y = float(average([c[1] for c in centres]))
    return {"center_x": x, "center_y": y, "label": winner, "not_assessable": False}


def export_femur(
    session: Session,
    out_csv: str | Path,
    reader: str | None = None,
    consensus: str = "majority",
) -> ExportSummary:
    """Write a femur manifest (``docs/design.md``) of the labelled radiographs.

    Args:
        session: Open session.
        out_csv: Output manifest, written atomically; image paths are relative to its folder.
        reader: Export this reader's finished readings; ``None`` for a consensus.
        consensus: ``reference``, ``majority`` or ``median`` (ignored with ``reader``).

    Raises:
        InputError: If the reader or the consensus rule is unknown.

    """
    out = Path(out_csv)
    cases, by_case, _ = gather_readings(session, "femur", reader, consensus)
    summary = ExportSummary(out)
    rows: list[dict[str, Any]] = []
    for case in cases:
        answers = [
            answer.value
            for reading in by_case.get(case.id, [])
            for answer in reading.answers
            if answer.key == FEMUR_KEY
        ]
        if not answers:
            summary.skipped.append(f"{case.name}: no {_what(reader, consensus)}")
            continue
        if reader is None and consensus != "reference":
            value = _femur_consensus(answers, consensus, case.name, summary.ties)
        else:
            value = answers[0]
        if value["not_assessable"] or (value["label"] is None and value["center_x"] is None):
            reason = "not assessable" if value["not_assessable"] else "no label and no centre"
            summary.skipped.append(f"{case.name}: {reason}")
            continue
        spacing = case.pixel_spacing_mm
        rows.append(
            {
                "image": _relative(case.image_path, out.parent.absolute()),
                "patient_id": case.patient_id or case.name,
                "label": value["label"] or "",
                "center_x": "" if value["center_x"] is None else f"{value['center_x']:.3f}",
                "center_y": "" if value["center_y"] is None else f"{value['center_y']:.3f}",
                "pixel_spacing_mm": "" if spacing is None else f"{spacing:g}",
            }
        )
    summary.rows = summary.cases = len(rows)
    write_csv(out, FEMUR_COLUMNS, rows)
    return summary
