"""Cases, worklists and readings: who reads what, and the life of a reading."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fracturelab.checks import closest_match
from fracturelab.errors import InputError
from fracturelab.workstation import audit
from fracturelab.workstation.models import (
    TASKS,
    Assignment,
    Case,
    Reading,
    User,
    utc_now,
)
from fracturelab.workstation.readings import answered_counts
from fracturelab.workstation.users import get_user

__all__ = [
    "MAX_TIME_STEP_S",
    "AssignResult",
    "assign",
    "assign_by_id",
    "check_task",
    "finish_reading",
    "get_case",
    "is_assigned",
    "list_cases",
    "neighbours",
    "open_reading",
    "record_time",
    "set_reference",
    "visible_case",
    "worklist",
    "worklist_status",
]

#: Longest time one report of :func:`record_time` may add (an idle tab must not count hours).
MAX_TIME_STEP_S = 600.0


def check_task(task: str) -> str:
    """Return ``task`` if it is ``spine`` or ``femur``.

    Raises:
        InputError: Otherwise.

    """
    if task not in TASKS:
        close = closest_match(task, TASKS)
        hint = f"did you mean {close!r}? " if close else ""
        raise InputError(f"task {task!r} is not known; {hint}use spine or femur")
    return task


def list_cases(session: Session, task: str) -> list[Case]:
    """Every case of a task, by name."""
    check_task(task)
    return list(session.scalars(select(Case).where(Case.task == task).order_by(Case.name)))


def get_case(session: Session, task: str, name: str) -> Case:
    """The case of ``task`` called ``name``.

    Raises:
        InputError: If there is none (with the closest existing name).

    """
    check_task(task)
    case = session.scalars(select(Case).where(Case.task == task, Case.name == name)).first()
    if case is None:
        names = list(session.scalars(select(Case.name).where(Case.task == task)))
        close = closest_match(name, names)
        hint = f"did you mean {close!r}? " if close else ""
        raise InputError(
            f"no {task} case {name!r}; {hint}import it with fracturelab workstation import {task}"
        )
    return case


@dataclass(frozen=True)
class AssignResult:
    """What :func:`assign` did.

    Attributes:
        added: Cases newly put on the worklist.
        already: Cases that were on it before.

    """

    added: int
    already: int


def assign(
    session: Session, cases: Iterable[Case], reader: User, by: User | None = None
) -> AssignResult:
    """Put cases on a reader's worklist (idempotent); the caller commits.

    Args:
        session: Open session.
        cases: Cases to assign.
        reader: The user who will read them (readers and admins can both read).
        by: The admin who assigns, for the audit trail (``None``: the command line).

    Raises:
        InputError: If the reader's account is deactivated.

    """
    if not reader.active:
        raise InputError(f"user {reader.username!r} is deactivated; activate the account first")
    assigned = set(
        session.scalars(select(Assignment.case_id).where(Assignment.reader_id == reader.id))
    )
    added = already = 0
    for case in cases:
        if case.id in assigned:
            already += 1
            continue
        session.add(Assignment(case_id=case.id, reader_id=reader.id))
        audit.record(session, "assign", by=by, case_id=case.id, new={"reader": reader.username})
        assigned.add(case.id)
        added += 1
    session.flush()
    return AssignResult(added, already)


def worklist(session: Session, reader: User, task: str | None = None) -> list[Case]:
    """The cases assigned to ``reader`` (optionally of one task), by task and name."""
    query = (
        select(Case)
        .join(Assignment, Assignment.case_id == Case.id)
        .where(Assignment.reader_id == reader.id)
        .order_by(Case.task, Case.name)
    )
    if task is not None:
        query = query.where(Case.task == check_task(task))
    return list(session.scalars(query))


def assign_by_id(
    session: Session, case_ids: Iterable[int], readers: Iterable[str], by: User | None = None
) -> AssignResult:
    """Put the cases with ids ``case_ids`` on the worklists of the named readers; audited.

    Args:
        session: Open session; the caller commits (or rolls back on an error).
        case_ids: Case ids.
        readers: Usernames.
        by: The admin who assigns.

    Raises:
        InputError: If a case id or a reader does not exist, or a reader is deactivated.

    """
    wanted = set(case_ids)
    cases = list(session.scalars(select(Case).where(Case.id.in_(wanted))))
    missing = sorted(wanted - {case.id for case in cases})
    if missing:
        raise InputError(f"no case with id {missing[0]}; see GET /api/admin/progress")
    added = already = 0
    for name in readers:
        result = assign(session, cases, get_user(session, name), by=by)
        added, already = added + result.added, already + result.already
    return AssignResult(added, already)


def is_assigned(session: Session, case_id: int, reader: User) -> bool:
    """Whether the case is on the reader's worklist."""
    query = select(Assignment.id).where(
        Assignment.case_id == case_id, Assignment.reader_id == reader.id
    )
    return session.scalars(query).first() is not None


def visible_case(session: Session, case_id: int, user: User) -> Case | None:
    """The case if ``user`` may see it (assigned to them, or any case for admins), else ``None``."""
    case = session.get(Case, case_id)
    if case is not None and (user.role == "admin" or is_assigned(session, case_id, user)):
        return case
    return None


