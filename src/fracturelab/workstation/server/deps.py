"""Request dependencies: a database session, the logged-in user, the admin and CSRF checks."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Annotated, TypeVar
from weakref import WeakKeyDictionary

from fastapi import Depends, HTTPException, Path, Request
from pydantic import Field
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from fracturelab.workstation.models import User, WebSession
from fracturelab.workstation.server.middleware import WRITE_METHODS
from fracturelab.workstation.server.security import COOKIE_NAME, csrf_matches, find_session

__all__ = [
    "MAX_ID",
    "Admin",
    "AdminWriter",
    "Auth",
    "DbSession",
    "Login",
    "RowId",
    "RowIdField",
    "Writer",
    "client_address",
    "db_session",
    "optional_login",
    "require_admin",
    "require_admin_writer",
    "require_csrf",
    "require_login",
    "write",
]

T = TypeVar("T")
#: How often a write that met a busy SQLite database is tried again.
_WRITE_ATTEMPTS = 8


#: Largest row id (a signed 64-bit integer, the widest the databases store).
MAX_ID = 2**63 - 1
#: A row id in a URL path (``/api/cases/{case_id}``): 1..:data:`MAX_ID`, else 422.
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="Row id, 1 to 2**63 - 1.")]
#: A row id in a JSON body: 1..:data:`MAX_ID`, else 422.
RowIdField = Annotated[int, Field(ge=1, le=MAX_ID)]


@dataclass(frozen=True)
class Auth:
    """The logged-in user of a request and their browser session."""

    user: User
    web_session: WebSession


def db_session(request: Request) -> Iterator[Session]:
    """A database session for one request, closed afterwards (the route commits)."""
    session = request.app.state.database.session()
    try:
        yield session
    finally:
        session.close()


DbSession = Annotated[Session, Depends(db_session)]


def client_address(request: Request) -> str | None:
    """The client's IP address as the server sees it."""
    return None if request.client is None else request.client.host


def optional_login(request: Request, session: DbSession) -> Auth | None:
    """The logged-in user, or ``None`` for an anonymous request."""
    row = find_session(session, request.cookies.get(COOKIE_NAME))
    return None if row is None else Auth(row.user, row)


def require_login(auth: Annotated[Auth | None, Depends(optional_login)]) -> Auth:
    """The logged-in user; 401 for anyone else."""
    if auth is None:
        raise HTTPException(401, "not logged in; log in at /login")
    return auth


Login = Annotated[Auth, Depends(require_login)]


def require_csrf(request: Request, auth: Login) -> Auth:
    """The logged-in user of a write request carrying the session's CSRF token; else 403."""
    if request.method in WRITE_METHODS and not csrf_matches(
        auth.web_session, request.headers.get("x-csrf-token")
    ):
        raise HTTPException(
            403, "missing or wrong X-CSRF-Token header; reload the page (GET /api/me gives it)"
        )
    return auth


Writer = Annotated[Auth, Depends(require_csrf)]


def require_admin(auth: Login) -> Auth:
    """The logged-in admin; 403 for readers."""
    if auth.user.role != "admin":
        raise HTTPException(403, f"user {auth.user.username!r} is not an admin")
    return auth


Admin = Annotated[Auth, Depends(require_admin)]


def require_admin_writer(auth: Writer) -> Auth:
    """The logged-in admin of a write request (CSRF token checked first); 403 for readers."""
    return require_admin(auth)


AdminWriter = Annotated[Auth, Depends(require_admin_writer)]


_SQLITE_WRITERS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()
_GUARD = threading.Lock()


def _writer_lock(session: Session) -> AbstractContextManager[object]:
    """One writer at a time per SQLite database in this process; nothing for other databases.

    SQLite allows one writer anyway; queueing writers on a lock instead of SQLite's busy
    handler (which sleeps up to 100 ms between tries) keeps save latency short and fair.
    """
    engine = session.get_bind()
    if not isinstance(engine, Engine) or engine.dialect.name != "sqlite":
        return nullcontext()
    with _GUARD:
        return _SQLITE_WRITERS.setdefault(engine, threading.Lock())


def write(session: Session, work: Callable[[], T]) -> T:
    """Run ``work`` in a fresh transaction and commit it, retrying when SQLite was busy.

    The request's reads (session, case, reading) are committed first, so the write transaction
    starts with a write and SQLite's busy timeout queues it behind other writers. A write that
    still meets ``database is locked`` (its snapshot went stale) is rolled back and tried again.
    """
    session.commit()
    for attempt in range(_WRITE_ATTEMPTS):
        try:
            with _writer_lock(session):
                result = work()
                session.commit()
            return result
        except OperationalError as error:
            session.rollback()
            locked = "locked" in str(error.orig) or "busy" in str(error.orig)
            if not locked or attempt == _WRITE_ATTEMPTS - 1:
                raise
            time.sleep(0.005 * (attempt + 1) * (1 + random.random()))
    raise AssertionError("unreachable")
