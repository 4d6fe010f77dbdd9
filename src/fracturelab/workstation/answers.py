"""Checking and saving a reader's answers, with an audit trail of every change.

An answer is one small JSON object per key of a reading:

- spine, key = vertebra level (``"L1"``): ``{"genant_grade": 0-3 | None, "morphology":
  "normal" | "wedge" | "biconcave" | "crush" | None, "not_assessable": bool}``;
- femur, key = ``"fracture"``: ``{"center_x": float | None, "center_y": float | None,
  "label": "AFF" | "NFF" | None, "not_assessable": bool}``.

Grade 0 means morphology ``normal``; ``not_assessable`` clears everything else. Spine keys
must be levels of the case's own label map, femur centres must lie on the image
(``-0.5 <= x <= width - 0.5``, the extent of the pixels whose centres are ``0..width - 1``),
and a reading marked done takes no changes until its reader opens it again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fracturelab.checks import did_you_mean
from fracturelab.errors import InputError
from fracturelab.femur.contract import LABELS
from fracturelab.workstation import audit
from fracturelab.workstation.models import (
    MORPHOLOGIES,
    TASKS,
    Answer,
    Reading,
    User,
    utc_now,
)

__all__ = [
    "FEMUR_KEY",
    "ReadingDoneError",
    "SavedAnswer",
    "is_answered",
    "save_answer",
    "validate_answer",
]

#: The one answer key of a femur reading.
FEMUR_KEY = "fracture"
_SPINE_FIELDS = ("genant_grade", "morphology", "not_assessable")
_FEMUR_FIELDS = ("center_x", "center_y", "label", "not_assessable")


class ReadingDoneError(InputError):
    """The reading is marked done; its reader must open it again to change it."""


def validate_answer(
    task: str,
    key: str,
    value: dict[str, Any],
    *,
    levels: Sequence[str] | None = None,
    image_size_px: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Check an answer and return it complete and normalised (every field present).

    Args:
        task: ``"spine"`` or ``"femur"``.
        key: Vertebra level such as ``"L1"`` (spine) or ``"fracture"`` (femur).
        value: The answer; missing fields count as unanswered.
        levels: Spine: the levels of the case's label map; the key must be one of them.
        image_size_px: Femur: ``(width, height)`` of the radiograph in original pixels; the
            centre must lie on it.

    Raises:
        InputError: If the key, a field name or a field value is not allowed.

    """
    if task not in TASKS:
        raise InputError(f"task {task!r} is not known; use one of {', '.join(TASKS)}")
    if not isinstance(value, dict):
        raise InputError(f"answer for {key!r} must be a JSON object, not {type(value).__name__}")
    if task == "spine":
        clean = _validate_spine(key, value)
        if levels is not None and key not in levels:
            shown = ", ".join(levels) if levels else "no vertebrae"
            raise InputError(
                f"spine answer key {key!r} is not a vertebra of this case; its label map "
                f"holds {shown}"
            )
        return clean
    clean = _validate_femur(key, value)
    if image_size_px is not None and clean["center_x"] is not None:
        _check_on_image(key, clean["center_x"], clean["center_y"], image_size_px)
    return clean


def _check_on_image(key: str, x: float, y: float, size_px: tuple[int, int]) -> None:
    width, height = size_px
    if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
        raise InputError(
            f"answer for {key!r}: the centre ({x:g}, {y:g}) lies outside the {width} x "
            f"{height} px image; give x in -0.5..{width - 0.5:g} and y in "
            f"-0.5..{height - 0.5:g} (original pixels)"
        )


def is_answered(value: dict[str, Any]) -> bool:
    """Whether a stored answer says anything (a cleared answer has every field empty)."""
    return bool(value.get("not_assessable")) or any(
        field != "not_assessable" and content is not None for field, content in value.items()
    )


