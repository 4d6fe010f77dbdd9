"""Account routes: admins manage accounts; every user changes their own password.

Admins create, deactivate, reactivate and reset accounts.
Every write needs the session's CSRF token, is audited (:mod:`fracturelab.workstation.users`)
and ends the browser sessions that must end: all of a deactivated account or of one whose
password was reset, and the user's other sessions after a password change.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from fracturelab.errors import InputError
from fracturelab.workstation.models import ROLES, User
from fracturelab.workstation.server.deps import (
    Admin,
    AdminWriter,
    DbSession,
    Writer,
    client_address,
    write,
)
from fracturelab.workstation.users import (
    MIN_PASSWORD_LENGTH,
    WrongPasswordError,
    change_own_password,
    create_account,
    find_user,
    list_users,
    reset_password,
    session_counts,
    set_active,
)

__all__ = ["router"]

router = APIRouter(prefix="/api")

_PASSWORD = Field(min_length=1, max_length=1024)
#: Wrong current passwords allowed per user in :data:`_WRONG_WINDOW_S` before a 429.
MAX_WRONG_CURRENT = 5
_WRONG_WINDOW_S = 900.0


class _WrongCurrentPasswords:
    """Failed "current password" checks per user id in a sliding window (this process)."""

    def __init__(self) -> None:
        self._times: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after_s(self, user_id: int) -> int:
        now = time.monotonic()
        with self._lock:
            times = self._times.get(user_id)
            while times and times[0] <= now - _WRONG_WINDOW_S:
                times.popleft()
            if not times or len(times) < MAX_WRONG_CURRENT:
                return 0
            return int(times[0] + _WRONG_WINDOW_S - now) + 1

    def failed(self, user_id: int) -> None:
        with self._lock:
            self._times.setdefault(user_id, deque()).append(time.monotonic())


def _wrong_current(request: Request) -> _WrongCurrentPasswords:
    state = request.app.state
    with _STATE_LOCK:
        if not hasattr(state, "wrong_current_passwords"):
            state.wrong_current_passwords = _WrongCurrentPasswords()
        counter: _WrongCurrentPasswords = state.wrong_current_passwords
    return counter


_STATE_LOCK = threading.Lock()


class AccountIn(BaseModel):
    """Body of ``POST /api/admin/accounts``."""

    username: str = Field(min_length=1, max_length=64)
    role: str = Field(default="reader", max_length=32)
    password: str | None = Field(default=None, min_length=1, max_length=1024)


class ActiveIn(BaseModel):
    """Body of ``POST /api/admin/accounts/active``."""

    username: str = Field(min_length=1, max_length=64)
    active: bool


class ResetIn(BaseModel):
    """Body of ``POST /api/admin/accounts/password``."""

    username: str = Field(min_length=1, max_length=64)
    password: str | None = Field(default=None, min_length=1, max_length=1024)


class PasswordChangeIn(BaseModel):
    """Body of ``POST /api/account/password``."""

    current_password: str = _PASSWORD
    new_password: str = _PASSWORD


def _account(user: User, sessions: int) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "active": user.active,
        "created_at": user.created_at.isoformat(),
        "sessions": sessions,
    }


def _find(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise HTTPException(404, f"no user {username!r}; see GET /api/admin/accounts")
    return user


@router.get("/admin/accounts")
def accounts(auth: Admin, session: DbSession) -> dict[str, Any]:
    """Every account with its role, state and number of browser sessions; the password rule."""
    counts = session_counts(session)
    return {
        "accounts": [_account(user, counts.get(user.id, 0)) for user in list_users(session)],
        "roles": list(ROLES),
        "min_password_length": MIN_PASSWORD_LENGTH,
    }


@router.post("/admin/accounts", status_code=201)
def post_account(
    body: AccountIn, request: Request, auth: AdminWriter, session: DbSession
) -> dict[str, Any]:
    """Create an account; a password left out is generated and returned once."""

    def work() -> tuple[User, str | None]:
        return create_account(
            session, body.username, body.role, body.password,
            by=auth.user, client=client_address(request),
        )  # fmt: skip

    try:
        user, generated = write(session, work)
    except InputError as error:
        raise HTTPException(422, str(error)) from None
    return {**_account(user, 0), "password": generated}


@router.post("/admin/accounts/active")
def post_active(
    body: ActiveIn, request: Request, auth: AdminWriter, session: DbSession
) -> dict[str, Any]:
    """Deactivate (ending every session of the account) or reactivate an account."""

    def work() -> int:
        return set_active(
            session, _find(session, body.username), body.active,
            by=auth.user, client=client_address(request),
        )  # fmt: skip

    try:
        ended = write(session, work)
    except InputError as error:
        raise HTTPException(422, str(error)) from None
    return {"username": body.username, "active": body.active, "sessions_ended": ended}


@router.post("/admin/accounts/password")
def post_reset(
    body: ResetIn, request: Request, auth: AdminWriter, session: DbSession
) -> dict[str, Any]:
    """Reset a user's password (generated when left out, returned once); ends their sessions."""

    def work() -> tuple[str | None, int]:
        return reset_password(
            session, _find(session, body.username), body.password,
            by=auth.user, client=client_address(request),
        )  # fmt: skip

    try:
        generated, ended = write(session, work)
    except InputError as error:
        raise HTTPException(422, str(error)) from None
    return {"username": body.username, "password": generated, "sessions_ended": ended}


@router.post("/account/password")
def post_own_password(
    body: PasswordChangeIn, request: Request, auth: Writer, session: DbSession
) -> dict[str, Any]:
    """Change the logged-in user's password; their other browser sessions end.

    After :data:`MAX_WRONG_CURRENT` wrong current passwords in 15 minutes the user must wait
    (429), so that a stolen session cannot be used to guess the password.
    """
    wrong = _wrong_current(request)
    wait_s = wrong.retry_after_s(auth.user.id)
    if wait_s:
        raise HTTPException(
            429,
            f"too many wrong current passwords; try again in {wait_s} s",
            headers={"Retry-After": str(wait_s)},
        )

    def work() -> int:
        return change_own_password(
            session, auth.user, body.current_password, body.new_password,
            keep_session=auth.web_session.token_hash, client=client_address(request),
        )  # fmt: skip

    try:
        ended = write(session, work)
    except WrongPasswordError as error:
        wrong.failed(auth.user.id)
        raise HTTPException(422, str(error)) from None
    except InputError as error:
        raise HTTPException(422, str(error)) from None
    return {"username": auth.user.username, "sessions_ended": ended}