def worklist_status(
    session: Session, reader: User, task: str | None = None
) -> list[dict[str, Any]]:
    """The reader's worklist with, per case, its reading's status, answers given and time spent.

    Returns:
        One dict per case (``case_id``, ``task``, ``name``, ``status`` ``new`` | ``open`` |
        ``done``, ``answered``, ``time_spent_s`` in seconds), by task and name.

    Raises:
        InputError: If ``task`` is not ``spine`` or ``femur``.

    """
    cases = worklist(session, reader, task)
    readings = {
        reading.case_id: reading
        for reading in session.scalars(select(Reading).where(Reading.reader_id == reader.id))
    }
    counts = answered_counts(session, select(Reading.id).where(Reading.reader_id == reader.id))
    rows = []
    for case in cases:
        reading = readings.get(case.id)
        rows.append(
            {
                "case_id": case.id,
                "task": case.task,
                "name": case.name,
                "status": "new" if reading is None else reading.status,
                "answered": 0 if reading is None else counts.get(reading.id, 0),
                "time_spent_s": 0.0 if reading is None else reading.time_spent_s,
            }
        )
    return rows


def neighbours(session: Session, case: Case, reader: User) -> tuple[int | None, int | None]:
    """Ids of the cases before and after ``case`` on the reader's worklist of its task."""
    same_task = [c.id for c in worklist(session, reader, case.task)]
    if case.id not in same_task:
        return None, None
    index = same_task.index(case.id)
    previous = same_task[index - 1] if index > 0 else None
    following = same_task[index + 1] if index + 1 < len(same_task) else None
    return previous, following


def open_reading(session: Session, case: Case, reader: User) -> Reading:
    """The reader's reading of ``case``, created on first use; the caller commits.

    Raises:
        InputError: If the case is not on the reader's worklist.

    """
    query = select(Reading).where(Reading.case_id == case.id, Reading.reader_id == reader.id)
    reading = session.scalars(query).first()
    if reading is not None:
        return reading
    if not is_assigned(session, case.id, reader):
        raise InputError(
            f"case {case.name!r} is not on {reader.username!r}'s worklist; an admin assigns it "
            "with fracturelab workstation assign"
        )
    try:
        with session.begin_nested():
            reading = Reading(case_id=case.id, reader_id=reader.id)
            session.add(reading)
    except IntegrityError:  # another tab created it at the same moment
        return session.scalars(query).one()
    return reading


def finish_reading(
    session: Session, reading: Reading, user: User, client: str | None = None, *, done: bool = True
) -> None:
    """Mark a reading done (or open again); audited, the caller commits.

    A done reading takes no answers (:class:`~.answers.ReadingDoneError`); opening it again
    is audited and counted in ``reading.reopen_count``, which admins see.

    Raises:
        InputError: If ``user`` is not the reading's reader.

    """
    if user.id != reading.reader_id:
        raise InputError(f"user {user.username!r} cannot finish another reader's reading")
    status = "done" if done else "open"
    if reading.status == status:
        return
    audit.record(
        session, "status", by=user, case_id=reading.case_id, reading_id=reading.id,
        old={"status": reading.status}, new={"status": status}, client=client,
    )  # fmt: skip
    if not done:
        reading.reopen_count = (reading.reopen_count or 0) + 1
    reading.status = status
    reading.updated_at = utc_now()
    session.flush()


def record_time(session: Session, reading: Reading, seconds: float) -> float:
    """Add time spent on a case (capped at :data:`MAX_TIME_STEP_S` per call); returns the total.

    The addition happens in SQL, so reports from two tabs both count.

    Raises:
        InputError: If ``seconds`` is negative or not a number.

    """
    if not (isinstance(seconds, int | float) and seconds >= 0):
        raise InputError(f"seconds={seconds!r} is not valid; give a time >= 0 in seconds")
    step = min(float(seconds), MAX_TIME_STEP_S)
    session.execute(
        update(Reading)
        .where(Reading.id == reading.id)
        .values(time_spent_s=Reading.time_spent_s + step)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    session.refresh(reading, ["time_spent_s"])
    return reading.time_spent_s


def set_reference(
    session: Session, reading: Reading, admin: User, client: str | None = None
) -> None:
    """Mark ``reading`` as the reference standard of its case (one per case); audited.

    Raises:
        InputError: If ``admin`` is not an active admin.

    """
    if admin.role != "admin" or not admin.active:
        raise InputError(f"user {admin.username!r} is not an admin; only admins set references")
    others = session.scalars(
        select(Reading).where(Reading.case_id == reading.case_id, Reading.is_reference)
    )
    previous = [other for other in others if other.id != reading.id]
    for other in previous:
        other.is_reference = False
    if reading.is_reference and not previous:
        return
    reading.is_reference = True
    audit.record(
        session, "reference", by=admin, case_id=reading.case_id, reading_id=reading.id,
        old={"reference_reading": [other.id for other in previous]},
        new={"reference_reading": reading.id}, client=client,
    )  # fmt: skip
    session.flush()
