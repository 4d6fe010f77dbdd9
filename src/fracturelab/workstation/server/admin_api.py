"""Admin routes: progress of every reader, assignments, reference standard, settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from fracturelab.errors import InputError
from fracturelab.workstation.models import (
    AppSetting,
    Assignment,
    AuditEvent,
    Case,
    Reading,
    User,
    utc_now,
)
from fracturelab.workstation.server.deps import (
    Admin,
    Auth,
    DbSession,
    RowId,
    RowIdField,
    client_address,
    require_admin,
    require_csrf,
)
from fracturelab.workstation.server.reader_api import SHOW_PATIENT_NAMES, answered_counts
from fracturelab.workstation.users import get_user, list_users
from fracturelab.workstation.worklist import assign, set_reference

__all__ = ["router"]

router = APIRouter(prefix="/api/admin")


def _admin_writer(auth: Annotated[Auth, Depends(require_csrf)]) -> Auth:
    return require_admin(auth)


AdminWriter = Annotated[Auth, Depends(_admin_writer)]


class AssignIn(BaseModel):
    """Body of ``POST /api/admin/assign``."""

    case_ids: list[RowIdField] = Field(min_length=1, max_length=100_000)
    readers: list[str] = Field(min_length=1, max_length=1000)


class ReferenceIn(BaseModel):
    """Body of ``POST /api/admin/reference``."""

    reading_id: RowIdField


class SettingsIn(BaseModel):
    """Body of ``PUT /api/admin/settings``."""

    show_patient_names: bool


@router.get("/progress")
def progress(auth: Admin, session: DbSession) -> dict[str, Any]:
    """Per reader and task: cases assigned, done and time spent; per case: its readings."""
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
            entry["readings"].append(
                {"reading_id": None, "username": reader.username, "status": "new",
                 "answered": 0, "time_spent_s": 0.0, "is_reference": False, "reopen_count": 0}
            )  # fmt: skip
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


@router.get("/users")
def users(auth: Admin, session: DbSession) -> list[dict[str, Any]]:
    """Every account."""
    return [
        {"username": user.username, "role": user.role, "active": user.active}
        for user in list_users(session)
    ]


@router.post("/assign")
def post_assign(body: AssignIn, auth: AdminWriter, session: DbSession) -> dict[str, int]:
    """Put cases on readers' worklists."""
    cases = list(session.scalars(select(Case).where(Case.id.in_(body.case_ids))))
    missing = sorted(set(body.case_ids) - {case.id for case in cases})
    if missing:
        raise HTTPException(422, f"no case with id {missing[0]}; see GET /api/admin/progress")
    added = already = 0
    try:
        for name in body.readers:
            result = assign(session, cases, get_user(session, name), by=auth.user)
            added, already = added + result.added, already + result.already
    except InputError as error:
        session.rollback()
        raise HTTPException(422, str(error)) from None
    session.commit()
    return {"added": added, "already": already}


@router.post("/reference")
def post_reference(
    body: ReferenceIn, request: Request, auth: AdminWriter, session: DbSession
) -> dict[str, int]:
    """Mark a reading as the reference standard of its case."""
    reading = session.get(Reading, body.reading_id)
    if reading is None:
        raise HTTPException(404, f"no reading with id {body.reading_id}")
    set_reference(session, reading, auth.user, client_address(request))
    session.commit()
    return {"case_id": reading.case_id, "reading_id": reading.id}


@router.get("/readings/{reading_id}")
def get_reading(reading_id: RowId, auth: Admin, session: DbSession) -> dict[str, Any]:
    """Any reader's reading with its answers (to choose the reference standard)."""
    reading = session.get(Reading, reading_id)
    if reading is None:
        raise HTTPException(404, f"no reading with id {reading_id}")
    return {
        "reading_id": reading.id,
        "case_id": reading.case_id,
        "username": reading.reader.username,
        "status": reading.status,
        "is_reference": reading.is_reference,
        "reopen_count": reading.reopen_count,
        "answers": {answer.key: answer.value for answer in reading.answers},
    }


@router.get("/settings")
def get_settings(auth: Admin, session: DbSession) -> dict[str, bool]:
    """Server-wide settings."""
    setting = session.get(AppSetting, SHOW_PATIENT_NAMES)
    return {SHOW_PATIENT_NAMES: bool(setting is not None and setting.value)}


@router.put("/settings")
def put_settings(
    body: SettingsIn, request: Request, auth: AdminWriter, session: DbSession
) -> dict[str, bool]:
    """Change server-wide settings (audited)."""
    setting = session.get(AppSetting, SHOW_PATIENT_NAMES)
    old = bool(setting is not None and setting.value)
    if setting is None:
        session.add(AppSetting(key=SHOW_PATIENT_NAMES, value=body.show_patient_names))
    else:
        setting.value = body.show_patient_names
        setting.updated_at = utc_now()
    if old != body.show_patient_names:
        session.add(
            AuditEvent(
                user_id=auth.user.id,
                action="setting",
                key=SHOW_PATIENT_NAMES,
                old={"value": old},
                new={"value": body.show_patient_names},
                client=client_address(request),
            )
        )
    session.commit()
    return {SHOW_PATIENT_NAMES: body.show_patient_names}