def _check_fields(key: str, value: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = [name for name in value if name not in allowed]
    if unknown:
        hint = did_you_mean(str(unknown[0]), allowed)
        raise InputError(
            f"answer for {key!r} has the unknown field {unknown[0]!r}{hint}; "
            f"the fields are {', '.join(allowed)}"
        )


def _flag(key: str, value: dict[str, Any]) -> bool:
    flag = value.get("not_assessable", False)
    if not isinstance(flag, bool):
        raise InputError(f"answer for {key!r}: not_assessable must be true or false, not {flag!r}")
    return flag


def _validate_spine(key: str, value: dict[str, Any]) -> dict[str, Any]:
    from fracturelab.spine.levels import LEVELS

    if key not in LEVELS:
        raise InputError(
            f"spine answer key {key!r} is not a vertebra level; use a level such as L1 "
            f"({LEVELS[0]}..{LEVELS[-1]})"
        )
    _check_fields(key, value, _SPINE_FIELDS)
    if _flag(key, value):
        return {"genant_grade": None, "morphology": None, "not_assessable": True}
    grade = value.get("genant_grade")
    if grade is not None and (isinstance(grade, bool) or grade not in (0, 1, 2, 3)):
        raise InputError(
            f"answer for {key}: genant_grade {grade!r} is not valid; use 0, 1, 2, 3 or null"
        )
    morphology = value.get("morphology")
    if morphology is not None and morphology not in MORPHOLOGIES:
        raise InputError(
            f"answer for {key}: morphology {morphology!r} is not valid; use "
            f"{', '.join(MORPHOLOGIES)} or null"
        )
    if grade == 0:
        morphology = "normal"
    elif grade is not None and morphology == "normal":
        raise InputError(
            f"answer for {key}: grade {grade} is a fracture, so morphology cannot be normal; "
            "use wedge, biconcave or crush"
        )
    return {
        "genant_grade": None if grade is None else int(grade),
        "morphology": morphology,
        "not_assessable": False,
    }


def _coordinate(key: str, name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(
            f"answer for {key!r}: {name} {value!r} is not valid; give a pixel coordinate or null"
        )
    if value < -0.5:
        raise InputError(
            f"answer for {key!r}: {name} {value!r} lies outside the image; its edge is at "
            "-0.5 (pixel centres start at 0)"
        )
    return float(value)


def _validate_femur(key: str, value: dict[str, Any]) -> dict[str, Any]:
    if key != FEMUR_KEY:
        raise InputError(f"femur answer key {key!r} is not valid; use {FEMUR_KEY!r}")
    _check_fields(key, value, _FEMUR_FIELDS)
    if _flag(key, value):
        return {"center_x": None, "center_y": None, "label": None, "not_assessable": True}
    x = _coordinate(key, "center_x", value.get("center_x"))
    y = _coordinate(key, "center_y", value.get("center_y"))
    if (x is None) != (y is None):
        raise InputError(
            f"answer for {key!r}: give both center_x and center_y, or neither (got x={x}, y={y})"
        )
    label = value.get("label")
    if label is not None:
        if not isinstance(label, str) or label.upper() not in LABELS:
            raise InputError(
                f"answer for {key!r}: label {label!r} is not valid; use AFF, NFF or null"
            )
        label = label.upper()
    return {"center_x": x, "center_y": y, "label": label, "not_assessable": False}


@dataclass(frozen=True)
class SavedAnswer:
    """The outcome of :func:`save_answer`.

    Attributes:
        value: The stored, normalised answer.
        changed: Whether anything changed (``False``: same value, nothing written).
        version: The reading's version after the save.

    """

    value: dict[str, Any]
    changed: bool
    version: int


def save_answer(
    session: Session,
    reading: Reading,
    key: str,
    value: dict[str, Any],
    user: User,
    client: str | None = None,
    *,
    levels: Sequence[str] | None = None,
    image_size_px: tuple[int, int] | None = None,
) -> SavedAnswer:
    """Validate and store one answer, bump the reading's version and audit the change.

    The reading's row is locked first (an UPDATE that changes nothing), so concurrent saves of
    one reading (two browser tabs, two workers) run one after the other and each sees the
    other's answers; saves of different keys never overwrite each other. The answer, the new
    version and the audit event are written in the caller's transaction: commit it.

    Args:
        session: Open session; the caller commits.
        reading: The reading to change.
        key: Vertebra level (spine) or ``"fracture"`` (femur).
        value: The answer, checked by :func:`validate_answer`.
        user: Who saves; must be the reading's reader.
        client: Where the change came from, e.g. the browser's IP address.
        levels: Spine: the case's levels (see :func:`validate_answer`).
        image_size_px: Femur: the radiograph's ``(width, height)`` (see :func:`validate_answer`).

    Raises:
        ReadingDoneError: If the reading is marked done (checked after locking its row).
        InputError: If the answer is invalid, or the user is not the reading's reader.

    """
    if user.id != reading.reader_id or not user.active:
        raise InputError(
            f"user {user.username!r} cannot change reading {reading.id}: only its active reader can"
        )
    clean = validate_answer(
        reading.case.task, key, value, levels=levels, image_size_px=image_size_px
    )
    locked = session.execute(  # locks the row; matches nothing when the reading is done
        update(Reading)
        .where(Reading.id == reading.id, Reading.status != "done")
        .values(version=Reading.version)
        .execution_options(synchronize_session=False)
    )
    if getattr(locked, "rowcount", 1) == 0:
        raise ReadingDoneError(
            f"case {reading.case.name!r} is marked done; open it again (Open case again, or "
            f"POST /api/cases/{reading.case_id}/status with done=false) to change an answer"
        )
    existing = session.scalars(
        select(Answer)
        .where(Answer.reading_id == reading.id, Answer.key == key)
        .execution_options(populate_existing=True)
    ).one_or_none()
    old = None if existing is None else dict(existing.value)
    if old == clean:
        session.refresh(reading, ["version"])
        return SavedAnswer(clean, False, reading.version)
    now = utc_now()
    if existing is None:
        session.add(Answer(reading_id=reading.id, key=key, value=clean, updated_at=now))
    else:
        existing.value = clean
        existing.updated_at = now
    session.execute(
        update(Reading)
        .where(Reading.id == reading.id)
        .values(version=Reading.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session, "answer", by=user, case_id=reading.case_id, reading_id=reading.id, key=key,
        old=old, new=clean, client=client, at=now,
    )  # fmt: skip
    session.flush()
    session.refresh(reading, ["version", "updated_at"])
    return SavedAnswer(clean, True, reading.version)
