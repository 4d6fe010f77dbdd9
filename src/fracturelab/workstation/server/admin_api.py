"""Admin routes: progress of every reader, assignments, reference standard, settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from fracturelab.errors import InputError
from fracturelab.workstation import readings
from fracturelab.workstation.app_settings import SHOW_PATIENT_NAMES, get_flag, set_flag
from fracturelab.workstation.server.deps import (
    Admin,
    AdminWriter,
    DbSession,
    RowId,
    RowIdField,
    client_address,
)
from fracturelab.workstation.users import list_users
from fracturelab.workstation.worklist import assign_by_id, set_reference

__all__ = ["router"]

router = APIRouter(prefix="/api/admin")


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
    return readings.progress(session)


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
    try:
        result = assign_by_id(session, body.case_ids, body.readers, by=auth.user)
    except InputError as error:
        session.rollback()
        raise HTTPException(422, str(error)) from None
    session.commit()
    return {"added": result.added, "already": result.already}


@router.post("/reference")
def post_reference(
    body: ReferenceIn, request: Request, auth: AdminWriter, session: DbSession
) -> dict[str, int]:
    """Mark a reading as the reference standard of its case."""
    reading = readings.get_reading(session, body.reading_id)
    if reading is None:
        raise HTTPException(404, f"no reading with id {body.reading_id}")
    set_reference(session, reading, auth.user, client_address(request))
    session.commit()
    return {"case_id": reading.case_id, "reading_id": reading.id}


@router.get("/readings/{reading_id}")
def get_reading(reading_id: RowId, auth: Admin, session: DbSession) -> dict[str, Any]:
    """Any reader's reading with its answers (to choose the reference standard)."""
    reading = readings.get_reading(session, reading_id)
    if reading is None:
        raise HTTPException(404, f"no reading with id {reading_id}")
    return readings.reading_summary(reading)


@router.get("/settings")
def get_settings(auth: Admin, session: DbSession) -> dict[str, bool]:
    """Server-wide settings."""
    return {SHOW_PATIENT_NAMES: get_flag(session, SHOW_PATIENT_NAMES)}


@router.put("/settings")
def put_settings(
    body: SettingsIn, request: Request, auth: AdminWriter, session: DbSession
) -> dict[str, bool]:
    """Change server-wide settings (audited)."""
    value = set_flag(
        session, SHOW_PATIENT_NAMES, body.show_patient_names, auth.user, client_address(request)
    )
    session.commit()
    return {SHOW_PATIENT_NAMES: value}
