"""Reader routes: worklist, case, images, answers (autosave), time spent and status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from fracturelab.errors import InputError
from fracturelab.workstation import worklist
from fracturelab.workstation.answers import ReadingDoneError, save_answer
from fracturelab.workstation.app_settings import SHOW_PATIENT_NAMES, get_flag
from fracturelab.workstation.models import Case, Reading, User
from fracturelab.workstation.readings import answers_of, reading_of
from fracturelab.workstation.server.deps import (
    DbSession,
    Login,
    RowId,
    Writer,
    client_address,
    write,
)
from fracturelab.workstation.server.images import CaseImages, ImageUnavailableError

__all__ = ["router"]

router = APIRouter(prefix="/api")


class AnswerIn(BaseModel):
    """Body of ``PUT /api/cases/{case_id}/answers/{key}``."""

    value: dict[str, Any]
    base_version: int | None = None


class TimeIn(BaseModel):
    """Body of ``POST /api/cases/{case_id}/time``."""

    seconds: float = Field(ge=0, allow_inf_nan=False)


class StatusIn(BaseModel):
    """Body of ``POST /api/cases/{case_id}/status``."""

    done: bool


def _images(request: Request) -> CaseImages:
    images: CaseImages = request.app.state.images
    return images


def _visible_case(session: Session, case_id: int, user: User) -> Case:
    """The case if ``user`` may see it (on their worklist, or any case for admins); else 404."""
    case = worklist.visible_case(session, case_id, user)
    if case is None:
        raise HTTPException(404, f"case {case_id} is not on your worklist")
    return case


def _assigned_case(session: Session, case_id: int, user: User) -> tuple[Case, Reading]:
    """The case and the user's reading of it (created on first use); 404 if not assigned."""
    case = session.get(Case, case_id)
    if case is None or not worklist.is_assigned(session, case_id, user):
        raise HTTPException(404, f"case {case_id} is not on your worklist")
    reading = reading_of(session, case_id, user)
    if reading is None:
        reading = write(session, lambda: worklist.open_reading(session, case, user))
    return case, reading


def _unavailable(error: ImageUnavailableError) -> HTTPException:
    return HTTPException(404, str(error))


def _store_geometry(
    session: Session,
    case: Case,
    levels: list[str] | None = None,
    size_px: tuple[int, int] | None = None,
) -> None:
    """Remember the case's levels or image size (read once from its files) in the database."""

    def work() -> None:
        if levels is not None:
            case.levels = levels
        if size_px is not None:
            case.width_px, case.height_px = size_px

    write(session, work)


def _answer_limits(
    request: Request, session: Session, case: Case
) -> tuple[list[str] | None, tuple[int, int] | None]:
    """The levels (spine) or image size (femur) that answers of ``case`` must keep to."""
    images = _images(request)
    try:
        if case.task == "spine":
            if case.levels is None:
                levels = [level["level"] for level in images.spine_levels(case)]
                _store_geometry(session, case, levels=levels)
            return list(case.levels or ()), None
        if case.width_px is None or case.height_px is None:
            shown = images.radiograph(case)
            _store_geometry(session, case, size_px=(shown.width_px, shown.height_px))
    except ImageUnavailableError as error:
        raise _unavailable(error) from None
    return None, (int(case.width_px or 0), int(case.height_px or 0))


@router.get("/worklist")
def get_worklist(auth: Login, session: DbSession, task: str | None = None) -> list[dict[str, Any]]:
    """The logged-in user's cases with their reading status, answers given and time spent."""
    try:
        return worklist.worklist_status(session, auth.user, task)
    except InputError as error:
        raise HTTPException(422, str(error)) from None


