"""Readings as the reader and admin views see them: answers counted, progress per reader.

Read-only queries over :class:`~.models.Reading`; changes go through :mod:`.worklist` (status,
reference) and :mod:`.answers` (answers), which audit them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from fracturelab.workstation.answers import is_answered
from fracturelab.workstation.models import Answer, Assignment, Case, Reading, User

__all__ = [
    "answered_counts",
    "answers_of",
    "get_reading",
    "progress",
    "reading_of",
    "reading_summary",
]


def get_reading(session: Session, reading_id: int) -> Reading | None:
    """The reading with id ``reading_id``, or ``None``."""
    return session.get(Reading, reading_id)


def reading_of(session: Session, case_id: int, reader: User) -> Reading | None:
    """The reader's reading of a case, or ``None`` before they first open it."""
    return session.scalars(
        select(Reading).where(Reading.case_id == case_id, Reading.reader_id == reader.id)
    ).one_or_none()


def answers_of(reading: Reading) -> dict[str, dict[str, Any]]:
    """The reading's answers: key (level or ``"fracture"``) -> stored answer."""
    return {answer.key: answer.value for answer in reading.answers}


def answered_counts(session: Session, readings: Select[Any]) -> dict[int, int]:
    """Reading id -> number of answers that say something, for the readings of a query.

    Args:
        session: Open session.
        readings: A query selecting reading ids (``select(Reading.id)...``).

    """
    counts: dict[int, int] = {}
    rows = session.execute(
        select(Answer.reading_id, Answer.value).where(Answer.reading_id.in_(readings))
    )
    for reading_id, value in rows:
        counts[reading_id] = counts.get(reading_id, 0) + is_answered(value)
    return counts


def reading_summary(reading: Reading) -> dict[str, Any]:
    """One reading for an admin: reader, status, reference flag, reopenings and answers."""
    return {
        "reading_id": reading.id,
        "case_id": reading.case_id,
        "username": reading.reader.username,
        "status": reading.status,
        "is_reference": reading.is_reference,
        "reopen_count": reading.reopen_count,
        "answers": answers_of(reading),
    }


def _new_reading(username: str) -> dict[str, Any]:
    return {
        "reading_id": None, "username": username, "status": "new", "answered": 0,
        "time_spent_s": 0.0, "is_reference": False, "reopen_count": 0,
    }  # fmt: skip


def progress(session: Session) -> dict[str, Any]:
    """Per reader and task: cases assigned, done and time spent; per case: its readings.

    Returns:
        ``{"readers": [...], "cases": [...]}``: readers by username and task with
        ``assigned``, ``done`` and ``time_spent_s`` (s); cases by task and name, each with
        one entry per assigned reader (``status`` ``new`` before the first opening).

    """
    answered = answered_counts(session, select(Reading.id))
    readings = list(session.scalars(select(Reading)))
    by_pair = {(r.case_id, r.reader_id): r for r in readings}
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    cases: dict[int, dict[str, Any]] = {}
    assignments = session.execute(
        select(Assignment, Case, User)
        .join(Case, Case.id == Assignment.case_id)
        .join(User, User.id == Assignment.reader_id)
        .order_by(Case.task, Case.name, User.username)
    ).all()
    for _, case, reader in assignments:
        reading = by_pair.get((case.id, reader.id))
        row = totals.setdefault(
            (reader.username, case.task),
            {"username": reader.username, "task": case.task, "assigned": 0, "done": 0,
             "time_spent_s": 0.0},
        )  # fmt: skip
        row["assigned"] += 1
        entry = cases.setdefault(
            case.id, {"case_id": case.id, "task": case.task, "name": case.name, "readings": []}
        )
        if reading is None:
            entry["readings"].append(_new_reading(reader.username))
            continue
        row["done"] += reading.status == "done"
        row["time_spent_s"] += reading.time_spent_s
        entry["readings"].append(
            {
                "reading_id": reading.id,
                "username": reader.username,
                "status": reading.status,
                "answered": answered.get(reading.id, 0),
                "time_spent_s": reading.time_spent_s,
                "is_reference": reading.is_reference,
                "reopen_count": reading.reopen_count,
            }
        )
    unassigned = session.scalars(
        select(Case).where(~Case.id.in_(select(Assignment.case_id))).order_by(Case.task, Case.name)
    )
    for case in unassigned:
        cases[case.id] = {"case_id": case.id, "task": case.task, "name": case.name, "readings": []}
    ordered = sorted(cases.values(), key=lambda c: (c["task"], c["name"]))
    return {"readers": sorted(totals.values(), key=lambda r: (r["username"], r["task"])),
            "cases": ordered}  # fmt: skip
