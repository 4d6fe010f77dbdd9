"""The audit trail: one function writes every row of the append-only ``audit_events`` table.

Every change a person makes (an answer, a reading's status, an assignment, the reference
standard, a setting, an account, a login) is recorded by :func:`record` in the caller's
transaction, so the change and its audit row are committed, or rolled back, together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fracturelab.workstation.models import AuditEvent, User, utc_now

__all__ = ["record"]


def record(
    session: Session,
    action: str,
    *,
    by: User | None = None,
    case_id: int | None = None,
    reading_id: int | None = None,
    key: str | None = None,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    client: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Add one audit row to ``session``; the caller commits.

    Args:
        session: Open session.
        action: What happened: ``answer``, ``status``, ``assign``, ``reference``, ``setting``,
            an account action (``user_add``, ...) or a login outcome (``login``, ...).
        by: Who did it (``None``: the command line, or an unknown login name).
        case_id: The case concerned, if any.
        reading_id: The reading concerned, if any.
        key: The answer key or setting name, if any.
        old: The value before (JSON object), if any.
        new: The value after (JSON object), if any.
        client: Where the change came from: the browser's address, or ``"cli"``.
        at: When (UTC); now if not given.

    Returns:
        The added row (not yet flushed).

    """
    event = AuditEvent(
        at=utc_now() if at is None else at,
        user_id=None if by is None else by.id,
        case_id=case_id,
        reading_id=reading_id,
        key=key,
        old=old,
        new=new,
        action=action,
        client=client,
    )
    session.add(event)
    return event