@router.get("/cases/{case_id}")
def get_case(case_id: RowId, request: Request, auth: Login, session: DbSession) -> dict[str, Any]:
    """The case as its reader sees it: suggestion, own answers, levels, image descriptions."""
    case = _visible_case(session, case_id, auth.user)
    reading = reading_of(session, case.id, auth.user)
    previous, following = worklist.neighbours(session, case, auth.user)
    images = _images(request)
    base = f"/api/cases/{case.id}"
    try:
        dicom = images.dicom_header(case, get_flag(session, SHOW_PATIENT_NAMES))
        if case.task == "spine":
            levels = images.spine_levels(case)
            if case.levels is None:
                _store_geometry(session, case, levels=[level["level"] for level in levels])
            image: dict[str, Any] = {
                "url": f"{base}/image", "format": "nifti", "name": f"case{case.id}-ct.nii.gz",
            }  # fmt: skip
            labels: dict[str, Any] | None = {
                "url": f"{base}/labels", "format": "nifti", "name": f"case{case.id}-labels.nii.gz",
            }  # fmt: skip
        else:
            levels, labels = [], None
            shown = images.radiograph(case)
            if case.width_px is None or case.height_px is None:
                _store_geometry(session, case, size_px=(shown.width_px, shown.height_px))
            spacing = case.pixel_spacing_mm
            if spacing is None and shown.spacing_xy_mm is not None:
                spacing = shown.spacing_xy_mm[0]
            image = {
                "url": f"{base}/image",
                "format": "uint16",
                "width_px": shown.width_px,
                "height_px": shown.height_px,
                "display_width_px": shown.display_width_px,
                "display_height_px": shown.display_height_px,
                "pixel_spacing_mm": spacing,
            }
    except ImageUnavailableError as error:
        raise _unavailable(error) from None
    return {
        "case_id": case.id,
        "task": case.task,
        "name": case.name,
        "can_edit": worklist.is_assigned(session, case.id, auth.user),
        "suggestion": case.suggestion,
        "reading": None
        if reading is None
        else {
            "version": reading.version,
            "status": reading.status,
            "time_spent_s": reading.time_spent_s,
            "answers": answers_of(reading),
        },
        "previous_case_id": previous,
        "next_case_id": following,
        "levels": levels,
        "image": image,
        "labels": labels,
        "dicom": dicom,
    }


_NO_STORE = {"Cache-Control": "private, no-store"}


@router.get("/cases/{case_id}/image", response_model=None)
def get_image(case_id: RowId, request: Request, auth: Login, session: DbSession) -> Response:
    """The case's image: NIfTI for a CT, raw ``uint16`` for a radiograph."""
    case = _visible_case(session, case_id, auth.user)
    images = _images(request)
    try:
        if case.task == "spine":
            path = images.spine_image(case)
            return FileResponse(path, media_type="application/octet-stream", headers=_NO_STORE)
        shown = images.radiograph(case)
    except ImageUnavailableError as error:
        raise _unavailable(error) from None
    headers = {
        **_NO_STORE,
        "X-Image-Width": str(shown.display_width_px),
        "X-Image-Height": str(shown.display_height_px),
    }
    return Response(shown.data, media_type="application/octet-stream", headers=headers)


@router.get("/cases/{case_id}/labels", response_model=None)
def get_labels(case_id: RowId, request: Request, auth: Login, session: DbSession) -> Response:
    """The vertebra label map of a spine case as NIfTI."""
    case = _visible_case(session, case_id, auth.user)
    if case.task != "spine":
        raise HTTPException(404, f"case {case_id} is a {case.task} case and has no label map")
    try:
        path = _images(request).spine_labels(case)
    except ImageUnavailableError as error:
        raise _unavailable(error) from None
    return FileResponse(path, media_type="application/octet-stream", headers=_NO_STORE)


@router.put("/cases/{case_id}/answers/{key}")
def put_answer(
    case_id: RowId,
    key: Annotated[str, Path(max_length=32)],
    body: AnswerIn,
    request: Request,
    auth: Writer,
    session: DbSession,
) -> dict[str, Any]:
    """Save one answer (autosave); says whether another client changed the reading meanwhile."""
    case, reading = _assigned_case(session, case_id, auth.user)
    levels, size_px = _answer_limits(request, session, case)
    client = client_address(request)
    try:
        saved = write(
            session,
            lambda: save_answer(
                session, reading, key, body.value, auth.user, client,
                levels=levels, image_size_px=size_px,
            ),
        )  # fmt: skip
    except ReadingDoneError as error:
        raise HTTPException(409, str(error)) from None
    except InputError as error:
        raise HTTPException(422, str(error)) from None
    before = saved.version - (1 if saved.changed else 0)
    conflict = body.base_version is not None and body.base_version != before
    return {
        "key": key,
        "value": saved.value,
        "version": saved.version,
        "changed": saved.changed,
        "conflict": conflict,
    }


@router.post("/cases/{case_id}/time")
def post_time(case_id: RowId, body: TimeIn, auth: Writer, session: DbSession) -> dict[str, float]:
    """Add time spent on the case (the browser reports while the page is visible)."""
    _, reading = _assigned_case(session, case_id, auth.user)
    return {
        "time_spent_s": write(session, lambda: worklist.record_time(session, reading, body.seconds))
    }


@router.post("/cases/{case_id}/status")
def post_status(
    case_id: RowId, body: StatusIn, request: Request, auth: Writer, session: DbSession
) -> dict[str, str]:
    """Mark the reading done, or open again."""
    _, reading = _assigned_case(session, case_id, auth.user)
    client = client_address(request)
    write(
        session,
        lambda: worklist.finish_reading(session, reading, auth.user, client, done=body.done),
    )
    return {"status": reading.status}
