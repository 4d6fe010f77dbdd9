"""Database tables of the labelling workstation (SQLAlchemy 2.0 typed ORM).

Images stay in their files: a case stores absolute paths on the server, never pixels. Every
change of an answer is written to the append-only ``audit_events`` table in the same
transaction (see :mod:`fracturelab.workstation.answers`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship

__all__ = [
    "MORPHOLOGIES",
    "ROLES",
    "STATUSES",
    "TASKS",
    "Answer",
    "AppSetting",
    "Assignment",
    "AuditEvent",
    "Base",
    "Case",
    "Reading",
    "UTCDateTime",
    "User",
    "WebSession",
    "utc_now",
]

#: User roles: readers label their worklist; admins manage users, cases and assignments.
ROLES = ("reader", "admin")
#: Labelling tasks.
TASKS = ("spine", "femur")
#: Reading states.
STATUSES = ("open", "done")
#: Genant morphologies; ``normal`` goes with grade 0. The spine view takes them from here
#: (``pages.PAGE_DATA``, written into spine.html), never from a copy of its own.
MORPHOLOGIES = ("normal", "wedge", "biconcave", "crush")

#: Constraint names spelled out, so SQLite and PostgreSQL schemas (and migrations) agree.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC before storing (naive values are taken as UTC)."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite returns naive."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base with the shared naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


class User(Base):
    """A person who logs in: a reader or an admin."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, username={self.username!r}, role={self.role!r})"


class Case(Base):
    """One image to label: a CT with its vertebra label map, or a femur radiograph."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("task", "name"),
        CheckConstraint(_one_of("task", TASKS), name="task"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(512))
    image_path: Mapped[str] = mapped_column(Text)
    labels_path: Mapped[str | None] = mapped_column(Text)
    pixel_spacing_mm: Mapped[float | None] = mapped_column(Float)
    patient_id: Mapped[str | None] = mapped_column(String(255))
    suggestion: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    #: Spine: the vertebra levels of the label map, cranial first (answer keys must be one);
    #: ``None`` until the server first reads the label map.
    levels: Mapped[list[str] | None] = mapped_column(JSON)
    #: Femur: the radiograph's size in original pixels (centres must lie inside); ``None``
    #: until the server first reads the image.
    width_px: Mapped[int | None] = mapped_column(Integer)
    height_px: Mapped[int | None] = mapped_column(Integer)

    readings: Mapped[list[Reading]] = relationship(back_populates="case")

    def __repr__(self) -> str:
        return f"Case(id={self.id!r}, task={self.task!r}, name={self.name!r})"


class Assignment(Base):
    """A case on a reader's worklist."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("case_id", "reader_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    reader_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(default=utc_now)

    case: Mapped[Case] = relationship()
    reader: Mapped[User] = relationship()


class Reading(Base):
    """One reader's work on one case; ``version`` grows with every saved change."""

    __tablename__ = "readings"
    __table_args__ = (
        UniqueConstraint("case_id", "reader_id"),
        CheckConstraint(_one_of("status", STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    reader_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    started_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    time_spent_s: Mapped[float] = mapped_column(Float, default=0.0)
    is_reference: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
    #: How often the reader opened the reading again after marking it done (shown to admins).
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    case: Mapped[Case] = relationship(back_populates="readings")
    reader: Mapped[User] = relationship()
    answers: Mapped[list[Answer]] = relationship(back_populates="reading", order_by="Answer.key")


class Answer(Base):
    """One answer of a reading: a vertebra level (spine) or ``fracture`` (femur)."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("reading_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reading_id: Mapped[int] = mapped_column(
        ForeignKey("readings.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(32))
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)

    reading: Mapped[Reading] = relationship(back_populates="answers")


class AuditEvent(Base):
    """Append-only record of who changed what, when, from which value to which."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    reading_id: Mapped[int | None] = mapped_column(ForeignKey("readings.id"))
    key: Mapped[str | None] = mapped_column(String(32))
    old: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    new: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    action: Mapped[str] = mapped_column(String(32))
    client: Mapped[str | None] = mapped_column(Text)


class WebSession(Base):
    """A logged-in browser; only a SHA-256 of the cookie's token is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(default=utc_now)
    client: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship()


class AppSetting(Base):
    """A server-wide setting changed by admins, e.g. ``show_patient_names``."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _append_only(mapper: Mapper[Any], connection: Any, target: AuditEvent) -> None:
    raise PermissionError("audit events are append-only; they are never changed or deleted")
